/**
 * A fault-injecting device: wraps another `NetDevice` and, from a seeded
 * `Random`, drops, duplicates, corrupts, delays and reorders frames in
 * either direction. Held frames are released as the clock passes their due
 * time; `readyAtNs` reports the next one, so a poll loop wakes for it.
 * Egress frames that are held are sent on the next `read`/`write` call after
 * they fall due, so impairment needs no timers of its own.
 */
import { earlier, type Clock, type DeviceResult, type NetDevice, NO_OFFLOAD, type Random, type RxInfo } from '../devices/index.ts';

export interface FaultOptions {
  /** Probability a frame is dropped, 0..1. */
  readonly loss?: number;
  /** Probability a frame is delivered twice. */
  readonly duplicate?: number;
  /** Probability one random bit of the frame is flipped. */
  readonly corrupt?: number;
  /** Probability a frame is held back an extra `reorderDelayNs`, letting later ones pass it. */
  readonly reorder?: number;
  /** Fixed one-way delay. */
  readonly delayNs?: bigint;
  /** Extra uniformly random delay in [0, jitterNs). */
  readonly jitterNs?: bigint;
  /** Extra delay of a reordered frame (default 1 ms). */
  readonly reorderDelayNs?: bigint;
  /** Frames held at most (default 4096); beyond that they are dropped. */
  readonly maxHeld?: number;
  /** A link of this many bits per second: each frame takes its time to send, after the one before it. */
  readonly rateBitsPerSec?: number;
  /** Frames waiting for a rate-limited link at most (default 1000, netem's limit); a frame beyond is dropped. */
  readonly queueFrames?: number;
}

export interface FaultCounters {
  /** Frames that entered. */
  frames: number;
  dropped: number;
  duplicated: number;
  corrupted: number;
  reordered: number;
  overflow: number;
  /** Dropped at a full queue of a rate-limited link. */
  queueDrops: number;
}

export const newFaultCounters = (): FaultCounters => ({
  frames: 0,
  dropped: 0,
  duplicated: 0,
  corrupted: 0,
  reordered: 0,
  overflow: 0,
  queueDrops: 0,
});

interface Held {
  dueNs: bigint;
  frame: Uint8Array;
}

/** A time-ordered hold queue; equal due times keep arrival order. */
class HoldQueue {
  readonly items: Held[] = [];
  insert(h: Held): void {
    let lo = 0,
      hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.items[mid]!.dueNs <= h.dueNs) lo = mid + 1;
      else hi = mid;
    }
    this.items.splice(lo, 0, h);
  }
  popDue(now: bigint): Uint8Array | undefined {
    const first = this.items[0];
    if (!first || first.dueNs > now) return undefined;
    this.items.shift();
    return first.frame;
  }
  nextDue(): bigint | undefined {
    return this.items[0]?.dueNs;
  }
}

/**
 * One direction of an impaired link: frames go in with `push` and come out of `popDue` when their time
 * comes, after loss, duplication, corruption, the link's rate and queue, delay, jitter and reordering.
 */
export class ImpairedPath {
  private readonly random: Random;
  private readonly o: FaultOptions;
  private readonly held = new HoldQueue();
  /** When the rate-limited link finishes sending what it has taken (monotonic ns). */
  private busyUntil = 0n;
  /** The finish times of frames still waiting for, or on, the link. */
  private readonly sending: bigint[] = [];
  readonly counters: FaultCounters;

  constructor(o: FaultOptions, random: Random, counters: FaultCounters = newFaultCounters()) {
    this.o = o;
    this.random = random;
    this.counters = counters;
  }

  private chance(p: number | undefined): boolean {
    return p !== undefined && p > 0 && this.random.u32() / 0x1_0000_0000 < p;
  }

