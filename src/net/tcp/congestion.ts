/**
 * Congestion control, pluggable: loss recovery (recovery.ts) reports ACKs,
 * the start of a recovery and timeouts; the algorithm owns cwnd and ssthresh
 * (recovery sets cwnd itself while it lasts, unless the controller is
 * model-based). NewReno (RFC 5681, RFC 6582) and CUBIC (RFC 9438, the
 * default) are here; BBR (model-based, paced) is in bbr.ts.
 */
import type { RateSample } from './rate.ts';

/** The connection's loss-recovery state as a model-based controller sees it (Linux's TCP_CA_Open, TCP_CA_Recovery, TCP_CA_Loss after a timeout). */
export const CA_OPEN = 0,
  CA_RECOVERY = 1,
  CA_LOSS = 2;
export type CaState = typeof CA_OPEN | typeof CA_RECOVERY | typeof CA_LOSS;

export interface CongestionControl {
  readonly name: string;
  cwnd: number;
  ssthresh: number;
  /** `acked` new bytes were acknowledged outside fast recovery; `srttNs` is 0 before the first sample. */
  onAck(acked: number, mss: number, nowNs: bigint, srttNs?: number): void;
  /** Entering fast recovery (DupThresh duplicate ACKs, fewer for a short flight, or as much SACKed); `flight` bytes were outstanding. */
  onFastRetransmit(flight: number, mss: number): void;
  /** The retransmission timer fired. */
  onTimeout(flight: number, mss: number): void;
  /**
   * The last fast recovery was spurious (reordering, not loss): recovery has put cwnd and ssthresh back; the
   * controller puts back the rest of its state as it was before `onFastRetransmit` (RFC 9438 §4.9).
   */
  onUndo?(): void;
  /** Every ACK of new data, before `onAck`: the RTT it measured (ns; undefined if none), the ACK and SND.MAX. */
  onRoundAck?(rttNs: number | undefined, ack: number, sndMax: number): void;
  /**
   * Model-based control (BBR): the connection keeps delivery-rate records (rate.ts) and calls this on
   * every ACK that delivers data or shows loss, in recovery too, before it sends; the controller then
   * sets cwnd itself (SACK recovery neither sets it from ssthresh nor restores it). Returns true when
   * what is in flight is to count as application-limited.
   */
  onRateSample?(rs: RateSample, nowNs: number, mss: number, state: CaState, srttNs: number): boolean;
  /** Pacing: bytes a second (absent: no pacing), and the bytes that may leave together in one pacing slot. */
  readonly pacingRate?: number;
  readonly sendQuantum?: number;
  /** New data leaves after the sender was idle and application-limited. */
  onTransmitStart?(nowNs: number): void;
}

/**
 * HyStart: slow start ends before it overflows the path's queue. RFC 9406's delay-increase test: each round (a window
 * of data, from SND.MAX when it began until it is acknowledged) takes the least RTT of its samples; once a round has
 * N_RTT_SAMPLE of them and its least RTT has grown past the last round's by a threshold (1/8 of it, 4 to 16 ms), the
 * queue is filling. Slow start then ends at once (ssthresh = cwnd), as Linux's HyStart does (tcp_cubic.c), not after
 * RFC 9406's Conservative Slow Start (five more rounds growing a quarter as fast, undone when a round's least RTT falls
 * back below the one that started it). Measured on the netsim's long path (100 Mbit/s, 100 ms, a 1000-frame queue; 863
 * segments fill the pipe): the increase showed at cwnd 1026 (RTT 124 ms against 100); 53 ms later CSS was undone by an
 * RTT of 101 ms, a segment sent before the increase showed, at the head of one of slow start's bursts (without pacing
 * the flight moves as bursts shorter than the RTT, and the queue empties between them, so a round's least RTT mixes
 * the head of one burst with the tail of another); slow start ran on to 2323 segments and lost 502. With that undo
 * taken out, CSS's own growth of a quarter a round overflowed the queue in its third round (182 lost); ending slow
 * start at the increase lost none. Loss ends slow start as before.
 */
