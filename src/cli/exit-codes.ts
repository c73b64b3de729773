/** Exit statuses of the `trl` CLI (docs/cli.md renders EXIT_TABLE). */
export const EXIT = {
  OK: 0,
  /** A daemon error answered to a client command, or no daemon to talk to. */
  FAILURE: 1,
  /** Bad command line or bad configuration. */
  USAGE: 2,
  /** The command ran into its timeout (as coreutils `timeout`). */
  EXEC_TIMED_OUT: 124,
  /** trl itself failed (bad flags, no daemon, an error from the daemon), as `docker run` and `docker exec`. */
  EXEC_TRL_FAILED: 125,
  /** The program was found but could not be run (as shells and docker). */
  EXEC_CANNOT_RUN: 126,
  /** The program was not found (as shells, ssh and docker). */
  EXEC_NOT_FOUND: 127,
} as const;

/** The rule, for the help texts and docs/cli.md. */
export const EXIT_TABLE = `Commands that run a command (\`trl exec\`, \`trl shell\`, \`trl attach\`) exit with
its status, so that scripts see the command's own; otherwise, as docker and shells do:

| Status | Meaning |
|---|---|
| N | the command's own exit status |
| 128+N | the command was killed by signal N (trl stopped waiting at a signal: the same) |
| 124 | the command ran into its timeout (as coreutils \`timeout\`) |
| 125 | trl itself failed: bad flags, no daemon, an error from the daemon |
| 126 | the program was found but could not be run |
| 127 | the program was not found |

Every other command: 0 success, 1 failure (no daemon, the daemon refused, a name
that matches nothing), 2 bad command line or settings.`;
