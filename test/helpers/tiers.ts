/**
 * Isolation tiers for the cross-tier conformance suite (docs/security.md, isolation tiers, §9):
 * start a real daemon whose default runtime is one tier, and tell whether
 * that tier is usable here. A tier that is not (no bwrap, no Docker engine,
 * no test image, a failed health check) skips the tests that need it with a
 * printed reason — except under TRL_REQUIRE_TIERS=1 (CI), where the reason is
 * a failure.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { connect, type TrlClient } from './client.js';
import { type Daemon, REPO_ROOT, startDaemon, type StartOptions } from './daemon.js';

export type TierName = 'host' | 'sandbox' | 'docker';
export const TIER_NAMES: readonly TierName[] = ['host', 'sandbox', 'docker'];

/** The docker tier's test image, built from a static busybox by scripts/build-test-image.sh. */
export const TEST_IMAGE = 'trl-test:busybox';
export const BUILD_IMAGE_SCRIPT = path.join(REPO_ROOT, 'scripts', 'build-test-image.sh');
/**
 * An image with trl inside (the docker tier's inner path), built from this checkout by scripts/build-trl-image.sh;
 * TRL_INNER_IMAGE names another tag (a work in progress built with `build-trl-image.sh --force <tag>`).
 */
export const TRL_IMAGE = process.env.TRL_INNER_IMAGE || 'trl-test:trl';
export const BUILD_TRL_IMAGE_SCRIPT = path.join(REPO_ROOT, 'scripts', 'build-trl-image.sh');

export interface TierEnforcement {
  process_tracking: string;
  limits: string;
  detail: string;
}

export interface TierDaemon {
  tier: TierName;
  /** Null when the tier is unavailable (then `skipReason` says why). */
  daemon: Daemon | null;
  client: TrlClient | null;
  /** Why the tier cannot be tested here, or null. */
  skipReason: string | null;
  /** system.info (untyped: the fields tests read may be newer than the SDK types). */
  info: any;
  /** system.info.tiers[tier].enforcement, or null. */
  enforcement: TierEnforcement | null;
  /**
   * For the first line of every test: when the tier is unavailable, mark the
   * test skipped with the reason and return true.
   */
  skip(t: TestContext): boolean;
  /** Close the client and stop the daemon cleanly (exit 0, socket removed); for `after`. */
  close(): Promise<void>;
}

export interface TierOptions extends StartOptions {
  /** Docker image of the tier's sessions (default trl-test:busybox). */
  dockerImage?: string;
}

/** The docker tier's health-check budget in tests (see startTierDaemon). */
export const DOCKER_HEALTH_TIMEOUT_S = 300;

const required = () => process.env.TRL_REQUIRE_TIERS === '1';

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function dockerOk(args: string[]): boolean {
  return spawnSync('docker', args, { stdio: 'ignore', timeout: 30_000 }).status === 0;
}

/**
 * Build the test image once if the script exists and the image is missing.
 * Serialised across concurrent test files with flock(1) on a lock file (the
 * kernel releases it if a test process dies); the script is idempotent, so a
 * file that waited finds the image present. Returns a reason when the image
 * cannot be had, else null.
 */
export function ensureTestImage(image = TEST_IMAGE): string | null {
  if (!onPath('docker')) return null; // the daemon talks to the engine itself; let its health check decide
  if (dockerOk(['image', 'inspect', image])) return null;
  const script = image === TRL_IMAGE ? BUILD_TRL_IMAGE_SCRIPT : BUILD_IMAGE_SCRIPT;
  if (!fs.existsSync(script)) return `the docker test image ${image} is missing and ${script} does not exist`;
  const lock = path.join(os.tmpdir(), 'trl-build-test-image.lock');
  const argv = onPath('flock') ? ['flock', '-w', '600', lock, 'sh', script, image] : ['sh', script, image];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 660_000 });
  if (r.status !== 0) {
    return `building the docker test image failed (${argv.join(' ')} → ${String(r.status ?? r.signal)}): ${(r.stderr || r.stdout || '').trim().slice(-500)}`;
  }
  console.log(`# ${(r.stdout || '').trim() || `built ${image}`}`);
  return dockerOk(['image', 'inspect', image]) ? null : `${BUILD_IMAGE_SCRIPT} succeeded but ${image} is still missing`;
}

/** What is missing on this machine for `tier`, before a daemon is even started; null if nothing. */
function prerequisite(tier: TierName, image: string): string | null {
  if (tier === 'sandbox' && !onPath('bwrap')) return 'bubblewrap (bwrap) is not installed: apt-get install -y bubblewrap';
  if (tier === 'docker') {
    if (onPath('docker') && !dockerOk(['info'])) return 'the Docker engine is unreachable (start dockerd or set DOCKER_HOST)';
    return ensureTestImage(image);
  }
  return null;
}

