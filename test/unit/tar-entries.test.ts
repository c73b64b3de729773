/**
 * tarFiles (tiers/docker/tar-entries.ts) on archives written by the real
 * `tar`: regular files by name, and a hard link to a file earlier in the
 * archive as that file's content under its own name (fs.grep on the docker
 * tier read hard-linked files as missing).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { tarFiles } from '../../src/tiers/docker/tar-entries.js';

const dir = mkdtempSync(join(tmpdir(), 'trl-tar-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('tarFiles', () => {
  it('reads regular files, hard links as their target, and skips what is not a file', () => {
    writeFileSync(join(dir, 'a'), 'alpha needle\n');
    writeFileSync(join(dir, 'big'), Buffer.alloc(1500, 0x62));
    linkSync(join(dir, 'a'), join(dir, 'a2'));
    symlinkSync('a', join(dir, 'sym'));
    const tar = execFileSync('tar', ['-C', dir, '-cf', '-', 'a', 'big', 'a2', 'sym']);
    const files = tarFiles(tar);
    assert.deepEqual([...files.keys()].sort(), ['a', 'a2', 'big']);
    assert.equal(files.get('a')!.toString(), 'alpha needle\n');
    assert.equal(files.get('a2')!.toString(), 'alpha needle\n');
    assert.deepEqual(files.get('big'), Buffer.alloc(1500, 0x62));
  });
});
