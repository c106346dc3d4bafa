/**
 * The types a TCP connection shares with the layer that owns it (tcp.ts)
 * and with applications: its states, configuration, counters, the events it
 * raises, and the host it runs on. Re-exported by connection.ts.
 */
import type { Clock, Random } from '../../devices/index.ts';
import type { Ipv4 } from '../ipv4.ts';
import type { CongestionControl } from './congestion.ts';
import type { TcpConnection } from './connection.ts';

/** RFC 9293 §3.3.2. */
export type TcpState =
  | 'CLOSED'
  | 'LISTEN'
  | 'SYN-SENT'
  | 'SYN-RECEIVED'
  | 'ESTABLISHED'
  | 'FIN-WAIT-1'
  | 'FIN-WAIT-2'
  | 'CLOSE-WAIT'
  | 'CLOSING'
  | 'LAST-ACK'
  | 'TIME-WAIT';

export interface TcpConfig {
  /**
   * Bytes the application may queue for sending. Unset, the bound starts at 256 KiB and follows the
   * congestion window (twice it, as Linux's tcp_sndbuf_expand) up to `maxSendBuffer`; memory is taken only as
   * data waits. Set, it is fixed.
   */
  readonly sendBuffer?: number;
  /** The most the send buffer grows to when auto-tuned (default 4 MiB, Linux's tcp_wmem maximum). */
  readonly maxSendBuffer?: number;
  /**
   * Receive buffer, the most window ever offered (default 4 MiB). The window starts at 64 KiB and
   * doubles, up to this bound, each round trip in which the peer fills half of it (auto-tuning, like
   * Linux's tcp_rcv_space_adjust); memory is taken only as data waits for the application.
   */
  readonly receiveBuffer?: number;
  /** TIME-WAIT length, 2×MSL (default 60 s, as Linux). */
  readonly timeWaitNs?: bigint;
  /**
   * How long a connection its application has closed (`close()`, not a half-close) waits in FIN-WAIT-2 for the
   * peer's FIN before it is reset (default 60 s: Linux's tcp_fin_timeout for orphaned sockets). Without it a peer
   * that acknowledges our FIN and never sends its own holds the connection for ever.
   */
  readonly finWait2TimeoutNs?: bigint;
  /** Longest an ACK waits for company (default 40 ms; RFC 9293 §3.8.6.3 allows up to 500, the issue 200). */
  readonly delayedAckNs?: bigint;
  readonly initialRtoNs?: bigint;
  readonly minRtoNs?: bigint;
  readonly maxRtoNs?: bigint;
  /** Retransmissions of one segment before the connection is given up (default 15; SYNs 6). */
  readonly maxRetries?: number;
  readonly synRetries?: number;
  /** Probe an idle connection after this long (RFC 9293 §3.8.4; off by default, as for sockets). */
  readonly keepAliveNs?: bigint;
  /** Between unanswered probes (default 75 s) and how many before giving up (default 9). */
  readonly keepAliveIntervalNs?: bigint;
  readonly keepAliveProbes?: number;
  /** Give up when data stays unacknowledged this long, whatever the retry count (RFC 9293 §3.8.3, RFC 5482). */
  readonly userTimeoutNs?: bigint;
  /** Disable Nagle's algorithm (RFC 9293 §3.8.6.2.1). */
  readonly noDelay?: boolean;
  /** Offer timestamps and window scaling (default true). */
  readonly timestamps?: boolean;
  readonly windowScaling?: boolean;
  /** Offer and use selective acknowledgements, RFC 2018/6675 (default true). */
  readonly sack?: boolean;
  /**
   * Congestion control for new connections: 'cubic' (the default), 'newreno', 'bbr' (model-based and
   * paced, bbr.ts), or a factory given the initial MSS and the stack's randomness.
   */
  readonly congestion?: CongestionChoice;
}

/** The congestion controllers by name, for configuration and boot arguments. */
export const CONGESTION_NAMES = ['cubic', 'newreno', 'bbr'] as const;
export type CongestionName = (typeof CONGESTION_NAMES)[number];
export type CongestionChoice = CongestionName | ((mss: number, random: Random) => CongestionControl);

export interface TcpCounters {
  segmentsOut: number;
  /** Packets handed to the device for segmentation offload (each counts its segments in segmentsOut). */
  offloadSends: number;
  segmentsIn: number;
  retransmits: number;
  bytesRetransmitted: number;
  fastRetransmits: number;
  /** Fast recoveries undone: the hole's original arrived (reordering, not loss). */
  spuriousRecoveries: number;
  timeouts: number;
  /** Tail loss probes sent (RFC 8985 §7). */
  tailProbes: number;
  /** Resent holes found lost again during SACK recovery. */
  lostRetransmits: number;
  dupAcks: number;
  outOfOrder: number;
  challengeAcks: number;
  pawsDrops: number;
  /** Closed connections reset after waiting `finWait2TimeoutNs` in FIN-WAIT-2 for the peer's FIN. */
  finWait2Timeouts: number;
}

/** What the application hears; all optional. `data` is borrowed: copy what you keep. */
export interface TcpEvents {
  onConnect?: () => void;
  onData?: (data: Uint8Array) => void;
  /** The peer sent FIN: no more data will come. */
  onEnd?: () => void;
  /** The send buffer has room again after a short write. */
  onDrain?: () => void;
  /** The connection is gone: `undefined` after an orderly close, else why. */
  onClose?: (error: 'reset' | 'refused' | 'timeout' | undefined) => void;
}

/** The layer a connection belongs to (see tcp.ts). */
export interface TcpHost {
  readonly ip: Ipv4;
  readonly clock: Clock;
  /** The stack's randomness (BBR's gain-cycle phase). */
  readonly random: Random;
  readonly counters: TcpCounters;
  /** Forget this connection (CLOSED). */
  remove(c: TcpConnection): void;
  /** A passive connection became ESTABLISHED. */
  established(c: TcpConnection): void;
  /** The connection entered TIME-WAIT: from now on its only timer is its expiry (2 MSL, or later after a restart). */
  timeWait(c: TcpConnection): void;
  /** Whether one more challenge ACK may go out now (RFC 5961 §7 rate limit, shared by all connections). */
  challengeAllowed(): boolean;
}
