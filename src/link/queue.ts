/**
 * A bounded FIFO of frames with the receive half of `NetDevice`: the base of
 * every in-memory link device. Frames are copied in, so writers may reuse
 * their buffers; when full, new frames are dropped and counted.
 */
import { type DeviceResult, type MacAddress, type NetDevice, NO_OFFLOAD, type RxInfo } from '../devices/index.ts';
import { ETHERNET_HEADER_LEN } from '../devices/index.ts';

export const DEFAULT_QUEUE_FRAMES = 1024;

export class FrameQueue {
  private readonly frames: Uint8Array[] = [];
  private head = 0;
  dropped = 0;
  readonly limit: number;

  constructor(limit = DEFAULT_QUEUE_FRAMES) {
    this.limit = limit;
  }

  get length(): number {
    return this.frames.length - this.head;
  }

  push(frame: Uint8Array): boolean {
    if (this.length >= this.limit) {
      this.dropped++;
      return false;
    }
    this.frames.push(frame.slice());
    return true;
  }

  shift(): Uint8Array | undefined {
    if (this.head >= this.frames.length) return undefined;
    const f = this.frames[this.head++];
    if (this.head > 64 && this.head * 2 > this.frames.length) {
      this.frames.splice(0, this.head);
      this.head = 0;
    }
    return f;
  }
}

/** Checks a frame's size against a device's MTU (`NetDevice.write`'s 'invalid' rule). */
export function frameSizeOk(frame: Uint8Array, mtu: number): boolean {
  return frame.length >= ETHERNET_HEADER_LEN && frame.length <= mtu + ETHERNET_HEADER_LEN + 4;
}

/** Copies a queued frame into a reader's buffer per `NetDevice.read`. */
export function readFrom(q: FrameQueue, into: Uint8Array, mtu: number): number | 'again' {
  if (into.length < mtu + ETHERNET_HEADER_LEN + 4) {
    throw new RangeError(`read buffer of ${into.length} bytes is too small: it needs mtu + 18 = ${mtu + 18}`);
  }
  const f = q.shift();
  if (!f) return 'again';
  into.set(f);
  return f.length;
}

/**
 * One end of an in-memory link: frames written go to `peer` (set by whoever
 * wires the link), frames for this end wait in `inbox`.
 */
export class LinkEnd implements NetDevice {
  readonly mac: MacAddress;
  readonly mtu: number;
  readonly inbox: FrameQueue;
  /** Where written frames go; `undefined` drops them (an unplugged cable). */
  peer: ((frame: Uint8Array) => boolean) | undefined;
  txFrames = 0;
  rxFrames = 0;

  constructor(mac: MacAddress, mtu = 1500, queueFrames = DEFAULT_QUEUE_FRAMES) {
    if (mac.length !== 6) throw new RangeError('a MAC address has exactly 6 bytes');
    this.mac = mac.slice();
    this.mtu = mtu;
    this.inbox = new FrameQueue(queueFrames);
  }

  write(frame: Uint8Array): DeviceResult {
    if (!frameSizeOk(frame, this.mtu)) return 'invalid';
    this.txFrames++;
    if (!this.peer) return 'ok';
    return this.peer(frame) ? 'ok' : 'again';
  }

  readonly capabilities = NO_OFFLOAD;

  read(into: Uint8Array, rx: RxInfo): number | 'again' {
    const n = readFrom(this.inbox, into, this.mtu);
    if (n === 'again') return n;
    this.rxFrames++;
    rx.checksumVerified = false;
    return n;
  }

  readyAtNs(): bigint | undefined {
    return this.inbox.length > 0 ? 0n : undefined;
  }
}

/** Every frame `d` has now, copied (tests and tools that watch a link end). */
export function drainFrames(d: NetDevice): Uint8Array[] {
  const out: Uint8Array[] = [];
  const buf = new Uint8Array(Math.max(d.mtu + 18, d.capabilities.rxOffload ? (d.capabilities.gsoMax ?? 0) : 0));
  const rx: RxInfo = { checksumVerified: false };
  for (let n = d.read(buf, rx); typeof n === 'number'; n = d.read(buf, rx)) out.push(buf.slice(0, n));
  return out;
}