export class HyStart {
  private static readonly MIN_RTT_THRESH = 4e6;
  private static readonly MAX_RTT_THRESH = 16e6;
  private static readonly N_RTT_SAMPLE = 8;
  private windowEnd: number | undefined;
  private lastRoundMin = Number.POSITIVE_INFINITY;
  private roundMin = Number.POSITIVE_INFINITY;
  private samples = 0;
  /** Slow start should end now (the caller sets ssthresh to cwnd). */
  done = false;

  onRoundAck(rttNs: number | undefined, ack: number, sndMax: number): void {
    if (this.done) return;
    if (this.windowEnd === undefined || ((ack - this.windowEnd) | 0) >= 0) {
      // A new round (RFC 9406 §4.2).
      this.lastRoundMin = this.roundMin;
      this.roundMin = Number.POSITIVE_INFINITY;
      this.samples = 0;
      this.windowEnd = sndMax;
    }
    if (rttNs === undefined) return;
    this.roundMin = Math.min(this.roundMin, rttNs);
    this.samples++;
    if (this.samples < HyStart.N_RTT_SAMPLE || !Number.isFinite(this.lastRoundMin)) return;
    const thresh = Math.min(HyStart.MAX_RTT_THRESH, Math.max(HyStart.MIN_RTT_THRESH, this.lastRoundMin / 8));
    if (this.roundMin >= this.lastRoundMin + thresh) this.done = true;
  }
}

/** RFC 6928 §2: an initial window of ten segments, up to 14600 bytes (but at least two): min(10 MSS, max(2 MSS, 14600)). */
export const initialWindow = (mss: number): number => Math.min(10 * mss, Math.max(2 * mss, 14600));

export class NewReno implements CongestionControl {
  readonly name = 'newreno';
  cwnd: number;
  ssthresh = Number.MAX_SAFE_INTEGER;
  private bytesAcked = 0;

  constructor(mss: number) {
    this.cwnd = initialWindow(mss);
  }

  onAck(acked: number, mss: number): void {
    if (this.cwnd < this.ssthresh) {
      this.cwnd += Math.min(acked, 2 * mss); // Slow start with appropriate byte counting, L = 2 SMSS (RFC 3465 §2.3).
      return;
    }
    this.bytesAcked += acked; // Congestion avoidance: one MSS per window's worth of ACKed bytes.
    if (this.bytesAcked >= this.cwnd) {
      this.bytesAcked -= this.cwnd;
      this.cwnd += mss;
    }
  }

  onFastRetransmit(flight: number, mss: number): void {
    this.ssthresh = Math.max(flight / 2, 2 * mss); // RFC 5681 eq. 4
    this.cwnd = this.ssthresh;
  }

  onTimeout(flight: number, mss: number): void {
    this.ssthresh = Math.max(flight / 2, 2 * mss);
    this.cwnd = mss; // The loss window.
    this.bytesAcked = 0;
  }
}

/**
 * CUBIC (RFC 9438): after a loss the window follows W(t) = C(t - K)^3 + Wmax,
 * flat near the old maximum and probing beyond it, never slower than the
 * Reno-friendly estimate (§4.3). C = 0.4, beta = 0.7, fast convergence (§4.7).
 * Windows are kept in bytes; the curve is in segments, as the RFC writes it.
 */
export class Cubic implements CongestionControl {
  readonly name = 'cubic';
  cwnd: number;
  ssthresh = Number.MAX_SAFE_INTEGER;
  private static readonly C = 0.4;
  private static readonly BETA = 0.7;
  private wMax = 0; // segments
  private wLastMax = 0; // segments
  private k = 0; // seconds
  private epochNs: bigint | undefined;
  private wEst = 0; // segments (Reno-friendly estimate)
  /** Slow start's exit (RFC 9438 §4.10 recommends HyStart++; see HyStart for what is kept of it); the first one only, as RFC 9406 §4.2 says. */
  private hystart: HyStart | undefined = new HyStart();
  /** The state before the last reduction, for undoing a spurious one (RFC 9438 §4.9). */
  private prior:
    | { wMax: number; wLastMax: number; k: number; epochNs: bigint | undefined; wEst: number; hystart: HyStart | undefined }
    | undefined;

