/**
 * The receive window we offer: free space in the receive buffer from RCV.NXT
 * on, within a bound auto-tuned to the peer's rate (it starts at 64 KiB and
 * doubles each round trip in which the peer fills half of it, like Linux's
 * tcp_rcv_space_adjust), scaled (RFC 7323 §2), never shrunk below an edge
 * already advertised, and announced again only when it has grown enough to
 * be worth it (receiver-side silly window avoidance, RFC 9293 §3.8.6.2.2).
 * Out-of-order data lies inside that space (and is bounded by it), so it
 * does not shrink the window a second time.
 */
import type { ByteQueue } from './bytes.ts';
import { INITIAL_RECEIVE_WINDOW, MAX_WINDOW, MAX_WINDOW_SHIFT, TUNING_INTERVAL_NS } from './constants.ts';
import { seqAdd, seqDiff, seqLt } from './seq.ts';

export class ReceiveWindow {
  /** RFC 7323 §2.2 Rcv.Wind.Shift: the scale we offer, or 0 (it applies only if both ends scale). */
  shift = 0;
  /** The auto-tuned bound on the window (at most the receive buffer). */
  limit: number;
  /**
   * The right edge last advertised, RCV.NXT + RCV.WND as sent; undefined until the first. (An initial 0
   * was taken for an edge already advertised: with the peer's ISN in the half of the sequence space
   * before 0, the window offered reached up to 0, capped at 65535 << shift — twice a 4 MiB buffer.)
   */
  private edge: number | undefined;
  /** When the auto-tuning last measured, and the octets received in order since. */
  private markNs = 0n;
  private markBytes = 0;
  private readonly recvQ: ByteQueue;

  /** `recvQ`: the data the application has not taken. `scaling`: offer window scaling. */
  constructor(recvQ: ByteQueue, scaling: boolean) {
    this.recvQ = recvQ;
    this.limit = Math.min(recvQ.capacity, INITIAL_RECEIVE_WINDOW);
    // RFC 7323 §2.3: the least shift that lets the window cover the whole buffer, at most 14.
    if (scaling) while (this.shift < MAX_WINDOW_SHIFT && MAX_WINDOW << this.shift < recvQ.capacity) this.shift++;
  }

  /** The window we can offer now (octets from RCV.NXT on). */
  size(): number {
    return Math.max(0, this.limit - this.recvQ.length);
  }

  /** The window field of a SYN or SYN-ACK: never scaled (RFC 7323 §2.2). */
  synField(): number {
    return Math.min(MAX_WINDOW, this.recvQ.capacity);
  }

  /** A connection that starts established without scaling (from a SYN cookie): the edge its SYN-ACK offered. */
  startUnscaled(rcvNxt: number): void {
    this.shift = 0;
    this.edge = seqAdd(rcvNxt, this.synField());
  }

  /** The window field of a segment acknowledging `rcvNxt`, scaled; never shrinks the window offered (RFC 9293 §3.8.6.2.2). */
  field(rcvNxt: number): number {
    const shift = this.shift;
    let w = Math.min(MAX_WINDOW, this.size() >>> shift);
    const edge = seqAdd(rcvNxt, w << shift);
    if (this.edge !== undefined && seqLt(edge, this.edge)) w = Math.min(MAX_WINDOW, seqDiff(this.edge, rcvNxt) >>> shift);
    else this.edge = edge;
    return w;
  }

  /** RFC 9293 §3.8.6.2.2: whether the right edge can move by min(window/2, MSS) beyond the edge last advertised. */
  updateWorthSending(rcvNxt: number, smss: number): boolean {
    const gain = seqDiff(seqAdd(rcvNxt, this.size()), this.edge ?? rcvNxt);
    return gain >= Math.min(this.limit / 2, smss);
  }

  /** `len` octets arrived in order. Once per round trip: if the peer sent at least half the window, double it (up to the buffer). */
  tune(len: number, now: bigint, srttNs: number): void {
    if (this.limit >= this.recvQ.capacity) return;
    this.markBytes += len;
    if (now - this.markNs < BigInt(Math.round(srttNs > 0 ? srttNs : TUNING_INTERVAL_NS))) return;
    // Dynamic right-sizing (Linux's tcp_rcv_space_adjust): offer at least twice what arrived in the last round trip,
    // so that a sender in slow start (which doubles each round trip) is never held back by the window.
    if (this.markBytes * 2 >= this.limit) this.limit = Math.min(this.recvQ.capacity, Math.max(this.limit * 2, this.markBytes * 4));
    this.markNs = now;
    this.markBytes = 0;
  }
}
