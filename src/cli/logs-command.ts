import type { Command } from 'commander';
import { parseOffset } from './arg-parsers.js';
import type { AnyTrlClient } from '../client/connect.js';
import type { ResultOf } from '../protocol/methods.js';
import { resolveCommand } from './refs.js';
import { addClientOptions, runWithClient, type ClientOptions } from './connect.js';
import { EXIT } from './exit-codes.js';
import { printJson, warn } from './output.js';
import { pipeEvents, printEventsAsJson } from './stream-output.js';
import { writeBytes } from './write-bytes.js';

interface LogsOptions extends ClientOptions {
  follow?: boolean;
  from?: number;
  stderr?: boolean;
}

type OutputStream = 'stdout' | 'stderr';

const HELP_AFTER = `
Prints what the command wrote to its stdout (with --stderr: its stderr) and
the daemon still holds, byte for byte, on trl's stdout. Over
max_output_bytes the daemon keeps the head and the tail; a notice on stderr
says how many bytes of the middle are gone. A pseudo-terminal command has
everything in stdout.

--from N starts at byte offset N of that stream (offsets count every byte the
command ever wrote). -f keeps printing new output until the command ends
(exec.attach), then exits 0.

--json prints the exec.output result ({data, encoding, offset, next_offset,
eof, dropped_bytes}, the pages joined, data as UTF-8 text); with -f, every
event of the stream as one JSON line instead.

Examples:
  trl logs "$ID"
  trl logs -f --from 1024 "$ID"
  trl logs --stderr "$ID" | grep -i error`;

/** `trl logs ID [-f] [--from N] [--stderr]` over `exec.output` / `exec.attach`. */
export function registerLogsCommand(program: Command): void {
  const cmd = program
    .command('logs')
    .description("print a command's buffered output; -f follows it until it ends")
    .argument('<id>', 'command id, or a unique prefix of one')
    .option('-f, --follow', 'keep printing new output until the command ends')
    .option('--from <offset>', 'start at this byte offset of the stream (default 0)', parseOffset)
    .option('--stderr', 'show the stderr stream instead of stdout')
    .addHelpText('after', HELP_AFTER);
  addClientOptions(cmd);

  cmd.action(async (ref: string, opts: LogsOptions) => {
    await runWithClient(opts, async (client) => {
      const id = await resolveCommand(client, ref);
      const stream: OutputStream = opts.stderr ? 'stderr' : 'stdout';
      const from = opts.from ?? 0;
      if (opts.follow) return follow(client, id, stream, from, opts.json === true);
      if (opts.json) printJson(await readAll(client, id, stream, from));
      else await printBuffered(client, id, stream, from);
      return EXIT.OK;
    });
  });
}

/** Page through exec.output until eof or nothing more is there yet. */
async function printBuffered(client: AnyTrlClient, id: string, stream: OutputStream, from: number): Promise<void> {
  let offset = from;
  for (;;) {
    const page = await client.call('exec.output', { command_id: id, stream, offset, encoding: 'base64' });
    if (page.dropped_bytes > 0) warn(`${page.dropped_bytes} bytes of ${stream} are gone (the daemon kept only the head and tail)`);
    const bytes = Buffer.from(page.data, 'base64');
    await writeBytes(process.stdout, bytes);
    if (page.eof || bytes.length === 0 || page.next_offset <= offset) return;
    offset = page.next_offset;
  }
}

/** --json: every page from `from` to what is there now, joined into one exec.output result (UTF-8). */
async function readAll(client: AnyTrlClient, id: string, stream: OutputStream, from: number): Promise<ResultOf<'exec.output'>> {
  let all: ResultOf<'exec.output'> | undefined;
  let offset = from;
  for (;;) {
    const page = await client.call('exec.output', { command_id: id, stream, offset, encoding: 'utf8' });
    all = all === undefined ? page : { ...page, data: all.data + page.data, offset: all.offset, dropped_bytes: all.dropped_bytes + page.dropped_bytes };
    if (page.eof || page.data.length === 0 || page.next_offset <= offset) return all;
    offset = page.next_offset;
  }
}

/** Replay from `from`, then live output, until the command's exit event. */
async function follow(client: AnyTrlClient, id: string, stream: OutputStream, from: number, json: boolean): Promise<number> {
  const opened = await client.stream('exec.attach', {
    command_id: id,
    from_offset: { [stream]: from },
    encoding: json ? 'utf8' : 'base64',
  });
  if (!json) await pipeEvents(opened.events, { only: stream });
  // The error event is in the JSON; the status says it too.
  else if ((await printEventsAsJson(opened.events, { only: stream })) === null) return EXIT.FAILURE;
  return EXIT.OK;
}
