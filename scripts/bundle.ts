/**
 * The build's last step: the CLI and the daemon as one bundle, dist/trl/trl.js,
 * split into chunks at the CLI's dynamic imports (a verb loads only its code).
 *
 * Why: every trl process used to load about 430 modules one by one (a `stat`,
 * an open, a read and a compile each), zod's 64 locales among them. Measured
 * on the 2-core VM of docs/benchmarks.md: a daemon's start to its first answer
 * and its stop took 1.14 s of CPU unbundled and 0.88 s bundled; its idle RSS
 * went from 67–70 MiB to 63 MiB. The SDK (`trl`, `trl/client`,
 * `trl/protocol`) stays the modules tsc compiles into dist/src, and so do the
 * files a separate process or thread runs (the files helper, the walk
 * worker): src/install-dir.ts finds them from either place.
 *
 * What is not bundled: native addons (koffi, node-pty: their binaries are
 * found beside their packages), dockerode (required lazily, with optional
 * native dependencies of its own) and ws's optional native helpers.
 *
 * Usage: node dist/scripts/bundle.js (run by `npm run build` after tsc);
 * TRL_BUNDLE_METAFILE=FILE also writes esbuild's metafile there.
 */
import { build, type Plugin } from 'esbuild';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from './doc-file.js';

const OUT_DIR = join(REPO_ROOT, 'dist', 'trl');

/**
 * zod's every entry point imports all of its locales (`export * as locales`),
 * and trl speaks English only: its locale index becomes English alone. Its
 * messages are not shown as they are anyway (the protocol's errors are trl's
 * own), and `z.config(z.locales.xx())` is used nowhere.
 */
const englishOnlyZod: Plugin = {
  name: 'zod-english-only',
  setup(b) {
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, (args) => ({
      contents: 'export { default as en } from "./en.js";\n',
      loader: 'js',
      resolveDir: join(args.path, '..'),
    }));
  },
};

async function main(): Promise<void> {
  await rm(OUT_DIR, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: { trl: 'dist/src/cli/main.js' },
    outdir: OUT_DIR,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    minify: true,
    // Readable stack traces on demand: node --enable-source-maps (the maps name dist/src's files).
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'none',
    external: ['koffi', '@lydell/node-pty', 'dockerode', 'bufferutil', 'utf-8-validate'],
    // The bundled CommonJS packages call require() for Node's modules: give every chunk one.
    banner: { js: "import { createRequire as __trlCreateRequire } from 'node:module'; const require = __trlCreateRequire(import.meta.url);" },
    plugins: [englishOnlyZod],
    logLevel: 'warning',
    metafile: true,
  });
  await chmod(join(OUT_DIR, 'trl.js'), 0o755);
  // What went into each chunk, for a look at what a process loads (esbuild's analyzer reads it).
  if (process.env.TRL_BUNDLE_METAFILE) await writeFile(process.env.TRL_BUNDLE_METAFILE, JSON.stringify(result.metafile));
  const outputs = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith('.js'));
  const bytes = outputs.reduce((sum, [, o]) => sum + o.bytes, 0);
  console.log(`bundle: dist/trl/trl.js and ${outputs.length - 1} chunks, ${(bytes / 1024).toFixed(0)} KiB`);
}

await main();
