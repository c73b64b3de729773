import { arch, cpus, loadavg, release, totalmem, type as osType } from 'node:os';

export interface MachineInfo {
  cpus: number;
  cpu_model: string;
  node: string;
  kernel: string;
  os: string;
  arch: string;
  total_memory_bytes: number;
  loadavg_at_start: number[];
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpus: list.length,
    cpu_model: list[0]?.model ?? 'unknown',
    node: process.version,
    kernel: release(),
    os: osType(),
    arch: arch(),
    total_memory_bytes: totalmem(),
    loadavg_at_start: loadavg(),
  };
}
