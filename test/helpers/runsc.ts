/**
 * The docker tier under gVisor (`--docker-runtime runsc`, docs/docker-tier.md#gvisor-runsc).
 * The engine the tests use (DOCKER_HOST or the local socket) must have runsc
 * registered: .ci/run does that. Where it has not, the daemon refuses to start
 * with --docker-runtime runsc, naming the dockerd configuration that registers
 * it, and startTierDaemon turns that into a skip with the reason (a failure
 * under TRL_REQUIRE_TIERS=1). The gVisor tests do not start an engine of
 * their own: a second dockerd costs seconds, root and careful cleanup, paid
 * only where the engine itself is the point (remote engines:
 * test/helpers/second-engine.ts).
 */
import { spawnSync } from 'node:child_process';

/** A variant of a tier's conformance suite: its title and the daemon flags that make it. */
export interface TierVariant {
  label: string;
  flags: string[];
  /** false: a PTY command's terminal has no name it can resolve (tty(1) fails), though it is a terminal. */
  namedPty?: boolean;
}

/** gVisor hands an exec's terminal in as a host file, not a device of the sandbox's /dev/pts. */
export const RUNSC_VARIANT: TierVariant = { label: 'docker tier under gVisor (runsc)', flags: ['--docker-runtime', 'runsc'], namedPty: false };

/** The engine's runtimes, as `docker info` lists them (empty when the CLI or the engine is missing). */
export function engineRuntimeNames(): string[] {
  const r = spawnSync('docker', ['info', '--format', '{{json .Runtimes}}'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) return [];
  try {
    return Object.keys(JSON.parse(r.stdout) as Record<string, unknown>);
  } catch {
    return [];
  }
}