  /** Takes a copy of `frame`, or drops it (counted). */
  push(frame: Uint8Array, now: bigint): void {
    const o = this.o;
    this.counters.frames++;
    if (this.chance(o.loss)) {
      this.counters.dropped++;
      return;
    }
    const copies = this.chance(o.duplicate) ? 2 : 1;
    if (copies === 2) this.counters.duplicated++;
    for (let i = 0; i < copies; i++) {
      const f = frame.slice();
      if (this.chance(o.corrupt) && f.length > 0) {
        const bit = this.random.u32() % (f.length * 8);
        f[bit >>> 3]! ^= 1 << (bit & 7);
        this.counters.corrupted++;
      }
      const sent = this.serialize(f.length, now);
      if (sent === undefined) continue;
      let due = sent + (o.delayNs ?? 0n);
      if (o.jitterNs && o.jitterNs > 0n) due += BigInt(this.random.u32()) % o.jitterNs;
      if (this.chance(o.reorder)) {
        due += o.reorderDelayNs ?? 1_000_000n;
        this.counters.reordered++;
      }
      if (this.held.items.length >= (o.maxHeld ?? 4096)) {
        this.counters.overflow++;
        continue;
      }
      this.held.insert({ dueNs: due, frame: f });
    }
  }

  /** When a frame of `len` bytes has left a rate-limited link (now, without a rate); undefined when its queue is full. */
  private serialize(len: number, now: bigint): bigint | undefined {
    const rate = this.o.rateBitsPerSec;
    if (!rate) return now;
    while (this.sending.length > 0 && this.sending[0]! <= now) this.sending.shift();
    if (this.sending.length >= (this.o.queueFrames ?? 1000)) {
      this.counters.queueDrops++;
      return undefined;
    }
    const start = this.busyUntil > now ? this.busyUntil : now;
    this.busyUntil = start + BigInt(Math.ceil((len * 8 * 1e9) / rate));
    this.sending.push(this.busyUntil);
    return this.busyUntil;
  }

  popDue(now: bigint): Uint8Array | undefined {
    return this.held.popDue(now);
  }

  nextDueNs(): bigint | undefined {
    return this.held.nextDue();
  }

  /** Frames inside the path now. */
  get size(): number {
    return this.held.items.length;
  }
}

export class FaultInjector implements NetDevice {
  private readonly inner: NetDevice;
  private readonly clock: Clock;
  private readonly rxPath: ImpairedPath;
  private readonly txPath: ImpairedPath;
  private readonly scratch: Uint8Array;
  /** Both directions' counts together. */
  readonly counters: FaultCounters = newFaultCounters();

  /** `rx` impairs frames arriving at this device, `tx` frames it sends. */
  constructor(inner: NetDevice, clock: Clock, random: Random, rx: FaultOptions, tx: FaultOptions = {}) {
    this.inner = inner;
    this.clock = clock;
    this.rxPath = new ImpairedPath(rx, random, this.counters);
    this.txPath = new ImpairedPath(tx, random, this.counters);
    this.scratch = new Uint8Array(inner.mtu + 18);
  }

  get mac(): Uint8Array {
    return this.inner.mac;
  }
  get mtu(): number {
    return this.inner.mtu;
  }
  /** Frame by frame, and no checksum vouched for: a corrupted frame must be caught by the stack. */
  readonly capabilities = NO_OFFLOAD;
  private readonly innerRx: RxInfo = { checksumVerified: false };

  private flushTx(now: bigint): void {
    for (let f = this.txPath.popDue(now); f; f = this.txPath.popDue(now)) this.inner.write(f);
  }

  write(frame: Uint8Array): DeviceResult {
    if (frame.length < 14 || frame.length > this.mtu + 18) return 'invalid';
    const now = this.clock.monotonicNs();
    this.txPath.push(frame, now);
    this.flushTx(now);
    return 'ok';
  }

  read(into: Uint8Array, rx: RxInfo): number | 'again' | 'unspecified' {
    const now = this.clock.monotonicNs();
    this.flushTx(now);
    for (;;) {
      const n = this.inner.read(this.scratch, this.innerRx);
      if (n === 'unspecified') return n;
      if (n === 'again') break;
      this.rxPath.push(this.scratch.subarray(0, n), now);
    }
    const f = this.rxPath.popDue(now);
    if (!f) return 'again';
    if (into.length < f.length) throw new RangeError(`read buffer of ${into.length} bytes is too small: it needs mtu + 18`);
    into.set(f);
    rx.checksumVerified = false;
    return f.length;
  }

  readyAtNs(): bigint | undefined {
    return earlier(this.inner.readyAtNs(), earlier(this.rxPath.nextDueNs(), this.txPath.nextDueNs()));
  }
}
