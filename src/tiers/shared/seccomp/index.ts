/**
 * seccomp for the isolated tiers: one policy (policy.ts), compiled to a BPF
 * filter that the sandbox tier's Perl launcher installs before each command
 * (bpf.ts, launcher.ts), and to the docker tier's profile (docker-profile.ts).
 */
export { engineArch, nativeArch, SECCOMP_ARCHES, type SeccompArch } from './arch.js';
export { seccompFilter, type FilterOptions } from './bpf.js';
export { dockerSeccompProfile, type DockerProfileOptions } from './docker-profile.js';
export { LAUNCHER_FAILED, releaseTerminal, seccompLauncher, type LauncherOptions } from './launcher.js';
export { seccompPolicy, type PolicyOptions, type SeccompRule } from './policy.js';
