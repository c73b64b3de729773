/**
 * The CLI loads only the module of the command it runs (issue 12, item 17):
 * the table in src/cli/program.ts must name every command each module
 * registers, `--help` must still list them all, and `trl ping` must not load
 * the schema library or the configuration.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COMMAND_MODULES, createProgram, modulesFor } from '../../src/cli/program.js';
import { PROTOCOL_VERSION } from '../../src/protocol/version.js';

const MAIN_JS = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const argv = (...words: string[]) => ['node', 'trl', ...words];
const names = (p: { commands: readonly { name(): string }[] }) => p.commands.map((c) => c.name());

describe('trl registers only the command it runs', () => {
  it('each module registers exactly the commands the table lists for it', async () => {
    for (const module of COMMAND_MODULES) {
      for (const name of module.names) {
        assert.deepEqual(names(await createProgram(argv(name))), module.names, `trl ${name}`);
      }
    }
  });

  it('--help, a bare trl and an unknown name register every command, in table order', async () => {
    const all = COMMAND_MODULES.flatMap((m) => m.names);
    for (const words of [['--help'], [], ['no-such-command'], ['help']]) {
      assert.deepEqual(names(await createProgram(argv(...words))), all, `trl ${words.join(' ')}`);
    }
  });

  it('trl help <command> loads that command', () => {
    assert.deepEqual(
      modulesFor(argv('help', 'exec')).flatMap((m) => m.names),
      ['exec'],
    );
    assert.deepEqual(
      modulesFor(argv('help', 'stats')).flatMap((m) => m.names),
      ['ping', 'stats', 'info'],
    );
  });

  it('trl --version loads no command and prints the version', () => {
    for (const flag of ['--version', '-V']) {
      assert.deepEqual(modulesFor(argv(flag)), [], `trl ${flag}`);
      const r = spawnSync(process.execPath, [MAIN_JS, flag], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `${PROTOCOL_VERSION}\n`);
    }
    // Anything after it is a command line like any other.
    assert.deepEqual(modulesFor(argv('--version', 'exec')), COMMAND_MODULES);
  });

  it('trl --help lists every command; trl help exec shows exec', () => {
    const help = spawnSync(process.execPath, [MAIN_JS, '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    for (const name of COMMAND_MODULES.flatMap((m) => m.names)) assert.match(help.stdout, new RegExp(`^  ${name}\\b`, 'm'), name);
    const exec = spawnSync(process.execPath, [MAIN_JS, 'help', 'exec'], { encoding: 'utf8' });
    assert.equal(exec.status, 0, exec.stderr);
    assert.match(exec.stdout, /^Usage: trl exec/m);
  });

  it('trl ping loads neither zod nor the configuration nor another command', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trl-cli-load-'));
    try {
      // A module-loading hook that writes down every module the CLI loads.
      const log = path.join(dir, 'loaded.txt');
      const hooks = path.join(dir, 'hooks.mjs');
      fs.writeFileSync(
        hooks,
        `import { appendFileSync } from 'node:fs';\nexport async function load(url, ctx, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, ctx); }\n`,
      );
      const register = path.join(dir, 'register.mjs');
      fs.writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify('file://' + hooks)});\n`);
      const r = spawnSync(process.execPath, ['--import', register, MAIN_JS, 'ping', '--socket', path.join(dir, 'none.sock')], { encoding: 'utf8' });
      assert.equal(r.status, 1, 'no daemon: status 1');
      assert.match(r.stderr, /no trl daemon listens on/);
      const loaded = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
      assert.ok(
        loaded.some((u) => u.endsWith('/cli/system-commands.js')),
        `the ping module is loaded:\n${loaded.join('\n')}`,
      );
      const unwanted = loaded.filter((u) => /\/node_modules\/zod\/|\/src\/config\/|\/src\/server\/|-command\.js$|\/session-commands\.js$/.test(u));
      assert.deepEqual(unwanted, [], 'modules a ping does not need');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
