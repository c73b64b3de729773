/**
 * The package people install: `npm pack` of the repository, installed into an
 * empty project, gives `import { TrlClient } from 'trl'` with its types (a
 * TypeScript program that streams a command and reads its exit code is
 * type-checked with the repository's tsc and run against a real daemon),
 * `require('trl')` (Node's require of ES modules), the `trl` bin, and no
 * daemon dependency loaded by a client-only program. Packed once, installed once.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { before, describe, it } from 'node:test';
import { makeTempDir, REPO_ROOT } from './helpers/daemon.js';
import { useDaemon } from './helpers/fixture.js';
import { packagesLoadedBy, SERVER_PACKAGES } from './helpers/loaded-packages.js';

const run = promisify(execFile);
const TSC = path.join(REPO_ROOT, 'node_modules', 'typescript-native', 'bin', 'tsc');

const APP = `import { TrlClient, TrlErrors, type ExecEvent } from 'trl';

const client = await TrlClient.connect({ socketPath: process.argv[2] });
const stream = await client.execStream({ command: 'echo hello from the package; exit 7' });
let out = '';
for await (const ev of stream) {
  const e: ExecEvent = ev;
  if (e.event === 'stdout') out += e.data;
  else if (e.event === 'exit') console.log(JSON.stringify({ out, exit_code: e.data.exit_code }));
}
const err = await client.call('session.info', { session_id: 'none' }).catch((e: unknown) => e);
console.log(err instanceof TrlErrors.SESSION_NOT_FOUND ? 'typed error' : 'untyped error');
client.close();
`;

/** A type error the package's declarations must catch: the version is a string. */
const WRONG = `import { TrlClient } from 'trl/client';
const client = await TrlClient.connect();
const n: number = (await client.call('system.ping')).version;
console.log(n);
`;

describe('the packed SDK in a fresh project', () => {
  const { d } = useDaemon();
  let project: string;

  before(async () => {
    const dir = makeTempDir('/tmp/trl-pack-');
    // The build is there already (npm test builds first): packing skips `prepare` rather than rebuild under running tests.
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 });
    const tarball = path.join(dir, (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0]!.filename);
    project = path.join(dir, 'project');
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'sdk-user', private: true, type: 'module' }));
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: project, maxBuffer: 64 * 1024 * 1024 });
  });

  it('a TypeScript program importing trl type-checks with the package types, streams a command and reads its exit code', async () => {
    fs.writeFileSync(path.join(project, 'app.ts'), APP);
    fs.writeFileSync(path.join(project, 'wrong.ts'), WRONG);
    fs.writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: false,
          outDir: 'out',
          types: ['node'],
          typeRoots: [path.join(REPO_ROOT, 'node_modules', '@types')],
        },
        files: ['app.ts', 'wrong.ts'],
      }),
    );
    // wrong.ts must fail to compile (so the types are real, not any) and app.ts must not; both are still emitted.
    const tsc = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: project }).then(
      () => ({ code: 0, stdout: '' }),
      (e: { code: number; stdout: string }) => e,
    );
    const errors = tsc.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
    assert.equal(errors.length, 1, `expected one type error, in wrong.ts; tsc said:\n${tsc.stdout}`);
    assert.match(errors[0]!, /^wrong\.ts\(3,7\): error TS2322/);

    const { stdout } = await run(process.execPath, [path.join(project, 'out', 'app.js'), d.socketPath], { cwd: project });
    const [result, typed] = stdout.trim().split('\n');
    assert.deepEqual(JSON.parse(result!), { out: 'hello from the package\n', exit_code: 7 });
    assert.equal(typed, 'typed error');
  });

  it('CommonJS programs can require it', async () => {
    const { stdout } = await run(process.execPath, ['--input-type=commonjs', '-e', "const t = require('trl'); console.log(typeof t.TrlClient, typeof t.TrlHttpClient)"], { cwd: project });
    assert.equal(stdout.trim(), 'function function');
  });

  it('the trl bin of the installed package talks to the daemon', async () => {
    const { stdout } = await run(path.join(project, 'node_modules', '.bin', 'trl'), ['ping', '--socket', d.socketPath], { cwd: project });
    assert.match(stdout, /\S/);
  });

  it("a client-only program loads none of the daemon's dependencies (trl/client: no package at all)", () => {
    const root = packagesLoadedBy('trl', project);
    assert.ok(root.includes('trl') && root.includes('zod'), `the tracer saw: ${root.join(', ')}`);
    assert.deepEqual(
      root.filter((p) => SERVER_PACKAGES.includes(p)),
      [],
      `import 'trl' loaded ${root.join(', ')}`,
    );
    // trl itself is a package of this project: every other one counts.
    assert.deepEqual(
      packagesLoadedBy('trl/client', project).filter((p) => p !== 'trl'),
      [],
    );
  });
});