/**
 * Start a daemon with `--tiers host,<tier> --runtime <tier>` (docker: the test
 * image and host networking for network:true sessions) and check that
 * system.info says the tier is available. Under TRL_REQUIRE_TIERS=1 an
 * unavailable tier throws (the `before` hook fails, so every test fails with
 * the reason); otherwise the handle carries `skipReason`.
 */
export async function startTierDaemon(tier: TierName, opts: TierOptions = {}): Promise<TierDaemon> {
  const image = opts.dockerImage ?? TEST_IMAGE;
  const unavailable = (reason: string, daemon: Daemon | null = null): TierDaemon => {
    const full = `the ${tier} tier is unavailable here: ${reason}`;
    if (required()) throw new Error(`TRL_REQUIRE_TIERS=1 but ${full}`);
    console.log(`# skipping the ${tier} tier: ${reason}`);
    return {
      tier,
      daemon,
      client: null,
      skipReason: full,
      info: null,
      enforcement: null,
      skip: (t) => {
        t.skip(full);
        return true;
      },
      close: async () => {
        await daemon?.dispose();
      },
    };
  };

  if (tier !== 'host') {
    const missing = prerequisite(tier, image);
    if (missing) return unavailable(missing);
  }
  const flags = ['--tiers', tier === 'host' ? 'host' : `host,${tier}`, '--runtime', tier];
  // An isolated session without a workspace gets the default working directory: make it a workspace.
  // Made here, so removed here: by close(), or at once when the tier turns out unavailable.
  const defaultWs = tier !== 'host' && !(opts.flags ?? []).includes('--default-working-dir') ? tierWorkspace('trl-default-ws-') : null;
  if (defaultWs) flags.push('--default-working-dir', defaultWs);
  const removeDefaultWs = () => {
    if (defaultWs) removeWorkspace(defaultWs);
  };
  // A health check on an engine copying images for several suites at once (vfs) under a CPU hog can take minutes:
  // the tests are about behaviour, not how fast the engine starts a container (LISTEN_DEADLINE_MS waits as long).
  if (tier === 'docker') flags.push('--docker-image', image, '--docker-network', 'host', '--docker-health-timeout-s', String(DOCKER_HEALTH_TIMEOUT_S));
  let daemon: Daemon;
  try {
    daemon = await startDaemon({ ...opts, flags: [...flags, ...(opts.flags ?? [])] });
  } catch (e) {
    // `--runtime <tier>` with a broken tier: the daemon refuses to start, naming the fix
    removeDefaultWs();
    return unavailable(`the daemon did not start with ${flags.join(' ')}: ${startFailure((e as Error).message)}`);
  }
  const client = await connect(daemon);
  const info = (await client.call('system.info', {})) as any;
  const t = info?.tiers?.[tier];
  if (!t || t.available !== true) {
    client.close();
    await daemon.dispose();
    removeDefaultWs();
    return unavailable(`system.info.tiers.${tier} = ${JSON.stringify(t)}`);
  }
  return {
    tier,
    daemon,
    client,
    skipReason: null,
    info,
    enforcement: t.enforcement ?? null,
    skip: () => false,
    close: async () => {
      client.close();
      try {
        await daemon.shutdownClean();
      } finally {
        removeDefaultWs();
      }
    },
  };
}

/** The daemon's own complaint (its `trl: …` line, else the first non-log line) out of startDaemon's error. */
function startFailure(message: string): string {
  const lines = message
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('{'));
  const own = lines.find((l) => l.startsWith('trl:')) ?? lines.find((l) => !/^(stderr|stdout):$/.test(l) && !l.startsWith('the daemon exited')) ?? lines[0] ?? message;
  return own.slice(0, 400);
}

/**
 * A fresh workspace for a session: a directory under os.tmpdir() with mode
 * 0755 (a container's non-root user must be able to enter it), its real path
 * (isolated tiers bind-mount it at the same path, and results report real
 * paths).
 */
export function tierWorkspace(prefix = 'trl-ws-'): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  fs.chmodSync(dir, 0o755);
  // A root daemon runs isolated commands as the workspace's owner (never root): make it an ordinary user's.
  if (process.getuid?.() === 0) fs.chownSync(dir, WORKSPACE_UID, WORKSPACE_UID);
  return dir;
}

/** Owner of test workspaces when the tests run as root: isolated commands run as this uid there. */
export const WORKSPACE_UID = 1000;

/** Remove a workspace, even one a container left root-owned files in. */
export function removeWorkspace(dir: string): void {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    try {
      execFileSync('rm', ['-rf', dir], { stdio: 'ignore' });
    } catch {
      /* best effort */
    }
  }
}
