/**
 * Compiles the policy (policy.ts) into a classic-BPF seccomp program: the
 * bytes of a `struct sock_filter[]` for seccomp(SECCOMP_SET_MODE_FILTER).
 *
 * Layout: check the ABI (a foreign one kills the process: nothing of it can
 * work, and a clean SIGSYS says why), load the number, then a binary search
 * over runs of consecutive numbers that share one decision, so a call costs
 * about log2(runs) comparisons. Numbers past the table (x32's included, their
 * bit 0x40000000 puts them there) fall in the last run: ENOSYS.
 */
import { ARCH_INFO, maxSyscall, type SeccompArch } from './arch.js';
import { ENOSYS, ruleIndex, seccompPolicy, type ArgTest, type PolicyOptions } from './policy.js';

// Classic BPF opcodes (linux/bpf_common.h, linux/filter.h).
export const BPF = {
  LD_W_ABS: 0x20,
  JMP_JA: 0x05,
  JMP_JEQ_K: 0x15,
  JMP_JGT_K: 0x25,
  JMP_JGE_K: 0x35,
  JMP_JSET_K: 0x45,
  RET_K: 0x06,
} as const;

// seccomp return values (linux/seccomp.h).
export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;

/** Offsets in struct seccomp_data: nr (int), arch (u32), instruction_pointer (u64), args[6] (u64). */
export const SECCOMP_DATA = { nr: 0, arch: 4, args: 16 } as const;

const MAX_JUMP = 255;
const MAX_INSNS = 4096;

export interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

export interface FilterOptions extends PolicyOptions {
  arch: SeccompArch;
}

type Decision = { kind: 'ret'; value: number } | { kind: 'test'; test: ArgTest; errno: number };

interface Run {
  /** First number of the run; it lasts until the next run's start. */
  start: number;
  decision: Decision;
}

const ret = (value: number): Insn => ({ code: BPF.RET_K, jt: 0, jf: 0, k: value >>> 0 });
const errno = (e: number): number => (SECCOMP_RET_ERRNO | (e & 0xffff)) >>> 0;

/** The filter program for `arch`, as instructions. */
export function compileFilter(opts: FilterOptions): Insn[] {
  const info = ARCH_INFO[opts.arch];
  const program: Insn[] = [
    { code: BPF.LD_W_ABS, jt: 0, jf: 0, k: SECCOMP_DATA.arch },
    { code: BPF.JMP_JEQ_K, jt: 1, jf: 0, k: info.auditArch },
    ret(SECCOMP_RET_KILL_PROCESS),
    { code: BPF.LD_W_ABS, jt: 0, jf: 0, k: SECCOMP_DATA.nr },
    ...searchTree(runsOf(opts)),
  ];
  if (program.length > MAX_INSNS) throw new Error(`seccomp filter has ${program.length} instructions; the kernel takes at most ${MAX_INSNS}`);
  return program;
}

/** The filter for seccomp(2): `struct sock_filter[]`, little-endian (both supported ABIs are). */
export function seccompFilter(opts: FilterOptions): Buffer {
  return encode(compileFilter(opts));
}

export function encode(program: readonly Insn[]): Buffer {
  const buf = Buffer.alloc(program.length * 8);
  program.forEach((insn, i) => {
    buf.writeUInt16LE(insn.code, i * 8);
    buf.writeUInt8(insn.jt, i * 8 + 2);
    buf.writeUInt8(insn.jf, i * 8 + 3);
    buf.writeUInt32LE(insn.k >>> 0, i * 8 + 4);
  });
  return buf;
}

/** Every number from 0 to 2^32-1, as runs of equal decisions. */
function runsOf(opts: FilterOptions): Run[] {
  const table = ARCH_INFO[opts.arch].syscalls;
  const rules = ruleIndex(seccompPolicy(opts));
  const byNumber = new Map<number, Decision>();
  for (const [name, nr] of Object.entries(table)) {
    const rule = rules.get(name);
    byNumber.set(nr, !rule ? { kind: 'ret', value: SECCOMP_RET_ALLOW } : rule.when ? { kind: 'test', test: rule.when, errno: rule.errno } : { kind: 'ret', value: errno(rule.errno) });
  }
  const runs: Run[] = [];
  const max = maxSyscall(opts.arch);
  for (let nr = 0; nr <= max + 1; nr++) {
    // Past the table, or a hole in it: a number this kernel generation never assigned.
    const decision = byNumber.get(nr) ?? { kind: 'ret', value: errno(ENOSYS) };
    const last = runs[runs.length - 1];
    if (last && last.decision.kind === 'ret' && decision.kind === 'ret' && last.decision.value === decision.value) continue;
    runs.push({ start: nr, decision });
  }
  return runs;
}

/**
 * Code for the runs, A holding the number: `A >= start of the middle run`
 * splits them in two, until one run is left. Every leaf ends in a return, so
 * subtrees are laid out one after the other and all jumps are forward.
 */
function searchTree(runs: readonly Run[]): Insn[] {
  if (runs.length === 1) return leaf(runs[0]!.decision);
  const mid = Math.floor(runs.length / 2);
  const low = searchTree(runs.slice(0, mid));
  const high = searchTree(runs.slice(mid));
  const start = runs[mid]!.start;
  // true → high (after the low subtree), false → low (next instruction)
  if (low.length <= MAX_JUMP) return [{ code: BPF.JMP_JGE_K, jt: low.length, jf: 0, k: start }, ...low, ...high];
  return [{ code: BPF.JMP_JGE_K, jt: 0, jf: 1, k: start }, { code: BPF.JMP_JA, jt: 0, jf: 0, k: low.length }, ...low, ...high];
}

/** The decision for one run: a return, or a test of one argument's low 32 bits then a return. */
function leaf(d: Decision): Insn[] {
  if (d.kind === 'ret') return [ret(d.value)];
  const t = d.test;
  const load: Insn = { code: BPF.LD_W_ABS, jt: 0, jf: 0, k: SECCOMP_DATA.args + 8 * t.arg }; // little-endian: low half first
  const deny = ret(errno(d.errno));
  const allow = ret(SECCOMP_RET_ALLOW);
  switch (t.op) {
    case 'anyBit':
      return [load, { code: BPF.JMP_JSET_K, jt: 0, jf: 1, k: t.mask >>> 0 }, deny, allow];
    case 'in': {
      // each match jumps to the refusal after the remaining comparisons and the allow
      const n = t.values.length;
      return [load, ...t.values.map((v, i) => ({ code: BPF.JMP_JEQ_K, jt: n - i, jf: 0, k: v >>> 0 })), allow, deny];
    }
    case 'notIn': {
      const n = t.values.length;
      return [load, ...t.values.map((v, i) => ({ code: BPF.JMP_JEQ_K, jt: n - i, jf: 0, k: v >>> 0 })), deny, allow];
    }
  }
}
