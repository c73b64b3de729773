import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrlClient } from '../../src/client/client.js';
import { compareRoundTrips } from '../lib/interleave.js';
import { makeRow } from '../lib/row.js';
import { summarize } from '../lib/stats.js';
import type { MetricContext, MetricResult } from './metric.js';

const MIB = 1024 * 1024;
const TREE_DIRS = 100;
const TREE_FILES_PER_DIR = 100;
/** Lines per file of the grep tree; one file in ten holds the needle once. */
const LINES = 20;

/** A program's whole stdout, read through a pipe as a client would; rejects unless it exits 0 (or 1: grep found nothing). */
function readOutput(file: string, args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let bytes = 0;
    child.stdout.on('data', (d: Buffer) => (bytes += d.length));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(bytes) : reject(new Error(`${file} ${args.join(' ')} exited ${code}`))));
  });
}

/** The files of both rows, on tmpfs when there is one (the figures are then CPU, not a shared disk). */
function makeFiles(): { root: string; big: string; tree: string; needles: number } {
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const root = mkdtempSync(join(base, 'trl-bench-files-'));
  const line = `${'lorem ipsum dolor sit amet '.repeat(3)}\n`;
  const big = join(root, 'big.txt');
  writeFileSync(big, line.repeat(Math.ceil(MIB / line.length)).slice(0, MIB));
  const tree = join(root, 'tree');
  let needles = 0;
  for (let d = 0; d < TREE_DIRS; d++) {
    const dir = join(tree, `d${d}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < TREE_FILES_PER_DIR; f++) {
      const lines = Array.from({ length: LINES }, (_, i) => `${d}/${f} line ${i} ${line.slice(0, 40)}`);
      if (f % 10 === 0) {
        lines[LINES / 2] = `${lines[LINES / 2]} needle`;
        needles++;
      }
      writeFileSync(join(dir, `f${f}.txt`), `${lines.join('\n')}\n`);
    }
  }
  return { root, big, tree, needles };
}

/**
 * Issue 13's files rows: fs.read of a 1 MiB file against `cat` of it, and
 * fs.grep over a 10,000-file tree against `grep -rn`, the same files in the
 * same run (host tier, interleaved samples). The trl side includes the JSON
 * round trip to a client; the baseline includes spawning the program.
 */
export async function measureFiles(ctx: MetricContext): Promise<MetricResult> {
  const { quick } = ctx.options;
  const files = makeFiles();
  const client = await TrlClient.connect({ socketPath: ctx.socketPath });
  try {
    const { session_id } = await client.call('session.create', { workspace: files.root });
    const readN = quick ? 20 : 100;
    const read = await compareRoundTrips(
      { n: readN, warmup: quick ? 2 : 10, blockSize: 10 },
      async () => {
        // A byte range: the whole file (a read by lines stops at 2,000 lines by default).
        const r = await client.call('fs.read', { session_id, path: 'big.txt', offset: 0, length: MIB });
        if (r.content.length !== MIB || r.truncated) throw new Error(`fs.read returned ${r.content.length} characters (truncated ${r.truncated}), expected ${MIB}`);
      },
      async () => {
        const n = await readOutput('cat', [files.big]);
        if (n !== MIB) throw new Error(`cat printed ${n} bytes, expected ${MIB}`);
      },
    );
    const grepN = quick ? 3 : 15;
    const grep = await compareRoundTrips(
      { n: grepN, warmup: 1, blockSize: quick ? 1 : 3 },
      async () => {
        const r = await client.call('fs.grep', { session_id, path: 'tree', pattern: 'needle', limit: 1000 });
        if (r.total !== files.needles || r.timed_out) throw new Error(`fs.grep found ${r.total} (timed out ${r.timed_out}), expected ${files.needles}`);
      },
      async () => {
        const n = await readOutput('grep', ['-rn', 'needle', files.tree]);
        if (n === 0) throw new Error('grep -rn found nothing');
      },
    );
    await client.call('session.destroy', { session_id });
    const r = { trl: summarize(read.trl), baseline: summarize(read.baseline) };
    const g = { trl: summarize(grep.trl), baseline: summarize(grep.baseline) };
    return {
      rows: [
        makeRow('fs.read of 1 MiB p50 (vs `cat`)', 'ms', { kind: 'ratio-max', limit: 10 }, r.trl.p50, r.baseline.p50),
        makeRow(`fs.grep over ${TREE_DIRS * TREE_FILES_PER_DIR} files p50 (vs \`grep -rn\`)`, 'ms', { kind: 'ratio-max', limit: 10 }, g.trl.p50, g.baseline.p50),
      ],
      data: {
        unit: 'ms',
        dir: files.root,
        read: { bytes: MIB, samples: readN, ...r, ratio_p50: r.trl.p50 / r.baseline.p50 },
        grep: { files: TREE_DIRS * TREE_FILES_PER_DIR, matches: files.needles, samples: grepN, ...g, ratio_p50: g.trl.p50 / g.baseline.p50 },
      },
    };
  } finally {
    client.close();
    rmSync(files.root, { recursive: true, force: true });
  }
}
