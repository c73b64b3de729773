/**
 * The sandbox layout as data (docs/security.md, isolation tiers): what is read-only, what is hidden,
 * which namespaces are new, built against a fake host.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bwrapArgs, type HostProbe, type PathKind, type SandboxLayout } from '../../src/tiers/sandbox/bwrap-args.js';

function probe(entries: Record<string, PathKind | { link: string }>, real: Record<string, string> = {}): HostProbe {
  return {
    kind: (p) => {
      const e = entries[p];
      if (e === undefined) return null;
      return typeof e === 'object' && e !== null ? 'symlink' : e;
    },
    readlink: (p) => (entries[p] as { link: string }).link,
    realpath: (p) => real[p] ?? p,
  };
}

const base: SandboxLayout = {
  workspace: { path: '/work/proj', fd: null },
  guard: {
    mountPoints: [{ path: '/work/proj/.git', fd: 5 }],
    readOnly: [
      { path: '/work/proj/.git/hooks', fd: 6 },
      { path: '/work/proj/.bashrc', fd: null },
    ],
    ghosts: ['/work/proj/.envrc'],
  },
  emptyDir: '/run/trl/none',
  network: false,
  home: '/home/u',
  root: false,
  hide: [],
  infoFd: 3,
  tmpBytes: 1 << 20,
  emptyFile: '/run/trl/empty',
};
const host = probe({
  '/bin': { link: 'usr/bin' },
  '/lib': { link: 'usr/lib' },
  '/lib64': 'dir',
  '/opt': 'dir',
  '/etc/shadow': 'file',
  '/home/u': 'dir',
  '/home/u/.ssh': 'dir',
  '/home/u/.netrc': 'file',
  '/work/proj/.git/hooks': 'dir',
  '/work/proj/.bashrc': 'file',
});

/** Index of the pair `flag a b` (or `flag a`) in args, -1 if absent. */
function find(args: string[], ...seq: string[]): number {
  for (let i = 0; i + seq.length <= args.length; i++) if (seq.every((s, j) => args[i + j] === s)) return i;
  return -1;
}

