import { AARCH64_SYSCALLS } from './syscalls-aarch64.js';
import { X86_64_SYSCALLS } from './syscalls-x86_64.js';

/** The ABIs a filter can be built for (both little-endian, 64-bit). */
export type SeccompArch = 'x86_64' | 'aarch64';
export const SECCOMP_ARCHES: readonly SeccompArch[] = ['x86_64', 'aarch64'];

export interface ArchInfo {
  /** AUDIT_ARCH_* value the kernel puts in seccomp_data.arch for this ABI. */
  auditArch: number;
  /** Name → number, every native system call of Linux 6.x. */
  syscalls: Readonly<Record<string, number>>;
  /** libseccomp's name for the ABI, in a Docker profile. */
  dockerArch: string;
}

export const ARCH_INFO: Readonly<Record<SeccompArch, ArchInfo>> = {
  // EM_X86_64 (62) | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE
  x86_64: { auditArch: 0xc000003e, syscalls: X86_64_SYSCALLS, dockerArch: 'SCMP_ARCH_X86_64' },
  // EM_AARCH64 (183) | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE
  aarch64: { auditArch: 0xc00000b7, syscalls: AARCH64_SYSCALLS, dockerArch: 'SCMP_ARCH_AARCH64' },
};

/** Foreign ABIs a process on these machines could still call the kernel through (tests use them). */
export const AUDIT_ARCH_I386 = 0x40000003;
export const AUDIT_ARCH_ARM = 0x40000028;
/** x32 shares AUDIT_ARCH_X86_64 and marks its numbers with this bit. */
export const X32_SYSCALL_BIT = 0x40000000;

/** The highest number in the table: anything above it is newer than the policy knows. */
export function maxSyscall(arch: SeccompArch): number {
  return Math.max(...Object.values(ARCH_INFO[arch].syscalls));
}

/** The ABI of this Node process, or null where no filter can be built (not Linux, or another CPU). */
export function nativeArch(): SeccompArch | null {
  if (process.platform !== 'linux') return null;
  if (process.arch === 'x64') return 'x86_64';
  if (process.arch === 'arm64') return 'aarch64';
  return null;
}

/** The ABI of a Docker engine from its `info().Architecture` ('x86_64', 'aarch64'; Go names accepted), or null. */
export function engineArch(architecture: string): SeccompArch | null {
  const a = architecture.toLowerCase();
  if (a === 'x86_64' || a === 'amd64') return 'x86_64';
  if (a === 'aarch64' || a === 'arm64') return 'aarch64';
  return null;
}
