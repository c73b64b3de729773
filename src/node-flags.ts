/**
 * The Node.js flags every trl daemon runs with. A running process cannot
 * give them to itself, so they are written out where a daemon starts: `npm
 * start`, the claw-core daemon's shebang, the docker image's launcher, and
 * the daemons the tests and the bench spawn, which take them from here. The
 * `trl` shebang (src/cli/main.ts) carries none: every V8 flag costs a Node
 * process about 7 ms at start-up, which each client call (`trl ping`, `trl
 * exec`) would pay for nothing; `trl serve` and `trl rpc` started without
 * them execute themselves again with them (src/cli/daemon-node-flags.ts).
 * test/unit/node-flags.test.ts checks that every copy says the same.
 *
 * - `--max-semi-space-size=1`: a 1 MB young generation. A larger one costs
 *   about 6.5 MB of idle RSS and no longer speeds streaming up.
 * - `--heap-growing-percent=600`: after a full collection V8 lets the old
 *   generation grow to 7 times what survived before the next one, where its
 *   own heuristics give about 2 times for a heap as small as the daemon's
 *   (9 MB). V8 counts every ArrayBuffer allocated since the last full
 *   collection against that room, and output lives in ArrayBuffers: a pipe
 *   read, a result's JSON, an event's line. With the default room (about
 *   9 MB) a 256 MiB stream cost about 50 full collections (a third of the
 *   daemon's CPU) and a 4 MiB exec.run one every few commands; with this one,
 *   almost none. An idle daemon's RSS does not change (its heap does not
 *   grow when nothing runs), and V8's memory reducer still shrinks the heap
 *   once the daemon goes idle. docs/benchmarks.md has the figures.
 * - `--no-sparkplug`: no baseline (non-optimizing) machine code. V8's
 *   Sparkplug compiles every function that has run a few times, which in a
 *   daemon is mostly start-up code that never runs again; its code and the
 *   pages of V8 it touches cost about 1.3 MiB of RSS for as long as the
 *   daemon lives (idle: 59.3–59.6 MiB without it against 60.7–60.9 with it,
 *   side by side). The paths that run often still get optimized code
 *   (TurboFan), and the bench's rows that run commands, stream and answer
 *   megabytes did not move (docs/benchmarks.md).
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--heap-growing-percent=600', '--no-sparkplug'];
