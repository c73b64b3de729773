/**
 * The Python client (clients/python) as a user gets it: `pip install` of the
 * directory into a fresh venv, offline (setuptools and wheel as Debian ships
 * them), then its own unittest suite — the shared behaviour cases
 * (test/cases/client-cases.json) and its own tests — run with the installed
 * package against a real daemon, over the Unix socket and over HTTP with a
 * token (and HTTPS with a certificate of its own). A machine without python3 and its venv module skips with the reason,
 * except under TRL_REQUIRE_TIERS=1 (CI), where that is a failure.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ERROR_CODES } from '../src/protocol/errors.js';
import { makeTempDir, REPO_ROOT } from './helpers/daemon.js';
import { useHttpDaemon } from './helpers/fixture.js';
import { selfSignedCert, startHttpDaemon, type HttpDaemon } from './helpers/http.js';

const CLIENT_DIR = path.join(REPO_ROOT, 'clients', 'python');
const CASES = path.join(REPO_ROOT, 'test', 'cases', 'client-cases.json');
const INSTALL_HINT = 'apt-get install -y python3 python3-venv python3-setuptools python3-wheel';
/** Kills a hung run so that its output can be shown; the suite's own waits have deadlines well inside it. */
const RUN_KILL_MS = 20 * 60_000;

/**
 * The interpreter to test with: Debian's own (/usr/bin/python3, with setuptools and wheel from its
 * packages, what CI has) when there, else python3 from PATH. Null and the reason when it cannot make
 * a venv that builds the package offline.
 */
function findPython(): { python: string | null; missing: string | null } {
  for (const python of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(python, ['-c', 'import venv, ensurepip, setuptools, wheel'], { encoding: 'utf8' });
    if (r.status === 0) return { python, missing: null };
  }
  return { python: null, missing: `no python3 with venv, ensurepip, setuptools and wheel: ${INSTALL_HINT}` };
}

interface Ran {
  code: number | null;
  output: string;
}

/** Run to the end without blocking the event loop (the daemon's log pipes must keep draining meanwhile). */
function run(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const p = spawn(file, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const t = setTimeout(() => p.kill('SIGKILL'), RUN_KILL_MS);
    p.once('error', reject);
    p.once('close', (code) => {
      clearTimeout(t);
      resolve({ code, output });
    });
  });
}

describe('the Python client, installed with pip, against a real daemon', () => {
  const { python, missing } = findPython();
  let tmp: string;
  let work: string;
  let venvPython: string;
  let copy: string;
  const h = useHttpDaemon({ flags: ['--kill-grace-s', '1'] });
  /** A second daemon serving HTTPS with a certificate made here, for the client's TLS settings. */
  let tls: HttpDaemon | undefined;
  let cafile: string;

  before(async () => {
    if (!python) return;
    tmp = makeTempDir('/tmp/trl-pysdk-');
    work = fs.realpathSync(makeTempDir('/tmp/trl-pysdk-work-'));
    // A copy, so that the build's leftovers (build/, *.egg-info) never land in the checkout.
    copy = path.join(tmp, 'trl-client');
    fs.cpSync(CLIENT_DIR, copy, { recursive: true, filter: (src) => !/(__pycache__|\.egg-info|[/\\]build)$/.test(src) });
    const venv = path.join(tmp, 'venv');
    // --system-site-packages: the build uses setuptools and wheel from the system, so nothing is downloaded.
    // The venv's pip: the interpreter's own when it has one (seen through --system-site-packages, it installs
    // into the venv all the same), else a copy from ensurepip, which takes seconds.
    const hasPip = spawnSync(python, ['-c', 'import pip'], { stdio: 'ignore' }).status === 0;
    const cert = selfSignedCert(tmp);
    cafile = cert.cert;
    const [made, started] = await Promise.all([
      run(python, ['-m', 'venv', '--system-site-packages', ...(hasPip ? ['--without-pip'] : []), venv]),
      startHttpDaemon({ flags: ['--tls-cert', cert.cert, '--tls-key', cert.key] }),
    ]);
    tls = started;
    assert.equal(made.code, 0, `python3 -m venv failed (${INSTALL_HINT}):\n${made.output}`);
    venvPython = path.join(venv, 'bin', 'python');
  });
  after(async () => {
    await tls?.d.shutdownClean();
    for (const dir of [tmp, work]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  function skipped(t: { skip(reason: string): void }): boolean {
    if (!missing) return false;
    if (process.env.TRL_REQUIRE_TIERS === '1') throw new Error(`TRL_REQUIRE_TIERS=1 but ${missing}`);
    console.log(`# skipping the Python client: ${missing}`);
    t.skip(missing);
    return true;
  }

  it('installs with pip install --no-build-isolation, offline, with its type information', async (t) => {
    if (skipped(t)) return;
    const env = { ...process.env, PIP_NO_INDEX: '1', PIP_DISABLE_PIP_VERSION_CHECK: '1', PYTHONDONTWRITEBYTECODE: '1' };
    const installed = await run(venvPython, ['-m', 'pip', 'install', '--no-build-isolation', '--no-deps', copy], { env, cwd: tmp });
    assert.equal(installed.code, 0, `pip install of clients/python failed:\n${installed.output}`);
    const where = await run(venvPython, ['-c', 'import os, trl_client; d = os.path.dirname(trl_client.__file__); print(d); print(os.path.exists(os.path.join(d, "py.typed")))'], {
      env,
      cwd: tmp,
    });
    assert.equal(where.code, 0, where.output);
    const [dir, typed] = where.output.trim().split('\n');
    assert.ok(dir?.startsWith(path.join(tmp, 'venv')), `trl_client was imported from ${dir}, not from the venv it was installed into`);
    assert.equal(typed, 'True', 'py.typed is not installed with the package');
  });

  it('passes its unittest suite (the shared cases and its own tests) over the Unix socket and over HTTP', async (t) => {
    if (skipped(t)) return;
    const env = {
      ...process.env,
      PYTHONDONTWRITEBYTECODE: '1',
      TRL_TEST_SOCKET: h.d.socketPath,
      TRL_TEST_URL: h.url,
      TRL_TEST_TOKEN: h.token,
      TRL_TEST_CASES: CASES,
      TRL_TEST_ERROR_CODES: JSON.stringify(ERROR_CODES),
      TRL_TEST_WORK_DIR: work,
      TRL_TEST_HTTPS_URL: tls!.url,
      TRL_TEST_HTTPS_TOKEN: tls!.token,
      TRL_TEST_CAFILE: cafile,
    };
    const tests = path.join(copy, 'tests');
    // From a directory outside the copy: `trl_client` can only come from the venv.
    const r = await run(venvPython, ['-m', 'unittest', 'discover', '-v', '-s', tests, '-t', tests], { env, cwd: tmp });
    assert.equal(r.code, 0, `the Python client's tests failed:\n${r.output}\n--- daemon log tail:\n${h.d.stderr().slice(-3000)}`);
    assert.match(r.output, /\nOK\b/, r.output);
    // Every transport was configured, so nothing may skip; and the cases ran over both.
    assert.doesNotMatch(r.output, /skipped/, `tests were skipped:\n${r.output}`);
    const cases = (JSON.parse(fs.readFileSync(CASES, 'utf8')) as { cases: unknown[] }).cases.length;
    for (const transport of ['socket', 'http']) {
      const ran = r.output.split('\n').filter((l) => l.includes(`(test_cases.Cases_${transport}`) && l.endsWith(' ok')).length;
      assert.equal(ran, cases, `${ran} of the ${cases} shared cases passed over ${transport}:\n${r.output}`);
    }
  });
});
