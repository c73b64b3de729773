/** `trl session create --limit NAME=VALUE`: names, sizes with units, errors that say what is accepted. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collectLimit, parseSize } from '../../src/cli/limit-flags.js';

describe('--limit', () => {
  it('reads sizes in bytes or with K, M, G, T (powers of 1024), as docker does', () => {
    assert.equal(parseSize('1048576'), 1048576);
    assert.equal(parseSize('512M'), 512 * 1024 ** 2);
    assert.equal(parseSize('512m'), 512 * 1024 ** 2);
    assert.equal(parseSize('2GiB'), 2 * 1024 ** 3);
    assert.equal(parseSize('1.5g'), 1.5 * 1024 ** 3);
    assert.equal(parseSize('64kb'), 64 * 1024);
    assert.equal(parseSize('1T'), 1024 ** 4);
    for (const bad of ['', 'M', '-1M', '0', '12X', '1.5.2M', '0.1']) assert.throws(() => parseSize(bad), /expected a size such as 512M/, bad);
  });

  it('maps names to the protocol limits, the later value winning', () => {
    let l = collectLimit('memory=512M', undefined);
    l = collectLimit('pids=100', l);
    l = collectLimit('cpus=1.5', l);
    l = collectLimit('nofile=1024', l);
    l = collectLimit('cpu-s=30', l);
    l = collectLimit('output=1M', l);
    l = collectLimit('pids=200', l);
    assert.deepEqual(l, { memory_bytes: 512 * 1024 ** 2, pids: 200, cpu_percent: 150, nofile: 1024, cpu_s: 30, max_output_bytes: 1024 ** 2 });
    assert.deepEqual(collectLimit('memory_bytes=1024', undefined), { memory_bytes: 1024 });
    assert.deepEqual(collectLimit('cpu_percent=50', undefined), { cpu_percent: 50 });
  });

  it('refuses an unknown name (listing the known ones), a missing value and a bad number', () => {
    assert.throws(() => collectLimit('mem=1G', undefined), /unknown limit 'mem': use one of memory, .*pids/);
    assert.throws(() => collectLimit('memory', undefined), /expected memory=VALUE/);
    assert.throws(() => collectLimit('pids=1.5', undefined), /whole number >= 1/);
    assert.throws(() => collectLimit('pids=0', undefined), /whole number >= 1/);
    assert.throws(() => collectLimit('cpus=0', undefined), /number of CPUs > 0/);
  });
});