  constructor(mss: number) {
    this.cwnd = initialWindow(mss);
  }

  onRoundAck(rttNs: number | undefined, ack: number, sndMax: number): void {
    if (!this.hystart || this.cwnd >= this.ssthresh) return;
    this.hystart.onRoundAck(rttNs, ack, sndMax);
    if (this.hystart.done) {
      this.ssthresh = this.cwnd;
      this.hystart = undefined;
    }
  }

  onAck(acked: number, mss: number, nowNs: bigint, srttNs = 0): void {
    if (this.cwnd < this.ssthresh) {
      // Slow start, with appropriate byte counting and L = 2 SMSS (RFC 3465 §2.3): a delayed ACK of two segments
      // counts as two, so the window doubles each round trip as slow start means it to.
      this.cwnd += Math.min(acked, 2 * mss);
      return;
    }
    const cwndSeg = this.cwnd / mss;
    if (this.epochNs === undefined) {
      // A congestion-avoidance epoch starts (§4.2): from here t counts.
      this.epochNs = nowNs;
      if (this.wMax <= cwndSeg) {
        this.k = 0;
        this.wMax = cwndSeg;
      } else this.k = Math.cbrt((this.wMax - cwndSeg) / Cubic.C);
      this.wEst = cwndSeg;
    }
    const t = Number(nowNs - this.epochNs) / 1e9 + srttNs / 1e9;
    const target = Cubic.C * (t - this.k) ** 3 + this.wMax; // W_cubic(t + RTT), §4.2
    // Reno-friendly region (§4.3): alpha = 3(1 - beta)/(1 + beta) segments per window.
    this.wEst += (((3 * (1 - Cubic.BETA)) / (1 + Cubic.BETA)) * (acked / mss)) / cwndSeg;
    const goal = Math.max(target, this.wEst);
    if (goal > cwndSeg) {
      // Grow by (goal - cwnd)/cwnd segments per segment acknowledged, at most 1.5× per RTT (§4.4).
      const inc = (Math.min(goal - cwndSeg, cwndSeg / 2) / cwndSeg) * (acked / mss);
      this.cwnd += inc * mss;
    }
  }

  private reduce(mss: number): void {
    this.prior = { wMax: this.wMax, wLastMax: this.wLastMax, k: this.k, epochNs: this.epochNs, wEst: this.wEst, hystart: this.hystart };
    this.hystart = undefined; // Loss ends slow start; HyStart is for the first one only.
    const cwndSeg = this.cwnd / mss;
    // Fast convergence (§4.7): give up bandwidth when the maximum keeps shrinking.
    this.wMax = cwndSeg < this.wLastMax ? (cwndSeg * (1 + Cubic.BETA)) / 2 : cwndSeg;
    this.wLastMax = cwndSeg;
    this.ssthresh = Math.max(this.cwnd * Cubic.BETA, 2 * mss);
    this.epochNs = undefined;
  }

  onFastRetransmit(_flight: number, mss: number): void {
    this.reduce(mss);
    this.cwnd = this.ssthresh;
  }

  onTimeout(_flight: number, mss: number): void {
    this.reduce(mss);
    this.prior = undefined; // A timeout is not undone.
    this.cwnd = mss;
  }

  /**
   * RFC 9438 §4.9: a spurious congestion event is undone, the curve's state with the window: a slow start that
   * reordering interrupted goes on with its HyStart (without it, slow start would run on until the path's
   * queue overflowed: with 10% reordering, every early recovery was spurious and undone, and the window grew
   * to 1345 segments on a 172-segment path with a 1000-frame queue, ending in a timeout).
   */
  onUndo(): void {
    const p = this.prior;
    if (!p) return;
    this.wMax = p.wMax;
    this.wLastMax = p.wLastMax;
    this.k = p.k;
    this.epochNs = p.epochNs;
    this.wEst = p.wEst;
    this.hystart = p.hystart;
    this.prior = undefined;
  }
}
