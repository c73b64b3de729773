/**
 * `trl fs cat|ls|grep|edit|put|get` through the compiled CLI against a real
 * daemon (host tier): the session by name, whole files in and out byte for
 * byte, line ranges, an edit that must be unique, and a path outside the
 * workspace refused with the files API's code.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTempDir } from './helpers/daemon.js';
import { useDaemon } from './helpers/fixture.js';
import { runCli, type CliResult } from './helpers/secrets.js';

describe('trl fs (host tier)', () => {
  const { d, c } = useDaemon();
  let work: string;
  let local: string;
  const cli = (...args: string[]): Promise<CliResult> => runCli([...args, '--socket', d.socketPath]);
  const ok = (r: CliResult, what: string): string => {
    assert.equal(r.code, 0, `${what}: exit ${String(r.code)}\n${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    work = makeTempDir('/tmp/trl-cli-fs-');
    local = makeTempDir('/tmp/trl-cli-fs-local-');
    await c.call('session.create', { name: 'files-cli', working_dir: work });
  });
  after(() => {
    for (const dir of [work, local]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('put and get move a whole binary file byte for byte; cat shows a line range', async () => {
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 256));
    fs.writeFileSync(path.join(local, 'blob.bin'), bytes);
    ok(await cli('fs', 'put', '-s', 'files-cli', path.join(local, 'blob.bin'), 'sub/blob.bin', '--parents'), 'put');
    assert.ok(fs.readFileSync(path.join(work, 'sub/blob.bin')).equals(bytes), 'the workspace file differs from what was put');
    ok(await cli('fs', 'get', '-s', 'files-cli', 'sub/blob.bin', path.join(local, 'back.bin')), 'get');
    assert.ok(fs.readFileSync(path.join(local, 'back.bin')).equals(bytes), 'get did not bring back the same bytes');
    const again = await cli('fs', 'put', '-s', 'files-cli', path.join(local, 'blob.bin'), 'sub/blob.bin');
    assert.notEqual(again.code, 0, 'put over an existing file without --overwrite succeeded');
    assert.match(again.stderr, /PATH_EXISTS|exists/);

    fs.writeFileSync(path.join(work, 'lines.txt'), Array.from({ length: 10 }, (_, i) => `line ${i + 1}`).join('\n') + '\n');
    const shown = ok(await cli('fs', 'cat', '-s', 'files-cli', 'lines.txt', '--lines', '3:4'), 'cat');
    assert.match(shown, /line 3/);
    assert.match(shown, /line 4/);
    assert.doesNotMatch(shown, /line 5|line 2\b/);
  });

  it('ls and grep find what is there; edit refuses a non-unique match and then replaces a unique one', async () => {
    fs.writeFileSync(path.join(work, 'a.ts'), 'let x = 1;\nlet y = 1;\n// TODO: one\n');
    const listed = ok(await cli('fs', 'ls', '-s', 'files-cli', '--json'), 'ls');
    const names = JSON.parse(listed).entries.map((e: { path?: string; name?: string }) => e.name ?? e.path);
    assert.ok(
      names.some((n: string) => n.endsWith('a.ts')),
      `a.ts not listed: ${listed}`,
    );
    const found = ok(await cli('fs', 'grep', '-s', 'files-cli', 'TODO', '--glob', '*.ts'), 'grep');
    assert.match(found, /a\.ts.*3.*TODO: one/);

    const twice = await cli('fs', 'edit', '-s', 'files-cli', 'a.ts', '--old', '= 1', '--new', '= 2');
    assert.notEqual(twice.code, 0, 'an edit of a text found twice succeeded');
    assert.match(twice.stderr, /2/, `the refusal does not name the count: ${twice.stderr}`);
    assert.equal(fs.readFileSync(path.join(work, 'a.ts'), 'utf8'), 'let x = 1;\nlet y = 1;\n// TODO: one\n', 'a refused edit changed the file');
    ok(await cli('fs', 'edit', '-s', 'files-cli', 'a.ts', '--old', 'let x = 1', '--new', 'const x = 1'), 'edit');
    assert.equal(fs.readFileSync(path.join(work, 'a.ts'), 'utf8'), 'const x = 1;\nlet y = 1;\n// TODO: one\n');
  });

  it('a path outside the workspace is refused with PATH_OUTSIDE_WORKSPACE', async () => {
    const r = await cli('fs', 'cat', '-s', 'files-cli', '../../etc/passwd');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /PATH_OUTSIDE_WORKSPACE/);
    assert.equal(r.stdout, '');
  });
});