describe('bwrapArgs', () => {
  it('makes new pid, ipc, uts and net namespaces, a new terminal session, and dies with the daemon', () => {
    const a = bwrapArgs(base, host);
    for (const flag of ['--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-net', '--new-session', '--die-with-parent']) {
      assert.ok(a.includes(flag), `${flag} in ${a.join(' ')}`);
    }
  });

  it('keeps the host network only when asked', () => {
    assert.ok(!bwrapArgs({ ...base, network: true }, host).includes('--unshare-net'));
  });

  it('drops every capability as root, and uses a user namespace otherwise', () => {
    const asRoot = bwrapArgs({ ...base, root: true }, host);
    assert.notEqual(find(asRoot, '--cap-drop', 'ALL'), -1);
    assert.ok(!asRoot.includes('--unshare-user'));
    assert.ok(bwrapArgs(base, host).includes('--unshare-user'));
  });

  it('mounts the system read-only, recreating /bin-style links, and the workspace read-write', () => {
    const a = bwrapArgs(base, host);
    assert.notEqual(find(a, '--ro-bind', '/usr', '/usr'), -1);
    assert.notEqual(find(a, '--ro-bind', '/etc', '/etc'), -1);
    assert.notEqual(find(a, '--symlink', 'usr/bin', '/bin'), -1);
    assert.notEqual(find(a, '--ro-bind', '/lib64', '/lib64'), -1);
    assert.equal(find(a, '--ro-bind', '/sbin', '/sbin'), -1, 'absent paths are not bound');
    assert.notEqual(find(a, '--bind', '/work/proj', '/work/proj'), -1);
    assert.ok(!a.some((x, i) => x === '--bind' && a[i + 1] !== '/work/proj'), 'nothing else is writable');
  });

  it('gives a private size-capped /tmp and hides /run (sockets of trl, docker, D-Bus)', () => {
    const a = bwrapArgs(base, host);
    assert.notEqual(find(a, '--perms', '1777', '--size', String(1 << 20), '--tmpfs', '/tmp'), -1);
    assert.notEqual(find(a, '--tmpfs', '/run'), -1);
  });

  it('hides home secret stores (directories empty, files empty) after binding the workspace', () => {
    const a = bwrapArgs(base, host);
    const ws = find(a, '--bind', '/work/proj', '/work/proj');
    const ssh = find(a, '--tmpfs', '/home/u/.ssh');
    assert.ok(ssh > ws, 'hidden after the workspace, so a workspace holding them hides them too');
    assert.notEqual(find(a, '--ro-bind', '/run/trl/empty', '/home/u/.netrc'), -1);
    assert.notEqual(find(a, '--ro-bind', '/run/trl/empty', '/etc/shadow'), -1);
    assert.equal(find(a, '--tmpfs', '/home/u/.aws'), -1, 'stores that do not exist are not created');
    assert.notEqual(find(a, '--ro-bind', '/home/u', '/home/u'), -1, 'the rest of home is read-only');
  });

  it('hides a store that is a symlink where it points', () => {
    const p = probe({ '/home/u': 'dir', '/home/u/.ssh': { link: '/data/keys' }, '/data/keys': 'dir' }, { '/home/u/.ssh': '/data/keys' });
    assert.notEqual(find(bwrapArgs(base, p), '--tmpfs', '/data/keys'), -1);
  });

  it('hides extra paths (env file, runtime directory) by kind', () => {
    const p = probe({ '/home/u': 'dir', '/srv/app/.env': 'file', '/run/user/1000/trl': 'dir' });
    const a = bwrapArgs({ ...base, hide: ['/srv/app/.env', '/run/user/1000/trl', '/nope'] }, p);
    assert.notEqual(find(a, '--ro-bind', '/run/trl/empty', '/srv/app/.env'), -1);
    assert.notEqual(find(a, '--tmpfs', '/run/user/1000/trl'), -1);
    assert.ok(!a.includes('/nope'));
  });

  it("binds the workspace's guard after the workspace: .git as a mount point, protected paths read-only (through their descriptors), ghosts as an empty directory", () => {
    const a = bwrapArgs({ ...base, workspace: { path: '/work/proj', fd: 4 } }, host);
    const ws = find(a, '--bind-fd', '4', '/work/proj');
    assert.notEqual(ws, -1);
    const git = find(a, '--bind-fd', '5', '/work/proj/.git');
    const hooks = find(a, '--ro-bind-fd', '6', '/work/proj/.git/hooks');
    const rc = find(a, '--ro-bind', '/work/proj/.bashrc', '/work/proj/.bashrc');
    const ghost = find(a, '--ro-bind', '/run/trl/none', '/work/proj/.envrc');
    for (const [name, at] of Object.entries({ git, hooks, rc, ghost })) assert.ok(at > ws, `${name} is bound after the workspace`);
    assert.ok(hooks > git, '.git/hooks goes on top of the .git mount point');
  });

  it('mounts a devpts /dev as root, and a hand-built /dev (no nested user namespace) otherwise', () => {
    const asRoot = bwrapArgs({ ...base, root: true }, host);
    assert.notEqual(find(asRoot, '--dev', '/dev'), -1);
    const asUser = bwrapArgs(base, host);
    assert.equal(find(asUser, '--dev', '/dev'), -1);
    assert.notEqual(find(asUser, '--tmpfs', '/dev'), -1);
    assert.notEqual(find(asUser, '--dev-bind', '/dev/null', '/dev/null'), -1);
    assert.notEqual(find(asUser, '--symlink', '/proc/self/fd/2', '/dev/stderr'), -1);
    // tmpfs pages escape an address-space limit: /dev/shm has /tmp's cap, /dev is read-only once built
    assert.notEqual(find(asUser, '--size', String(1 << 20), '--tmpfs', '/dev/shm'), -1);
    const readOnly = find(asUser, '--remount-ro', '/dev');
    assert.ok(readOnly > find(asUser, '--tmpfs', '/dev/shm'), '/dev is made read-only after everything in it is built');
  });

  it('reports the sandbox pid on the info descriptor', () => {
    assert.notEqual(find(bwrapArgs({ ...base, infoFd: 7 }, host), '--info-fd', '7'), -1);
  });
});
