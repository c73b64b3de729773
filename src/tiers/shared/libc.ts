import { createRequire } from 'node:module';
import { constants } from 'node:os';

export interface Libc {
  koffi: typeof import('koffi');
  /** glibc, loaded once for the whole process (process hardening, posix_spawn, malloc_trim, scheduling). */
  lib: ReturnType<typeof import('koffi').load>;
}

let loaded: Libc | undefined;

const nodeRequire = createRequire(import.meta.url);
/** koffi's builds for glibc Linux on the architectures its package names as Node does. */
const NATIVE_ARCHES = new Set(['x64', 'arm64']);

/**
 * koffi's native module itself. koffi's index.js also loads its installer
 * (node:https, node:zlib, node:tls: about 3 MB of an idle daemon's RSS) only
 * to find this file and add deprecated aliases trl does not call. Elsewhere,
 * or if the file is not the version of the package, koffi's own entry.
 */
function loadKoffi(): typeof import('koffi') {
  if (process.platform === 'linux' && NATIVE_ARCHES.has(process.arch)) {
    try {
      const native = nodeRequire(`koffi/build/koffi/linux_${process.arch}/koffi.node`) as typeof import('koffi') & { version?: string };
      if (native.version === (nodeRequire('koffi/package.json') as { version: string }).version) return native;
    } catch {
      /* another layout (a musl build, a repackaged koffi): its entry below finds the file */
    }
  }
  return nodeRequire('koffi') as typeof import('koffi');
}

/** koffi and the C library, loaded at the first call; throws where they cannot be (no koffi, not glibc). */
export function libc(): Libc {
  if (loaded) return loaded;
  const koffi = loadKoffi();
  loaded = { koffi, lib: koffi.load('libc.so.6') };
  return loaded;
}

const errnoNames = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** The name of an errno that a libc call left (koffi.errno()): ENOENT; undefined for a number this platform does not name. */
export function errnoName(errno: number): string | undefined {
  return errnoNames.get(errno);
}

/**
 * `load`'s result, made at the first call and kept: null where it throws or
 * this is not Linux (the callers then do without: Node's spawn, no descriptor
 * passing).
 */
export function linuxOnce<T>(load: () => T): () => T | null {
  let loaded: T | null | undefined;
  return () => {
    if (loaded === undefined) {
      try {
        loaded = process.platform === 'linux' ? load() : null;
      } catch {
        loaded = null;
      }
    }
    return loaded;
  };
}
