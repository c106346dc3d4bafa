/**
 * Test helper: two Fata stacks, 10.0.0.1 and 10.0.0.2, joined by an in-memory pipe and polled in real time on
 * Node's event loop (a `setImmediate` loop), for code that runs through Node's own callbacks (node:http, node:tls,
 * Web Streams). `stop()` ends the polling; call it in `finally`.
 */
import { createPipe } from '../src/link/index.ts';
import { Stack } from '../src/net/index.ts';
import { NodeRandom, nodeClock } from '../src/targets/node/platform.ts';
import { ip } from './sim-helpers.ts';

export function liveStacks(): { a: Stack; b: Stack; stop: () => void } {
  const [da, db] = createPipe(Uint8Array.of(2, 0, 0, 0, 0, 1), Uint8Array.of(2, 0, 0, 0, 0, 2));
  const mk = (dev: typeof da, addr: string): Stack =>
    new Stack({ device: dev, clock: nodeClock, random: new NodeRandom(), ipv4: { address: ip(addr), prefixLen: 24 } });
  const a = mk(da, '10.0.0.1'),
    b = mk(db, '10.0.0.2');
  let running = true;
  const drive = (): void => {
    if (!running) return;
    const now = nodeClock.monotonicNs();
    a.poll(now);
    b.poll(now);
    setImmediate(drive);
  };
  drive();
  const stop = (): void => {
    running = false;
  };
  return { a, b, stop };
}
