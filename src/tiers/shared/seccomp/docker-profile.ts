/**
 * The docker tier's seccomp profile, generated from the same policy as the
 * sandbox filter (policy.ts), for `HostConfig.SecurityOpt: ['seccomp=' + json]`.
 *
 * An allowlist (defaultAction ERRNO/EPERM, every permitted call named), not a
 * denylist (defaultAction ALLOW): a denylist would let through every call
 * added to the kernel after this table, which is how new attack surface
 * (io_uring, the mount API) arrived. With an allowlist the engine's runc
 * answers ENOSYS for numbers newer than any call it knows (its -ENOSYS stub)
 * and EPERM for a known call not listed, so the profile means here what the
 * BPF filter means in the sandbox: table minus refusals.
 *
 * Argument tests become allow rules for the complement, because a profile
 * can only say when a call passes: libseccomp compares all 64 bits, so each
 * test masks the upper half off (MASKED_EQ with a 32-bit mask) to match the
 * kernel, which reads these arguments as ints. runc ORs repeated conditions on
 * one argument, so a range becomes several rules, never two conditions.
 */
import { ARCH_INFO, type SeccompArch } from './arch.js';
import { EPERM, ruleIndex, seccompPolicy, type ArgTest, type PolicyOptions } from './policy.js';

export interface DockerProfileOptions extends PolicyOptions {
  /** The engine's ABI (`engineArch(info.Architecture)`), not necessarily this process's. */
  arch: SeccompArch;
}

interface ProfileArg {
  index: number;
  /** For SCMP_CMP_MASKED_EQ: the mask. */
  value: number;
  /** For SCMP_CMP_MASKED_EQ: what the masked argument must equal. */
  valueTwo: number;
  op: 'SCMP_CMP_MASKED_EQ';
}

interface ProfileSyscall {
  names: string[];
  action: 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO';
  errnoRet?: number;
  args?: ProfileArg[];
}

export interface DockerSeccompProfile {
  defaultAction: 'SCMP_ACT_ERRNO';
  defaultErrnoRet: number;
  architectures: string[];
  syscalls: ProfileSyscall[];
}

const LOW32 = 0xffffffff;

export function dockerProfile(opts: DockerProfileOptions): DockerSeccompProfile {
  const rules = ruleIndex(seccompPolicy(opts));
  const allowed: string[] = [];
  const syscalls: ProfileSyscall[] = [];
  for (const name of Object.keys(ARCH_INFO[opts.arch].syscalls).sort()) {
    const rule = rules.get(name);
    if (!rule) {
      allowed.push(name);
    } else if (rule.when) {
      // Calls failing the test get the default action, so their errno must be the default's.
      if (rule.errno !== EPERM) throw new Error(`seccomp policy: ${name} refuses with errno ${rule.errno} on a test; a Docker profile can only refuse tested calls with EPERM`);
      for (const args of passingArgs(rule.when)) syscalls.push({ names: [name], action: 'SCMP_ACT_ALLOW', args: [args] });
    } else if (rule.errno !== EPERM) {
      syscalls.push({ names: [name], action: 'SCMP_ACT_ERRNO', errnoRet: rule.errno });
    }
    // refused with EPERM unconditionally: left out, the default refuses it
  }
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    // Only the native ABI: i386 and x32 calls (or arm32 on aarch64) never match and are refused.
    architectures: [ARCH_INFO[opts.arch].dockerArch],
    syscalls: [{ names: allowed, action: 'SCMP_ACT_ALLOW' }, ...syscalls],
  };
}

/** The profile as the JSON text `seccomp=<json>` takes. */
export function dockerSeccompProfile(opts: DockerProfileOptions): string {
  return JSON.stringify(dockerProfile(opts));
}

/** Conditions, one per allow rule, that together pass exactly the values `test` does not refuse. */
function passingArgs(test: ArgTest): ProfileArg[] {
  const masked = (mask: number, equals: number): ProfileArg => ({ index: test.arg, value: mask >>> 0, valueTwo: equals >>> 0, op: 'SCMP_CMP_MASKED_EQ' });
  switch (test.op) {
    case 'anyBit':
      return [masked(test.mask, 0)];
    case 'notIn':
      return test.values.map((v) => masked(LOW32, v));
    case 'in':
      return alignedBlocks(complement(test.values)).map(([start, size]) => masked(LOW32 - (size - 1), start));
  }
}

/** The 32-bit ranges [from, to] left when `values` are taken out. */
function complement(values: readonly number[]): Array<[number, number]> {
  const sorted = [...new Set(values.map((v) => v >>> 0))].sort((a, b) => a - b);
  const ranges: Array<[number, number]> = [];
  let next = 0;
  for (const v of sorted) {
    if (v > next) ranges.push([next, v - 1]);
    next = v + 1;
  }
  if (next <= LOW32) ranges.push([next, LOW32]);
  return ranges;
}

/** Each range as power-of-two blocks aligned on their size ([start, size]), which one mask can match. */
function alignedBlocks(ranges: Array<[number, number]>): Array<[number, number]> {
  const blocks: Array<[number, number]> = [];
  for (const [from, to] of ranges) {
    let start = from;
    while (start <= to) {
      let size = 1;
      // grow while still aligned and inside the range
      while (size < 2 ** 32 && start % (size * 2) === 0 && start + size * 2 - 1 <= to) size *= 2;
      blocks.push([start, size]);
      start += size;
    }
  }
  return blocks;
}
