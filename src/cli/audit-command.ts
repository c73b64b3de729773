import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { verifyAuditText } from '../runtime/audit-log.js';

/** `trl audit verify FILE`: check the hash chain of an audit log; exit 1 naming the first broken line. */
export function registerAuditCommand(program: Command): void {
  const audit = program.command('audit').description('work with the audit log (--audit-log of trl serve)');
  audit
    .command('verify')
    .argument('<file>', 'the audit log')
    .option('--json', 'print the result as JSON')
    .description('check that no line of the audit log was edited, inserted or deleted')
    .action((file: string, opts: { json?: boolean }) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        process.stderr.write(`trl: cannot read ${file}: ${(err as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      const r = verifyAuditText(text);
      if (opts.json) process.stdout.write(JSON.stringify(r) + '\n');
      else if (r.ok) process.stdout.write(`ok: ${r.lines} lines, chain intact\n`);
      else process.stdout.write(`broken at line ${r.brokenLine}: ${r.reason}\n`);
      process.exitCode = r.ok ? 0 : 1;
    });
}
