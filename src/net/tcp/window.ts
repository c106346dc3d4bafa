/**
 * The receive window we offer: free space in the receive buffer from RCV.NXT
 * on, within a bound auto-tuned to the peer's rate (it starts at 64 KiB and,
 * once a round trip, grows to what Linux's tcp_rcv_space_adjust offers for
 * what arrived in it), scaled (RFC 7323 §2), never shrunk below an edge
 * already advertised, and announced again only when it has grown enough to
 * be worth it (receiver-side silly window avoidance, RFC 9293 §3.8.6.2.2).
 * Out-of-order data lies inside that space (and is bounded by it), so it
 * does not shrink the window a second time.
 */
import type { ByteQueue } from './bytes.ts';
import { INITIAL_RECEIVE_WINDOW, MAX_WINDOW, MAX_WINDOW_SHIFT, TUNING_INTERVAL_NS } from './constants.ts';

/** Linux's first measure of what arrives in a round trip (tcp_init_buffer_space): the initial window, ten segments. */
const INITIAL_WINDOW_SEGMENTS = 10;
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
  /** The most octets that arrived in one measuring interval so far (Linux's rcvq_space.space); 0 before the first. */
  private space = 0;
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

  /**
   * `len` octets arrived in order (`smss`: the segment size we offered). Once a measuring interval (SRTT, or 100 ms
   * before one), when more arrived in it than in any interval before, the bound grows as Linux's dynamic right-sizing
   * (tcp_rcv_space_adjust) sets it: twice what arrived, plus 16 segments of cushion, plus twice that again times the
   * growth over the best interval before (the first measured against the initial window of ten segments). A sender in
   * slow start doubles each round trip, and the window announced now is used a round trip later, so the bound must run
   * ahead of it: the old rule (twice the bound, or four times what came, once half the bound came) kept slow start on a
   * 100 ms path window-limited for three round trips, and each time the window opened the congestion window it had grown
   * meanwhile left at once, a burst of 500 segments into the queue (test/sim-tcp.test.ts's long path: 1000 lost).
   */
  tune(len: number, now: bigint, srttNs: number, smss: number): void {
    if (this.limit >= this.recvQ.capacity) return;
    this.markBytes += len;
    if (now - this.markNs < BigInt(Math.round(srttNs > 0 ? srttNs : TUNING_INTERVAL_NS))) return;
    const copied = this.markBytes,
      before = this.space || INITIAL_WINDOW_SEGMENTS * smss;
    if (copied > before) {
      let win = 2 * copied + 16 * smss;
      win += (2 * win * (copied - before)) / before;
      this.limit = Math.min(this.recvQ.capacity, Math.max(this.limit, Math.ceil(win)));
      this.space = copied;
    }
    this.markNs = now;
    this.markBytes = 0;
  }
}
