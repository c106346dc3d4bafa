/**
 * Loopback and pipe: the two simplest links. A loopback device receives what
 * it sends; a pipe is a crossed cable between two devices.
 */
import type { MacAddress } from '../devices/index.ts';
import { DEFAULT_QUEUE_FRAMES, LinkEnd } from './queue.ts';

/** A device whose written frames come back on `read`. */
export function createLoopback(mac: MacAddress, mtu = 1500, queueFrames = DEFAULT_QUEUE_FRAMES): LinkEnd {
  const d = new LinkEnd(mac, mtu, queueFrames);
  d.peer = (f) => d.inbox.push(f);
  return d;
}

/** Two devices joined back to back: what `a` writes, `b` reads, and the other way. */
export function createPipe(macA: MacAddress, macB: MacAddress, mtu = 1500, queueFrames = DEFAULT_QUEUE_FRAMES): [LinkEnd, LinkEnd] {
  const a = new LinkEnd(macA, mtu, queueFrames);
  const b = new LinkEnd(macB, mtu, queueFrames);
  a.peer = (f) => b.inbox.push(f);
  b.peer = (f) => a.inbox.push(f);
  return [a, b];
}
