/** The daemon's logs on a terminal (issue 12, item 18): pino's JSON lines, redacted already, made readable. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prettyLine } from '../../src/server/log-pretty.js';

const at = new Date(2026, 0, 2, 3, 4, 5, 67).getTime();

describe('prettyLine', () => {
  it('shows time, level and message, then the fields as key=value (without the pid)', () => {
    const line = JSON.stringify({ level: 30, time: at, pid: 42, msg: 'trl listening', socket: '/run/trl.sock', tiers: { host: 'available' }, http: null });
    assert.equal(prettyLine(line + '\n', false), '03:04:05.067 INFO  trl listening socket=/run/trl.sock tiers={"host":"available"} http=null\n');
  });

  it('keeps what redaction put in, and quotes values with spaces or control characters', () => {
    const line = JSON.stringify({ level: 40, time: at, msg: 'x\u001b[2Jy', env: '[REDACTED]', command: 'echo a b', weird: 'a\u001bb' });
    const out = prettyLine(line + '\n', false);
    assert.equal(out, '03:04:05.067 WARN  x\\x1b[2Jy env=[REDACTED] command="echo a b" weird="a\\u001bb"\n');
    assert.doesNotMatch(out, /\u001b/, 'nothing logged can drive the terminal');
  });

  it('prints an error with its stack indented below, and colours only when asked', () => {
    const line = JSON.stringify({ level: 50, time: at, msg: 'failed', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at f (x.js:1:1)' } });
    assert.equal(prettyLine(line, false), '03:04:05.067 ERROR failed err=boom\n    at f (x.js:1:1)\n');
    assert.match(prettyLine(line, true), /\u001b\[31mERROR/);
  });

  it('passes through what is not a JSON object', () => {
    assert.equal(prettyLine('not json\n', false), 'not json\n');
    assert.equal(prettyLine('"a string"\n', false), '"a string"\n');
  });
});
