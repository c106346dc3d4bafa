/**
 * Congestion control, pluggable: the connection reports ACKs, the third
 * duplicate ACK and timeouts; the algorithm owns cwnd and ssthresh.
 * NewReno (RFC 5681, RFC 6582) is here; CUBIC (RFC 9438) is to follow
 * behind the same interface.
 */
export interface CongestionControl {
  readonly name: string;
  cwnd: number;
  ssthresh: number;
  /** `acked` new bytes were acknowledged outside fast recovery. */
  onAck(acked: number, mss: number, nowNs: bigint): void;
  /** Entering fast recovery (third duplicate ACK); `flight` bytes were outstanding. */
  onFastRetransmit(flight: number, mss: number): void;
  /** The retransmission timer fired. */
  onTimeout(flight: number, mss: number): void;
}

/** RFC 6928: an initial window of ten segments. */
export const initialWindow = (mss: number): number => 10 * mss;

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
