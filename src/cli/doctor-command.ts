import type { Command } from 'commander';
import type { TierName } from '../protocol/common.js';
import { addConfigFlags, configFromFlags } from './config-flags.js';
import { EXIT } from './exit-codes.js';
import { printJson } from './output.js';

const HELP_AFTER = `
Checks this machine without a running daemon: for each tier of --tiers, what it
needs, what is present, whether its health check (a real sandbox, a real
container) passes, and how processes are tracked and limits enforced; for
docker, also which OCI runtimes the engine offers and which one sessions use
(--docker-runtime). Takes the
same settings as trl serve (flags and TRL_* variables). Exit status 0 when the
default tier (--runtime) works, 1 when it does not, 2 on bad settings. Run as
root, it also says that trl serve refuses to start without --allow-root.`;

/** `trl doctor`: what each tier needs, what is present, what is enforced. */
export function registerDoctorCommand(program: Command): void {
  const cmd = program
    .command('doctor')
    .description('check what each isolation tier needs and has on this machine (no daemon needed)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', HELP_AFTER);
  addConfigFlags(cmd);
  cmd.action(async (opts: { json?: boolean }, self: Command) => {
    process.exitCode = await doctor(self, opts.json ?? false);
  });
}

async function doctor(cmd: Command, json: boolean): Promise<number> {
  const config = configFromFlags(cmd);
  if (!config) return EXIT.USAGE;
  // Loaded here: the other commands never pay for the tiers' code.
  const { checkMachine } = await import('../server/doctor.js');
  const reports = await checkMachine(config);
  const ok = reports.find((r) => r.tier === config.runtime)?.available ?? false;
  const refusal = rootRefusal(config.allow_root);
  if (json) printJson({ default_runtime: config.runtime, ok, serve_refuses: refusal, tiers: reports });
  else process.stdout.write(format(reports, config.runtime, ok, refusal));
  return ok ? EXIT.OK : EXIT.FAILURE;
}

/**
 * Why `trl serve` with these settings would refuse to start whatever the
 * tiers say (it runs as root without --allow-root), or null. The exit status
 * stays the default tier's: the tiers work, and the flag is the operator's call.
 */
function rootRefusal(allowRoot: boolean): string | null {
  if (process.getuid?.() !== 0 || allowRoot) return null;
  return 'you are root and --allow-root is not given (every host-tier command would run as root); run trl as an ordinary user, or pass --allow-root (TRL_ALLOW_ROOT=1) if you mean it';
}

function format(reports: import('../server/doctor.js').TierReport[], main: TierName, ok: boolean, refusal: string | null): string {
  let out = '';
  for (const r of reports) {
    out += `${r.tier}${r.tier === main ? ' (default)' : ''}: ${r.available ? 'available' : 'UNAVAILABLE'}${r.isolated ? ', isolated' : ', not isolated'}\n`;
    out += `  health check: ${r.detail}\n`;
    for (const q of r.requirements) {
      out += `  ${q.present ? '[ok]  ' : q.optional ? '[opt] ' : '[MISSING]'} ${q.need}: ${q.found}\n`;
    }
    out += `  processes tracked by ${r.enforcement.process_tracking}; limits enforced by ${r.enforcement.limits}\n`;
    out += `  ${r.enforcement.detail}\n\n`;
  }
  if (!ok) out += `the default tier '${main}' does not work: fix what is missing above, or pick another --runtime\n`;
  else if (refusal) out += `the default tier '${main}' works, but trl serve --runtime ${main} will not start: ${refusal}\n`;
  else out += `the default tier '${main}' works: trl serve --runtime ${main} will start\n`;
  if (!ok && refusal) out += `nor would trl serve start as it is: ${refusal}\n`;
  return out;
}
