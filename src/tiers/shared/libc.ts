import { createRequire } from 'node:module';

export interface Libc {
  koffi: typeof import('koffi');
  /** glibc, loaded once for the whole process (process hardening, posix_spawn, malloc_trim, scheduling). */
  lib: ReturnType<typeof import('koffi').load>;
}

let loaded: Libc | undefined;

/** koffi and the C library, loaded at the first call; throws where they cannot be (no koffi, not glibc). */
export function libc(): Libc {
  if (loaded) return loaded;
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  loaded = { koffi, lib: koffi.load('libc.so.6') };
  return loaded;
}
