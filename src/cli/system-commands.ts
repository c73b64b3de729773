import type { Command } from 'commander';
import type { ResultOf } from '../protocol/methods.js';
import { addClientOptions, runWithClient, type ClientOptions } from './connect.js';
import { formatBytes, formatDuration, formatFields, formatTable, printJson } from './output.js';

/** `trl ping`, `trl stats`, `trl info`. */
export function registerSystemCommands(program: Command): void {
  addClientOptions(program.command('ping').description('check that the daemon answers')).action(async (opts: ClientOptions) => {
    await runWithClient(opts, async (client) => {
      const data = await client.call('system.ping', {});
      if (opts.json) printJson(data);
      else process.stdout.write(`pong: trl ${data.version}, up ${formatDuration(data.uptime_s)}\n`);
    });
  });

  addClientOptions(program.command('stats').description('counters: sessions, commands, memory, file descriptors')).action(async (opts: ClientOptions) => {
    await runWithClient(opts, async (client) => {
      const data = await client.call('system.stats', {});
      if (opts.json) printJson(data);
      else process.stdout.write(formatStats(data));
    });
  });

  addClientOptions(program.command('info').description('version, isolation tiers and their health, limits in force')).action(async (opts: ClientOptions) => {
    await runWithClient(opts, async (client) => {
      const data = await client.call('system.info', {});
      if (opts.json) printJson(data);
      else process.stdout.write(formatInfo(data));
    });
  });
}

function formatStats(s: ResultOf<'system.stats'>): string {
  const fields: [string, string][] = [
    ['sessions', String(s.active_sessions)],
    ['running commands', String(s.running_commands)],
    ['commands run', String(s.total_commands_run)],
    ['uptime', formatDuration(s.uptime_s)],
    ['memory (rss)', formatBytes(s.memory_rss_bytes)],
    ['open fds', String(s.open_fds)],
    ['zombie children', String(s.zombie_children)],
  ];
  for (const [tier, t] of Object.entries(s.tiers ?? {})) {
    fields.push([`tier ${tier}`, `${t.sessions} session${t.sessions === 1 ? '' : 's'}, ${t.running_commands} running`]);
  }
  return formatFields(fields);
}

function formatInfo(i: ResultOf<'system.info'>): string {
  let out = formatFields([
    ['version', `trl ${i.version} (node ${i.node}, ${i.platform}/${i.arch})`],
    ['pid', String(i.pid)],
    ['instance', i.instance_id],
    ['default tier', i.default_runtime],
    ['process tracking', i.enforcement.process_tracking],
    ['limits enforced by', i.enforcement.limits + (i.enforcement.detail ? ` (${i.enforcement.detail})` : '')],
  ]);
  const tiers = Object.entries(i.tiers ?? {});
  if (tiers.length > 0) {
    out += '\ntiers:\n';
    out += indent(
      formatTable([
        ['TIER', 'AVAILABLE', 'ISOLATED', 'TRACKING/LIMITS', 'DETAIL'],
        ...tiers.map(([name, t]) => [name, t.available ? 'yes' : 'no', t.isolated ? 'yes' : 'no', t.enforcement ? `${t.enforcement.process_tracking}/${t.enforcement.limits}` : '-', t.detail]),
      ]),
    );
  }
  const limits = Object.entries(i.limits ?? {});
  if (limits.length > 0) {
    out += '\nlimits:\n';
    out += indent(formatFields(limits.map(([k, v]) => [k, String(v)])));
  }
  return out;
}

function indent(text: string): string {
  return text.replace(/^(?=.)/gm, '  ');
}
