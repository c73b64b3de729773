/**
 * The file reads under fs.read and fs.grep (jail-ops.ts readUpTo,
 * jail-walk-source.ts), on real files: a buffer sized by what the file is
 * expected to hold still returns every byte of a file that is larger or has
 * grown, never more than asked; a walk over many directories reads each file
 * of each directory and closes what it held.
 */
import assert from 'node:assert/strict';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Jail } from '../../src/tiers/shared/files/fd-jail.js';
import { readUpTo } from '../../src/tiers/shared/files/jail-ops.js';
import { JailWalkSource } from '../../src/tiers/shared/files/jail-walk-source.js';
import { runWalk } from '../../src/tiers/shared/files/walk-engine.js';
import type { WalkQuery } from '../../src/tiers/tier-files.js';

const dir = mkdtempSync(join(tmpdir(), 'trl-files-read-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function withFile(name: string, content: Buffer, use: (fd: number) => void): void {
  const path = join(dir, name);
  writeFileSync(path, content);
  const fd = openSync(path, 'r');
  try {
    use(fd);
  } finally {
    closeSync(fd);
  }
}

const pattern = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => i % 251));

describe('readUpTo', () => {
  it('returns the whole file when it holds more than expected (the buffer grows)', () => {
    const content = pattern(300_000);
    withFile('big', content, (fd) => {
      assert.deepEqual(readUpTo(fd, 0, 1_000_000, 10), content);
      assert.deepEqual(readUpTo(fd, 0, 1_000_000, 0), content);
    });
  });

  it('never returns more than asked, whatever was expected', () => {
    const content = pattern(5000);
    withFile('bound', content, (fd) => {
      assert.deepEqual(readUpTo(fd, 0, 1001, 5000), content.subarray(0, 1001));
      assert.deepEqual(readUpTo(fd, 100, 50, 1_000_000), content.subarray(100, 150));
    });
  });

  it('reads from a position, an empty file, and past the end', () => {
    const content = pattern(70_000);
    withFile('pos', content, (fd) => {
      assert.deepEqual(readUpTo(fd, 65_000, 1_000_000), content.subarray(65_000));
      assert.equal(readUpTo(fd, 80_000, 10).length, 0);
    });
    withFile('empty', Buffer.alloc(0), (fd) => assert.equal(readUpTo(fd, 0, 100, 0).length, 0));
  });
});

describe('a grep walk over many directories', () => {
  it('reads every file of every directory, and holds no descriptor once closed', async () => {
    const root = join(dir, 'ws');
    let needles = 0;
    for (let d = 0; d < 3; d++) {
      mkdirSync(join(root, `d${d}`), { recursive: true });
      // more files than one resolution of a directory serves
      for (let f = 0; f < 300; f++) {
        const hit = (d * 300 + f) % 7 === 0;
        if (hit) needles++;
        writeFileSync(join(root, `d${d}`, `f${f}`), `line one\n${hit ? 'a needle here' : 'nothing'}\n`);
      }
    }
    const fdsBefore = readdirSync('/proc/self/fd').length;
    const rootFd = openSync(root, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      const source = new JailWalkSource(new Jail(rootFd, [root]));
      const query: WalkQuery = {
        kind: 'grep',
        start: [],
        offset: 0,
        limit: 10_000,
        timeMs: 600_000,
        maxEntries: 1_000_000,
        maxFileBytes: 1024 * 1024,
        noIgnore: false,
        glob: null,
        regex: { source: 'needle', flags: '' },
        recursive: true,
        maxDepth: null,
        searchType: 'any',
      };
      const r = await runWalk(query, source);
      source.close();
      assert.equal(r.filesSearched, 900);
      assert.equal(r.hits.length, needles);
      assert.ok(r.hits.every((h) => h.line === 2 && h.text === 'a needle here'));
    } finally {
      closeSync(rootFd);
    }
    assert.equal(readdirSync('/proc/self/fd').length, fdsBefore, 'a descriptor was left open');
  });
});
