/**
 * The ping probe's own process (see pinger.ts): connects to the daemon, sends
 * `system.ping` one after the other, `gapMs` apart, while its parent says the
 * load is on, and times each from request to answer. Its own event loop
 * delay is measured too: on a saturated machine a process that sleeps wakes
 * late, and that part of a ping's time is the machine's, not the daemon's.
 *
 * Messages from the parent: 'active', 'idle', 'stop'. To the parent: 'ready'
 * once connected, then one PingerReport after 'stop'.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { TrlClient } from '../../src/client/client.js';
import { sleep } from './proc.js';
import type { PingerReport } from './pinger.js';

const [socketPath, gapArg] = process.argv.slice(2);
if (!socketPath || !gapArg || !process.send) throw new Error('usage: fork(pinger-child.js, [socketPath, gapMs]) with an IPC channel');
const send = process.send.bind(process);
const gapMs = Number(gapArg);

const client = await TrlClient.connect({ socketPath });
const samples: number[] = [];
const delay = monitorEventLoopDelay({ resolution: 1 });
let active = false;
let stopped = false;

process.on('message', (m) => {
  if (m === 'active') {
    active = true;
    delay.enable();
  } else if (m === 'idle') {
    active = false;
    delay.disable();
  } else if (m === 'stop') stopped = true;
});
send('ready');

while (!stopped) {
  if (active) {
    const start = performance.now();
    await client.call('system.ping', {});
    if (active) samples.push(performance.now() - start);
  }
  await sleep(gapMs);
}
delay.disable();
client.close();
const report: PingerReport = { samples, ownLoopDelayP99Ms: delay.count > 0 ? delay.percentile(99) / 1e6 : null };
send(report, () => process.disconnect());
