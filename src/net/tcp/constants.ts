/**
 * TCP's numbers, each defined once beside the rule it comes from, shared by
 * the layer (tcp.ts: SYN cookies, resets, the challenge-ACK limit) and the
 * connection's modules. Times are in ns; those a `TcpConfig` may override
 * are bigints, the others numbers, as the code that uses them computes.
 */

/** RFC 9293 §3.4.2: the Maximum Segment Lifetime, 30 s (so that 2×MSL is Linux's 60 s TIME-WAIT). */
export const MSL_NS = 30_000_000_000n;
/** RFC 9293 §3.10.7.4 (TIME-WAIT): wait 2×MSL before forgetting the connection. */
export const TIME_WAIT_NS = 2n * MSL_NS;
/** An orphaned connection's wait in FIN-WAIT-2 (Linux's tcp_fin_timeout). */
export const FIN_WAIT_2_NS = 60_000_000_000n;

/** RFC 6298 §2.1: the RTO before any RTT measurement. */
export const INITIAL_RTO_NS = 1_000_000_000n;
/** RFC 6298 §2.4 rounds the RTO up to 1 s; 200 ms here, as Linux's TCP_RTO_MIN. */
export const MIN_RTO_NS = 200_000_000n;
/** RFC 6298 §2.5: a maximum of at least 60 s. Also the persist timer's longest interval (RFC 1122 §4.2.2.17). */
export const MAX_RTO_NS = 60_000_000_000n;
/** RFC 6298 §2.2 G, the clock granularity: the least RTTVAR term of the RTO (timestamps count milliseconds). */
export const CLOCK_GRANULARITY_NS = 1_000_000;

/** RFC 9293 §3.8.6.3: an ACK waits at most this long for company (the RFC allows up to 500 ms; Linux's least is 40). */
export const DELAYED_ACK_NS = 40_000_000n;

/** RFC 1122 §4.2.3.6 keep-alive: between unanswered probes, and how many before giving up (Linux's defaults). */
export const KEEPALIVE_INTERVAL_NS = 75_000_000_000n;
export const KEEPALIVE_PROBES = 9;

/** RFC 1122 §4.2.3.5 R2: retransmissions of one segment before giving up (Linux's tcp_retries2), and of a SYN (tcp_syn_retries). */
export const MAX_RETRIES = 15;
export const SYN_RETRIES = 6;

/** RFC 9293 §3.7.1: the send MSS assumed when the peer's SYN carries no MSS option. */
export const DEFAULT_MSS = 536;
/** The least MSS taken from a peer: a smaller one would make segments mostly header. */
export const MIN_MSS = 64;
/** RFC 9293 §3.7.1: the MSS we offer is the MTU less the fixed IPv4 and TCP headers (20 + 20). */
export const mssForMtu = (mtu: number): number => mtu - 40;
/** The most an IPv4 header (20) and a TCP header with options (60) add to a segment offloaded whole. */
export const MAX_HEADERS = 20 + 60;

/** RFC 9293 §3.1: the 16-bit window field; the window in a SYN is never scaled (RFC 7323 §2.2). */
export const MAX_WINDOW = 65535;
/** RFC 7323 §2.3: the largest window scale shift. */
export const MAX_WINDOW_SHIFT = 14;

/** RFC 5961 §7: challenge ACKs a second at most, for the whole layer (Linux's default is 1000). */
export const CHALLENGE_ACKS_PER_SECOND = 1000;

/** RFC 5681 §3.2, RFC 6675 §2 DupThresh: duplicate ACKs that mean a loss. */
export const DUP_THRESH = 3;
/** RFC 8985 §7.2: the least probe timeout, and WCDelAckT, the peer's worst delayed ACK when one segment is out. */
export const TLP_MIN_PTO_NS = 10_000_000;
export const TLP_WORST_DELAYED_ACK_NS = 200_000_000;

/** Bytes the application may queue for sending at first (and at least, while the buffer is auto-tuned). */
export const DEFAULT_SEND_BUFFER = 64 * 1024;
/** The most an auto-tuned send buffer grows to (Linux's tcp_wmem[2]). */
export const MAX_SEND_BUFFER = 4 * 1024 * 1024;
/** The receive buffer, the most window ever offered, by default; the window starts at INITIAL_RECEIVE_WINDOW. */
export const DEFAULT_RECEIVE_BUFFER = 4 * 1024 * 1024;
export const INITIAL_RECEIVE_WINDOW = 64 * 1024;
/** The receive-window auto-tuning's measuring interval before the first RTT sample. */
export const TUNING_INTERVAL_NS = 100_000_000;
