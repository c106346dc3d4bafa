/**
 * A connection's timers, one named set of deadlines (absolute ns on the
 * monotonic clock; undefined while a timer is stopped) with the one place
 * that says when the next is due. The TCP layer polls `next()`; the
 * connection runs what expired (its `onTimer`) and owns what each does.
 *
 *   rto        retransmission (RFC 6298 §5), brought forward to the user timeout (RFC 9293 §3.8.3, RFC 5482)
 *   tlp        tail loss probe (RFC 8985 §7)
 *   rack       RACK's reordering timer: when a segment not yet lost by time will be (RFC 8985 §6.2 step 5)
 *   persist    zero-window probe (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17)
 *   delAck     delayed ACK (RFC 9293 §3.8.6.3)
 *   keepAlive  keep-alive probe (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6)
 *   timeWait   2×MSL in TIME-WAIT (RFC 9293 §3.10.7.4)
 *   pace       the next pacing slot, when a paced sender (bbr.ts) holds data back
 */
import { earlier } from '../../devices/index.ts';
import { DELAYED_ACK_NS, FIN_WAIT_2_NS, KEEPALIVE_INTERVAL_NS, TIME_WAIT_NS } from './constants.ts';
import type { TcpConfig } from './types.ts';

type TimerConfig = Pick<
  TcpConfig,
  'timeWaitNs' | 'finWait2TimeoutNs' | 'delayedAckNs' | 'keepAliveNs' | 'keepAliveIntervalNs' | 'userTimeoutNs'
>;

/** Whether a deadline is set and `now` has reached it. */
export const due = (at: bigint | undefined, now: bigint): boolean => at !== undefined && now >= at;

export class Timers {
  rto: bigint | undefined;
  tlp: bigint | undefined;
  rack: bigint | undefined;
  persist: bigint | undefined;
  delAck: bigint | undefined;
  keepAlive: bigint | undefined;
  timeWait: bigint | undefined;
  pace: bigint | undefined;
  /** For the user timeout: when the oldest unacknowledged data was first sent (undefined: none is out). */
  unackedSince: bigint | undefined;
  /** Zero-window probes since the window closed (the persist backoff), and how many went unanswered. */
  persistBackoff = 0;
  persistProbes = 0;
  /** Keep-alive probes unanswered. */
  keepAliveProbes = 0;
  private readonly timeWaitNs: bigint;
  private readonly finWait2Ns: bigint;
  private readonly delayedAckNs: bigint;
  private readonly keepAliveNs: bigint | undefined;
  private readonly keepAliveIntervalNs: bigint;
  private readonly userTimeoutNs: bigint | undefined;

  constructor(cfg: TimerConfig) {
    this.timeWaitNs = cfg.timeWaitNs ?? TIME_WAIT_NS;
    this.finWait2Ns = cfg.finWait2TimeoutNs ?? FIN_WAIT_2_NS;
    this.delayedAckNs = cfg.delayedAckNs ?? DELAYED_ACK_NS;
    this.keepAliveNs = cfg.keepAliveNs;
    this.keepAliveIntervalNs = cfg.keepAliveIntervalNs ?? KEEPALIVE_INTERVAL_NS;
    this.userTimeoutNs = cfg.userTimeoutNs;
  }

  /** The earliest deadline of all: when the connection next needs `onTimer`. */
  next(): bigint | undefined {
    return earlier(
      earlier(earlier(this.rtoDeadline(), this.delAck), earlier(this.persist, this.timeWait)),
      earlier(earlier(this.keepAlive, this.tlp), earlier(this.pace, this.rack)),
    );
  }

  /** The retransmission timer, brought forward to the user timeout when that comes first (RFC 9293 §3.8.3, as Linux clamps it). */
  rtoDeadline(): bigint | undefined {
    const uto = this.userTimeoutNs;
    if (this.rto === undefined || uto === undefined || this.unackedSince === undefined) return this.rto;
    return earlier(this.rto, this.unackedSince + uto);
  }

  /** RFC 9293 §3.8.3: data has stayed unacknowledged for the user timeout. */
  userTimedOut(now: bigint): boolean {
    return this.userTimeoutNs !== undefined && this.unackedSince !== undefined && now - this.unackedSince >= this.userTimeoutNs;
  }

  /** Starts the delayed-ACK timer. */
  armDelAck(now: bigint): void {
    this.delAck = now + this.delayedAckNs;
  }

  /** (Re)starts 2×MSL. */
  armTimeWait(now: bigint): void {
    this.timeWait = now + this.timeWaitNs;
  }

  /** An orphaned connection's end in FIN-WAIT-2 (the same deadline as TIME-WAIT's: the two states never overlap). */
  armFinWait2(now: bigint): void {
    this.timeWait = now + this.finWait2Ns;
  }

  /** Restarts the idle time before the first keep-alive probe (none unless configured, as for sockets). */
  armKeepAlive(now: bigint): void {
    this.keepAlive = this.keepAliveNs !== undefined ? now + this.keepAliveNs : undefined;
  }

  /** The next keep-alive probe, one interval after the last. */
  armKeepAliveProbe(now: bigint): void {
    this.keepAlive = now + this.keepAliveIntervalNs;
  }

  /**
   * The persist timer: the first probe one RTO after the window closed, each later one twice as late as
   * the one before, up to the largest RTO (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17).
   */
  armPersist(now: bigint, rtoNs: number, maxRtoNs: number): void {
    this.persist = now + BigInt(Math.round(Math.min(rtoNs * 2 ** this.persistBackoff, maxRtoNs)));
  }

  /** All stop (CLOSED). */
  stopAll(): void {
    this.rto = this.delAck = this.persist = this.timeWait = this.keepAlive = this.tlp = this.pace = this.rack = undefined;
  }
}
