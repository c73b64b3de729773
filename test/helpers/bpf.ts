/**
 * A small classic-BPF interpreter with the kernel's seccomp rules, to run a
 * compiled filter on synthetic `struct seccomp_data` without a kernel. It
 * refuses what seccomp_check_filter refuses (unknown opcodes, jumps past the
 * end, loads outside seccomp_data or unaligned, falling off the end), so a
 * program it accepts has the kernel's shape too.
 */
import { BPF, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS, type Insn } from '../../src/tiers/shared/seccomp/bpf.js';

const SECCOMP_DATA_SIZE = 64;
const MAX_INSNS = 4096;

export interface SeccompData {
  nr: number;
  arch: number;
  /** Up to six 64-bit arguments (missing ones are 0). */
  args?: Array<number | bigint>;
}

export type Verdict = { action: 'allow' } | { action: 'errno'; errno: number } | { action: 'kill' } | { action: 'other'; value: number };

export function decodeInsns(filter: Buffer): Insn[] {
  if (filter.length % 8 !== 0) throw new Error(`filter of ${filter.length} bytes is not whole instructions`);
  const out: Insn[] = [];
  for (let i = 0; i < filter.length; i += 8) {
    out.push({ code: filter.readUInt16LE(i), jt: filter.readUInt8(i + 2), jf: filter.readUInt8(i + 3), k: filter.readUInt32LE(i + 4) });
  }
  return out;
}

export function seccompData(d: SeccompData): Buffer {
  const buf = Buffer.alloc(SECCOMP_DATA_SIZE);
  buf.writeInt32LE(d.nr | 0, 0);
  buf.writeUInt32LE(d.arch >>> 0, 4);
  buf.writeBigUInt64LE(0x400000n, 8); // instruction pointer: any value
  (d.args ?? []).forEach((a, i) => buf.writeBigUInt64LE(BigInt.asUintN(64, BigInt(a)), 16 + 8 * i));
  return buf;
}

/** Static checks the kernel makes when the filter is installed. */
export function checkProgram(prog: readonly Insn[]): void {
  if (prog.length === 0 || prog.length > MAX_INSNS) throw new Error(`program length ${prog.length} outside 1..${MAX_INSNS}`);
  prog.forEach((insn, pc) => {
    switch (insn.code) {
      case BPF.LD_W_ABS:
        if (insn.k % 4 !== 0 || insn.k >= SECCOMP_DATA_SIZE) throw new Error(`pc ${pc}: load at ${insn.k} outside seccomp_data or unaligned`);
        break;
      case BPF.JMP_JA:
        if (pc + 1 + insn.k >= prog.length) throw new Error(`pc ${pc}: ja past the end`);
        break;
      case BPF.JMP_JEQ_K:
      case BPF.JMP_JGT_K:
      case BPF.JMP_JGE_K:
      case BPF.JMP_JSET_K:
        if (pc + 1 + Math.max(insn.jt, insn.jf) >= prog.length) throw new Error(`pc ${pc}: conditional jump past the end`);
        break;
      case BPF.RET_K:
        break;
      default:
        throw new Error(`pc ${pc}: opcode 0x${insn.code.toString(16)} not handled`);
    }
  });
  const last = prog[prog.length - 1]!;
  if (last.code !== BPF.RET_K) throw new Error('the program does not end with a return');
}

/** Run the program on one call; returns the raw 32-bit seccomp return value. */
export function runFilter(prog: readonly Insn[], data: SeccompData): number {
  checkProgram(prog);
  const mem = seccompData(data);
  let a = 0;
  for (let pc = 0; pc < prog.length; pc++) {
    const insn = prog[pc]!;
    switch (insn.code) {
      case BPF.LD_W_ABS:
        a = mem.readUInt32LE(insn.k); // seccomp_data is in host order: little-endian here
        break;
      case BPF.JMP_JA:
        pc += insn.k;
        break;
      case BPF.JMP_JEQ_K:
        pc += a === insn.k >>> 0 ? insn.jt : insn.jf;
        break;
      case BPF.JMP_JGT_K:
        pc += a > insn.k >>> 0 ? insn.jt : insn.jf;
        break;
      case BPF.JMP_JGE_K:
        pc += a >= insn.k >>> 0 ? insn.jt : insn.jf;
        break;
      case BPF.JMP_JSET_K:
        pc += (a & insn.k) >>> 0 !== 0 ? insn.jt : insn.jf;
        break;
      case BPF.RET_K:
        return insn.k >>> 0;
    }
  }
  throw new Error('fell off the end of the program');
}

export function verdict(ret: number): Verdict {
  const action = (ret & 0xffff0000) >>> 0;
  if (ret === SECCOMP_RET_ALLOW) return { action: 'allow' };
  if (action === SECCOMP_RET_ERRNO) return { action: 'errno', errno: ret & 0xffff };
  if (ret === SECCOMP_RET_KILL_PROCESS) return { action: 'kill' };
  return { action: 'other', value: ret };
}
