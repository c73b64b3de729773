/**
 * The docker tier's seccomp profile against the real engine: it is accepted,
 * a container under it (no capabilities, no network, no new privileges,
 * nobody) runs ordinary commands with the filter in place, and a Unix socket
 * attempt fails with EPERM when Unix sockets are blocked, while the same
 * attempt reaches a real listening socket when they are not. Skips with the
 * reason when no engine or test image is here (fails under TRL_REQUIRE_TIERS=1).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { engineArch, type SeccompArch } from '../src/tiers/shared/seccomp/arch.js';
import { dockerSeccompProfile } from '../src/tiers/shared/seccomp/docker-profile.js';
import { dockerSkip, TEST_IMAGE } from './helpers/docker.js';
import { makeTempDir } from './helpers/daemon.js';
import { waitFor } from './helpers/wait.js';

const skip = dockerSkip('the docker seccomp profile');
const RUN_TIMEOUT_MS = 60_000;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Split `docker logs` of a container without a TTY: 8-byte headers (stream, 0, 0, 0, size BE) before each frame. */
function demux(buf: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  for (let i = 0; i + 8 <= buf.length;) {
    const size = buf.readUInt32BE(i + 4);
    (buf[i] === 2 ? err : out).push(buf.subarray(i + 8, i + 8 + size));
    i += 8 + size;
  }
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

describe('Docker seccomp profile on the real engine', { skip }, () => {
  const docker = new Docker();
  let arch: SeccompArch | null = null;
  let dir = '';

  before(async () => {
    const info = (await docker.info()) as { Architecture: string };
    arch = engineArch(info.Architecture);
    dir = fs.realpathSync(makeTempDir('/tmp/trl-seccomp-docker-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Run `cmd` to its end in a fresh container under the profile, the tier's way; the container is always removed. */
  async function runContained(cmd: string[], blockUnixSockets: boolean, mounts: Docker.MountSettings[] = []): Promise<Ran> {
    const json = dockerSeccompProfile({ arch: arch!, blockUnixSockets });
    const container = await docker.createContainer({
      name: `trl-seccomp-test-${randomBytes(4).toString('hex')}`,
      Image: TEST_IMAGE,
      Cmd: cmd,
      User: '65534:65534',
      HostConfig: {
        Init: true,
        NetworkMode: 'none',
        CapDrop: ['ALL'],
        SecurityOpt: [`seccomp=${json}`, 'no-new-privileges'],
        Mounts: mounts,
      },
    });
    try {
      await container.start();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the container did not finish within ${RUN_TIMEOUT_MS / 1000} s`)), RUN_TIMEOUT_MS);
      });
      const { StatusCode } = (await Promise.race([container.wait(), timeout]).finally(() => clearTimeout(timer))) as { StatusCode: number };
      const logs = (await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
      return { code: StatusCode, ...demux(logs) };
    } finally {
      await container.remove({ force: true }).catch(() => {});
    }
  }

  it('is accepted, and an ordinary shell runs under it with the filter in place', async (t) => {
    if (!arch) return t.skip('the engine runs on an architecture the profile is not built for');
    const r = await runContained(['sh', '-c', 'echo ok; ls /; cat /proc/self/status'], true);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ok\n/);
    assert.match(r.stdout, /^bin$/m, 'ls / listed the root');
    assert.match(r.stdout, /^Seccomp:\s+2$/m, 'a seccomp filter is in place');
    assert.match(r.stdout, /^NoNewPrivs:\s+1$/m);
    assert.match(r.stdout, /^CapEff:\s+0+$/m);
    assert.match(r.stdout, /^Uid:\s+65534\s/m);
  });

  it('refuses user namespaces in the container', async (t) => {
    if (!arch) return t.skip('the engine runs on an architecture the profile is not built for');
    const r = await runContained(['unshare', '-U', 'true'], false);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Operation not permitted/);
  });

  describe('Unix sockets', () => {
    let server: net.Server;
    let sockPath = '';
    /** What each accepted connection sent, in accept order. */
    const received: string[][] = [];
    before(async () => {
      sockPath = path.join(dir, 'log.sock');
      server = net.createServer((c) => {
        const chunks: string[] = [];
        received.push(chunks);
        c.on('data', (d) => chunks.push(d.toString('latin1')));
        c.on('error', () => {});
      });
      await new Promise<void>((resolve) => server.listen(sockPath, resolve));
      fs.chmodSync(sockPath, 0o666); // the container's nobody must be able to connect
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    // busybox logger calls syslog(3): socket(AF_UNIX) then connect to /dev/log, here the host's
    // listening socket; it says nothing when that fails. busybox syslogd opens an AF_UNIX socket
    // first thing and reports a failure.
    const mounts = (): Docker.MountSettings[] => [{ Type: 'bind', Source: sockPath, Target: '/dev/log', ReadOnly: false }];
    const seenAll = () => received.map((c) => c.join(''));

    it('refuses socket(AF_UNIX) with EPERM when blocking: the host socket is not reached', async (t) => {
      if (!arch) return t.skip('the engine runs on an architecture the profile is not built for');
      const tag = `blocked-${randomBytes(3).toString('hex')}`;
      const r = await runContained(['sh', '-c', `logger -t ${tag} probe; timeout -s KILL 20 syslogd -n -O -`], true, mounts());
      assert.match(r.stderr, /syslogd: socket: Operation not permitted/);
      assert.notEqual(r.code, 0);
      // Connections are accepted in order: once the sentinel is in, the logger's would be too.
      const sentinel = `sentinel-${randomBytes(3).toString('hex')}`;
      const c = net.createConnection(sockPath, () => c.end(sentinel));
      assert.ok(await waitFor(() => seenAll().some((s) => s.includes(sentinel))), 'the sentinel reached the server');
      assert.ok(!seenAll().some((s) => s.includes(tag)), `the container's logger reached the host socket: ${JSON.stringify(seenAll())}`);
    });

    it('connects to the same socket when Unix sockets are allowed', async (t) => {
      if (!arch) return t.skip('the engine runs on an architecture the profile is not built for');
      const tag = `open-${randomBytes(3).toString('hex')}`;
      const r = await runContained(['logger', '-t', tag, 'probe'], false, mounts());
      assert.equal(r.code, 0, r.stderr);
      assert.ok(await waitFor(() => seenAll().some((s) => s.includes(`${tag}: probe`))), `the host socket received the logger's message: ${JSON.stringify(seenAll())}`);
    });
  });
});
