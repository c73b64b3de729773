import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { AUDIT_KEY_ENV, headPathOf, loadAuditKey, parseHead, verifyAudit, type GivenHead, type VerifyResult } from '../server/audit-tools.js';

interface AuditOptions {
  json?: boolean;
  keyFile?: string;
  head?: string;
  headFile?: string;
}

/**
 * `trl audit verify FILE`: check an audit log (chain; with the key, its MACs;
 * against a head, its tail) and say which of these guarantees were checked;
 * exit 1 naming the first broken line. `trl audit head FILE`: the same check,
 * then print the head (HASH:LINES) to pin elsewhere.
 */
export function registerAuditCommand(program: Command): void {
  const audit = program.command('audit').description('work with the audit log (--audit-log of trl serve)');
  const common = (cmd: Command) =>
    cmd
      .argument('<file>', 'the audit log')
      .option('--key-file <file>', `file holding the audit key (mode 0600); else ${AUDIT_KEY_ENV} from the environment, never a flag`)
      .option('--json', 'print the result as JSON');
  common(audit.command('verify'))
    .option('--head <hash:lines>', 'a head pinned earlier (`trl audit head FILE`): the log must still contain it')
    .option('--head-file <file>', 'a file holding a pinned head (HASH:LINES, or a copy of FILE.head)')
    .description('check that no line of the audit log was edited, inserted or deleted, and, with a key and a head, that it was not rewritten or cut short (default head: FILE.head)')
    .action((file: string, opts: AuditOptions) => {
      const r = run(file, opts);
      if (!r) return;
      if (opts.json) process.stdout.write(JSON.stringify(r) + '\n');
      else process.stdout.write(describe(r));
      process.exitCode = r.ok ? 0 : 1;
    });
  common(audit.command('head'))
    .description('check the audit log against its sidecar head FILE.head, then print its head as HASH:LINES, to pin elsewhere')
    .action((file: string, opts: AuditOptions) => {
      const r = run(file, opts);
      if (!r) return;
      if (!r.ok) {
        process.stderr.write(describe(r));
        process.exitCode = 1;
      } else if (opts.json) {
        const [hash, lines] = r.head.split(':');
        process.stdout.write(JSON.stringify({ head: r.head, hash, lines: Number(lines), authenticatedWith: r.authenticatedWith }) + '\n');
      } else process.stdout.write(r.head + '\n');
    });
}

/** Read what the options name and verify; null (exit 1, message on stderr) when something cannot be read. */
function run(file: string, opts: AuditOptions): VerifyResult | null {
  try {
    const key = loadAuditKey(process.env, opts.keyFile, false);
    // The head before the log: a running daemon writes a line, then its head, so the log read is never behind the head.
    const head = givenHead(file, opts);
    const text = readFileSync(file, 'utf8');
    return verifyAudit(text, { key, head });
  } catch (err) {
    process.stderr.write(`trl: ${(err as Error).message}\n`);
    process.exitCode = 1;
    return null;
  }
}

function givenHead(file: string, opts: AuditOptions): GivenHead | null {
  if (opts.head !== undefined && opts.headFile !== undefined) throw new Error('give --head or --head-file, not both');
  const parse = (text: string, what: string) => {
    try {
      return parseHead(text);
    } catch (err) {
      throw new Error(`${what}: ${(err as Error).message}`);
    }
  };
  if (opts.head !== undefined) return { ...parse(opts.head, '--head'), source: 'pinned' };
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`cannot read ${path}: ${(err as Error).message}`);
    }
  };
  if (opts.headFile !== undefined) return { ...parse(read(opts.headFile), opts.headFile), source: 'head file', path: opts.headFile };
  const sidecar = headPathOf(file);
  return existsSync(sidecar) ? { ...parse(read(sidecar), sidecar), source: 'sidecar', path: sidecar } : null;
}

/** One line saying what holds, then one line per guarantee that was not checked. */
function describe(r: VerifyResult): string {
  if (!r.ok) return `broken at line ${r.brokenLine}: ${r.reason}\n`;
  const parts = [`ok: ${r.lines} lines, chain intact`];
  parts.push(r.authenticatedWith ? `authenticated with key id ${r.authenticatedWith}` : 'not authenticated');
  const h = r.headChecked;
  if (h) {
    const from = h.source === 'pinned' ? 'pinned head' : `head in ${h.path}${h.authenticated ? ' (authenticated)' : ''}`;
    parts.push(`${from} matches line ${h.lines}${h.linesAfter > 0 ? ` (${h.linesAfter} line${h.linesAfter === 1 ? '' : 's'} after it)` : ''}`);
  } else parts.push('no head');
  return [parts.join('; '), ...r.notChecked.map((n) => `not checked: ${n}`)].join('\n') + '\n';
}
