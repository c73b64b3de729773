/**
 * docs/protocol.md's transport table comes from TRANSPORTS; this holds
 * TRANSPORTS to the command line, so it cannot call a transport built when it
 * is not (or planned when it is).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createProgram } from '../../src/cli/program.js';
import { TRANSPORTS } from '../../src/protocol/transport.js';

async function cli() {
  const program = await createProgram(['node', 'trl', 'help']);
  const serve = program.commands.find((c) => c.name() === 'serve');
  assert.ok(serve, 'trl has no serve command');
  return { commands: program.commands.map((c) => c.name()), serveFlags: serve.options.map((o) => o.long) };
}

it('the stdio transport is built exactly when `trl rpc` exists', async () => {
  const { commands } = await cli();
  const stdio = TRANSPORTS.find((t) => t.name === 'stdio');
  assert.ok(stdio);
  assert.equal(stdio.built, commands.includes('rpc'), `TRANSPORTS says stdio built: ${stdio.built}; trl commands: ${commands.join(' ')}`);
});

it('every flag a built transport is enabled by is a flag of trl serve', async () => {
  const { serveFlags } = await cli();
  const built = TRANSPORTS.filter((t) => t.built);
  assert.deepEqual(
    built.map((t) => t.name),
    ['Unix socket', 'HTTP', 'WebSocket', 'stdio'],
  );
  for (const t of built) {
    for (const flag of t.enabled.match(/--[a-z][a-z-]*/g) ?? []) assert.ok(serveFlags.includes(flag), `${t.name}: trl serve has no ${flag}`);
  }
  assert.ok(serveFlags.includes('--http'));
});
