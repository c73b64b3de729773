/**
 * Every example of docs/sdk.md runs: each ```ts block is written out as a
 * module importing the SDK by its package name, type-checked with the
 * repository's tsc, run against a real daemon (Unix socket and HTTP), and
 * what it prints must be the ```text block that follows it in the guide.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { before, describe, it } from 'node:test';
import { cleanEnv, makeTempDir, REPO_ROOT } from './helpers/daemon.js';
import { useHttpDaemon } from './helpers/fixture.js';

const run = promisify(execFile);
const GUIDE = path.join(REPO_ROOT, 'docs', 'sdk.md');

interface Example {
  line: number;
  section: string;
  code: string;
  expected: string | null;
}

/** The ```ts blocks of the guide, each with the ```text block right after it (null when there is none). */
function examplesOf(markdown: string): Example[] {
  const blocks: Array<{ lang: string; body: string; line: number; section: string }> = [];
  let section = '';
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const heading = /^#+ (.*)/.exec(lines[i]!);
    if (heading) section = heading[1]!;
    const open = /^```(\w*)$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i]!);
    blocks.push({ lang: open[1]!, body: body.join('\n') + '\n', line: start + 1, section });
  }
  return blocks.flatMap((b, k) => {
    if (b.lang !== 'ts') return [];
    const next = blocks[k + 1];
    return [{ line: b.line, section: b.section, code: b.body, expected: next?.lang === 'text' ? next.body : null }];
  });
}

const examples = examplesOf(fs.readFileSync(GUIDE, 'utf8'));
const fileOf = (ex: Example) => `example-${ex.line}`;

describe('docs/sdk.md: every example runs and prints what the guide says', () => {
  const h = useHttpDaemon();
  let dir: string;

  before(async () => {
    dir = makeTempDir('/tmp/trl-sdk-docs-');
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'sdk-docs', private: true, type: 'module' }));
    // The examples import 'trl' as a user's program does: this checkout stands in for the installed package.
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(REPO_ROOT, path.join(dir, 'node_modules', 'trl'), 'dir');
    for (const ex of examples) fs.writeFileSync(path.join(dir, `${fileOf(ex)}.ts`), ex.code);
    fs.writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: true,
          outDir: 'out',
          types: ['node'],
          typeRoots: [path.join(REPO_ROOT, 'node_modules', '@types')],
        },
        include: ['*.ts'],
      }),
    );
    const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript-native', 'bin', 'tsc');
    await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir }).catch((e: { stdout: string }) => {
      assert.fail(`the examples of docs/sdk.md do not type-check (example-N.ts is the block at line N):\n${e.stdout}`);
    });
  });

  it('the guide has its examples, each followed by the output it prints', () => {
    assert.ok(examples.length >= 10, `found ${examples.length} ts examples in docs/sdk.md`);
    for (const ex of examples) assert.notEqual(ex.expected, null, `docs/sdk.md:${ex.line} (${ex.section}): add a \`\`\`text block with what the example prints`);
  });

  for (const ex of examples) {
    it(`docs/sdk.md:${ex.line} (${ex.section})`, async () => {
      const env = cleanEnv({ TRL_SOCKET_PATH: h.d.socketPath, TRL_URL: h.url, TRL_AUTH_TOKEN: h.token });
      const { stdout } = await run(process.execPath, [path.join(dir, 'out', `${fileOf(ex)}.js`)], { cwd: dir, env }).catch((e: { stdout: string; stderr: string }) =>
        assert.fail(`docs/sdk.md:${ex.line} failed:\n${e.stderr}\nit printed:\n${e.stdout}`),
      );
      assert.equal(stdout, ex.expected);
    });
  }
});
