/**
 * Congestion control, pluggable: loss recovery (recovery.ts) reports ACKs,
 * the start of a recovery and timeouts; the algorithm owns cwnd and ssthresh
 * (recovery sets cwnd itself while it lasts). NewReno (RFC 5681, RFC 6582)
 * and CUBIC (RFC 9438, the default) are here.
 */
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
      this.cwnd += Math.min(acked, mss); // RFC 5681 §3.1 slow start (appropriate byte counting, L=1).
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

  constructor(mss: number) {
    this.cwnd = initialWindow(mss);
  }

  onAck(acked: number, mss: number, nowNs: bigint, srttNs = 0): void {
    if (this.cwnd < this.ssthresh) {
      this.cwnd += Math.min(acked, mss); // Slow start (RFC 9438 §4.10 keeps standard slow start).
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
    this.cwnd = mss;
  }
}
