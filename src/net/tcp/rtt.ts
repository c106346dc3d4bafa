/**
 * Round-trip time and the retransmission timeout (RFC 6298). Measurements
 * come from echoed timestamps when both ends use them (RTTM, RFC 7323 §4),
 * else from one timed segment at a time; Karn's algorithm (RFC 6298 §3)
 * keeps retransmitted data out of both. Each timeout doubles the RTO (§5.5)
 * until an ACK for new data brings a fresh measurement.
 */
import type { TcpOptions } from '../../wire/tcp.ts';
import { CLOCK_GRANULARITY_NS, INITIAL_RTO_NS, MAX_RTO_NS, MIN_RTO_NS } from './constants.ts';
import { seqGe } from './seq.ts';
import type { TcpConfig } from './types.ts';

export class RttEstimator {
  /** The measurement the last `newAck` took (ns), or undefined when it took none. */
  latest: number | undefined;
  /** SRTT and RTTVAR (ns); SRTT is 0 before the first measurement. */
  srtt = 0;
  rttvar = 0;
  /** The RTO in ns, and the same rounded to a bigint, ready to add to a time. */
  rtoNs: number;
  rto: bigint;
  /**
   * Timeouts since new data was last acknowledged: the backoff exponent of the RTO, and the count of
   * retransmissions checked against the retry limit (RFC 1122 §4.2.3.5).
   */
  backoff = 0;
  /** The segment being timed ends here (undefined: none is), and it was sent at `timedAtNs`. */
  timedSeq: number | undefined;
  timedAtNs = 0n;
  /**
   * Timestamp clock (ms) at the last retransmission (set by the connection as it resends); undefined
   * before any. (It was 0, which an echo compares as older than whenever the clock has passed 2^31 ms.)
   */
  lastRetransmitTs: number | undefined;
  readonly minRtoNs: number;
  readonly maxRtoNs: number;

  constructor(cfg: Pick<TcpConfig, 'initialRtoNs' | 'minRtoNs' | 'maxRtoNs'>) {
    this.rtoNs = Number(cfg.initialRtoNs ?? INITIAL_RTO_NS);
    this.rto = BigInt(Math.round(this.rtoNs));
    this.minRtoNs = Number(cfg.minRtoNs ?? MIN_RTO_NS);
    this.maxRtoNs = Number(cfg.maxRtoNs ?? MAX_RTO_NS);
  }

  private setRto(ns: number): void {
    this.rtoNs = ns;
    this.rto = BigInt(Math.round(ns));
  }

  /** RFC 6298 §2.2-2.3: SRTT, RTTVAR and RTO from one measurement `r` (ns); §2.4-2.5 bound the RTO. */
  sample(r: number): void {
    this.latest = r;
    if (this.srtt === 0) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.setRto(Math.min(this.maxRtoNs, Math.max(this.minRtoNs, this.srtt + Math.max(CLOCK_GRANULARITY_NS, 4 * this.rttvar))));
  }

  /** Times the segment ending at `end`, sent at `now`, unless one is timed already or timestamps measure (RFC 6298 §3). */
  timeSegment(end: number, now: bigint, tsOk: boolean): void {
    if (this.timedSeq !== undefined || tsOk) return;
    this.timedSeq = end;
    this.timedAtNs = now;
  }

  /** A SYN or SYN-ACK went out at `now`: the handshake is timed from the latest one (see handshakeDone). */
  timeSyn(now: bigint): void {
    this.timedAtNs = now;
  }

  /** Karn's algorithm (RFC 6298 §3): a retransmission ambiguates the timed segment's measurement. */
  stopTiming(): void {
    this.timedSeq = undefined;
  }

  /**
   * The SYN or SYN-ACK is acknowledged: its round trip is the first measurement, unless it was resent
   * (Karn) or timestamps will measure instead (`measure` false). Ends the backoff.
   */
  handshakeDone(now: bigint, measure: boolean): void {
    if (this.backoff === 0 && measure) this.sample(Number(now - this.timedAtNs));
    this.backoff = 0;
  }

  /**
   * An ACK for new data up to `ack`. RTTM (RFC 7323 §4.1) when it echoes a timestamp, unless the echo
   * is older than our last retransmission and so may be the original's (RFC 7323 §4.3 updates
   * TS.Recent only for acceptable segments: Karn's rule applied to timestamps); else the timed segment.
   * Ends the backoff (RFC 6298 §5: the doubled RTO stays until a new measurement replaces it).
   */
  newAck(ack: number, o: TcpOptions, tsOk: boolean, tsNow: number, now: bigint): void {
    this.latest = undefined;
    const rxt = this.lastRetransmitTs;
    if (tsOk && o.hasTimestamps && o.tsEcr !== 0 && (rxt === undefined || ((o.tsEcr - rxt) | 0) >= 0)) {
      this.sample(Math.max(1, (tsNow - o.tsEcr) >>> 0) * 1e6);
    } else if (this.timedSeq !== undefined && seqGe(ack, this.timedSeq)) {
      this.sample(Number(now - this.timedAtNs));
    }
    if (this.timedSeq !== undefined && seqGe(ack, this.timedSeq)) this.timedSeq = undefined;
    this.backoff = 0;
  }

  /** RFC 6298 §5.5-5.6: the retransmission timer expired: double the RTO (up to the maximum) and stop timing. */
  backOff(): void {
    this.backoff++;
    this.setRto(Math.min(this.maxRtoNs, this.rtoNs * 2));
    this.timedSeq = undefined;
  }
}
