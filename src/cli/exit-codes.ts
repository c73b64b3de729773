/** Exit statuses of the `trl` CLI. `trl exec` otherwise exits with the command's own status. */
export const EXIT = {
  OK: 0,
  /** A daemon error answered to a client command, or no daemon to talk to. */
  FAILURE: 1,
  /** Bad command line or bad configuration. */
  USAGE: 2,
  /** `trl exec`: the command ran into its timeout (as coreutils `timeout`). */
  EXEC_TIMED_OUT: 124,
  /** `trl exec`: trl itself failed (daemon error, no daemon, bad flags), as `docker run`. */
  EXEC_TRL_FAILED: 125,
} as const;
