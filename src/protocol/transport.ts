import { join } from 'node:path';

export const DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024;
export const SOCKET_FILE = 'trl.sock';

/** `$XDG_RUNTIME_DIR/trl/trl.sock`, else `/tmp/trl-<uid>/trl.sock` (docs/security.md). */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TRL_SOCKET_PATH) return env.TRL_SOCKET_PATH;
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg && xdg.startsWith('/')) return join(xdg, 'trl', SOCKET_FILE);
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return join('/tmp', `trl-${uid}`, SOCKET_FILE);
}

/** How a client reaches the daemon; docs/protocol.md's transport table is generated from these. */
export interface TransportSpec {
  name: string;
  framing: string;
  auth: string;
  /** How an operator turns it on (or off). */
  enabled: string;
  /** Whether this version has it; a unit test holds it to the CLI (test/unit/transports.test.ts). */
  built: boolean;
}

export const TRANSPORTS: readonly TransportSpec[] = [
  {
    name: 'Unix socket',
    framing:
      "NDJSON: one JSON object per line (UTF-8, `\\n`) in both directions; many requests per connection, pipelined. Raw bytes: `exec.pipe` as the first request of a connection answers one line, then the connection carries one stream of a command's output as raw bytes and closes at its end. `exec.run` and `exec.wait` with `raw_output: true` answer one line whose `data.raw_output` says how many bytes of stdout and of stderr follow it, raw; the next line starts after them (the SDK asks for this on the Unix socket)",
    auth: "socket `0600` in a `0700` directory owned by the daemon's user, or made by the daemon directly in a sticky directory such as `/tmp` (`--compat claw-core`: `/tmp/trl.sock`)",
    enabled: 'on by default (`--socket-path`); `--no-unix-socket` turns it off when `--http` is given',
    built: true,
  },
  {
    name: 'HTTP',
    framing:
      "`POST /v1/rpc`: one request envelope → one response envelope (HTTP 200 for every protocol answer); streaming methods answer `application/x-ndjson`: the response, then one event per line. `GET`/`PUT /v1/files?session_id=…&path=…` move a whole file as raw bytes (PUT: Content-Length needed, at most `max_upload_bytes`; `overwrite`, `mode`, `make_parents`, `expect_hash` as fs.write; GET: `offset`, `length`). `GET /v1/sessions/{session_id}/commands/{command_id}/output?stream=stdout&offset=N[&follow=0]`: one stream of a command's output as raw bytes (chunked, redacted as exec.output), as it is produced until the command is complete; headers `X-Trl-Offset` and `X-Trl-Dropped-Bytes` say where it starts, trailers `X-Trl-End` (`eof`, `gap`: bytes lost by a reader that stopped reading, `now`: follow=0) and `X-Trl-Next-Offset` how it ended; GET again from the next offset to resume",
    auth: '`Authorization: Bearer <TRL_AUTH_TOKEN>` on every request (401 without it)',
    enabled: '`--http HOST:PORT` with `TRL_AUTH_TOKEN` in the environment; HTTPS with `--tls-cert` and `--tls-key`',
    built: true,
  },
  {
    name: 'WebSocket',
    framing: '`GET /v1/ws` upgrade; one text frame carries what one NDJSON line carries',
    auth: 'bearer token on the upgrade request (browsers: offer the subprotocols `trl.v1` and `bearer.<token>`)',
    enabled: 'served with HTTP (`--http`); WSS with TLS',
    built: true,
  },
  {
    name: 'stdio',
    framing: 'NDJSON as on the Unix socket: `trl rpc` reads requests on stdin and writes responses and events on stdout (logs on stderr); it shuts down once stdin ends and every answer is written',
    auth: "the caller's own process: only whoever started it can write its stdin",
    enabled: '`trl rpc` (takes the same settings as `trl serve`; serves no socket)',
    built: true,
  },
];
