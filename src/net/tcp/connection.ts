/**
 * One TCP connection (RFC 9293): the state machine of §3.10. Opening
 * (active, passive, simultaneous, or rebuilt from a SYN cookie) with window
 * scaling, timestamps and SACK negotiated in the SYNs (RFC 7323, RFC 2018);
 * segment arrival in the RFC's order of checks (acceptability, with PAWS;
 * RST and SYN, with the RFC 5961 defences; the ACK; the data and the FIN);
 * the application's calls and events; closing through TIME-WAIT. The send
 * path is here too: Nagle, sender-side silly window avoidance, segmentation
 * offload, delayed ACKs, zero-window probes, keep-alives. The parts it calls:
 *
 *   rtt.ts         RTT and RTO (RFC 6298, Karn's algorithm, RFC 7323 RTTM)
 *   recovery.ts    loss recovery: SACK recovery by RFC 6675, NewReno (RFC 6582)
 *                  without SACK, early retransmit (RFC 5827), limited transmit
 *                  (RFC 3042), tail loss probes (RFC 8985 §7); the window is
 *                  congestion.ts's, CUBIC (RFC 9438) unless configured NewReno,
 *                  or bbr.ts's (BBR: model-based, paced), fed by rate.ts's
 *                  delivery-rate samples
 *   sack.ts        the sender's SACK scoreboard (RFC 2018, RFC 6675)
 *   reassembly.ts  out-of-order data held, and the SACK blocks reporting it
 *   window.ts      the receive window offered (scaled, auto-tuned, never shrunk)
 *   timers.ts      the timers as one set, and the next deadline
 *   constants.ts   the RFCs' numbers; reset.ts the RST; types.ts the public types
 *
 * Time comes from the host's clock, read once per event and passed down as
 * `now`; timers are deadlines the TCP layer polls. The application's
 * callbacks run after a segment is processed in full.
 */
import { ACK, emitTcp, FIN, PSH, RST, SYN, tcpHeaderLen, type TcpOptions, type TcpRepr, type TcpView } from '../../wire/tcp.ts';
import { PROTO_TCP } from '../../wire/ipv4.ts';
import { IPV4_PAYLOAD_AT } from '../ipv4.ts';
import { ByteQueue } from './bytes.ts';
import { Bbr } from './bbr.ts';
import { CA_LOSS, CA_OPEN, CA_RECOVERY, type CaState, Cubic, initialWindow, NewReno, type CongestionControl } from './congestion.ts';
import { RateSampler } from './rate.ts';
import {
  DEFAULT_MSS,
  DUP_THRESH,
  DEFAULT_RECEIVE_BUFFER,
  DEFAULT_SEND_BUFFER,
  MAX_SEND_BUFFER,
  KEEPALIVE_PROBES,
  MAX_HEADERS,
  MAX_RETRIES,
  MAX_WINDOW,
  MIN_MSS,
  mssForMtu,
  SYN_RETRIES,
} from './constants.ts';
import { resetRepr, resetReplyTo } from './reset.ts';
import { RttEstimator } from './rtt.ts';
import { NEW_DATA, NO_SEGMENT, Recovery, RESEND_FIRST, SEND_BY_SCOREBOARD, type RecoveryAction } from './recovery.ts';
import { Reassembly } from './reassembly.ts';
import { Scoreboard } from './sack.ts';
import { due, Timers } from './timers.ts';
import { ReceiveWindow } from './window.ts';
import { seqAdd, seqDiff, seqGe, seqGt, seqInWindow, seqLe, seqLt } from './seq.ts';
import type { CongestionChoice, TcpConfig, TcpCounters, TcpEvents, TcpHost, TcpState } from './types.ts';
import type { Random } from '../../devices/index.ts';

export type { TcpConfig, TcpCounters, TcpEvents, TcpHost, TcpState } from './types.ts';

/** The congestion controller a configuration chooses (CUBIC unless it says otherwise). */
export function makeCongestion(choice: CongestionChoice | undefined, mss: number, random: Random): CongestionControl {
  if (typeof choice === 'function') return choice(mss, random);
  if (choice === 'bbr') return new Bbr(mss, random);
  if (choice === 'newreno') return new NewReno(mss);
  return new Cubic(mss);
}

/** An application callback waiting for the end of a segment's processing: data for onData, or which event. */
type Deferred = Uint8Array | 'connect' | 'end' | 'drain' | 'close' | 'reset' | 'refused' | 'timeout';

export class TcpConnection {
  state: TcpState;
  readonly localAddr: number;
  readonly localPort: number;
  readonly remoteAddr: number;
  readonly remotePort: number;
  events: TcpEvents = {};
  private readonly host: TcpHost;
  private readonly cfg: TcpConfig;

  // Send sequence space (RFC 9293 §3.3.1).
  private iss: number;
  private sndUna: number;
  private sndNxt: number;
  private sndMax: number;
  private sndWnd = 0;
  private sndWl1 = 0;
  private sndWl2 = 0;
  private readonly sendQ: ByteQueue;
  private finQueued = false;
  private needDrain = false;

  // Receive sequence space.
  private rcvNxt = 0;
  private readonly recvQ: ByteQueue;
  /** The window we offer (window.ts). */
  private readonly rcvWindow: ReceiveWindow;
  /** Segments beyond RCV.NXT, held (reassembly.ts). */
  private readonly ooo: Reassembly;
  private paused = false;
  private appClosed = false;
  private peerFin = false;
  /** The peer's FIN came while data still waited in the receive queue: `onEnd` follows that data. */
  private endPending = false;
  /** Application events held while a segment is processed (`input`), and whether they are being run. */
  private deferring = false;
  private delivering = false;
  /**
   * While the application's callbacks run, what they write and whether they close is sent once they
   * return: a response written and closed from onData leaves as one segment with its FIN (the peer
   * would otherwise see the data, close first, and hold the port in TIME-WAIT).
   */
  private corked = 0;
  private outputOwed = false;
  /** The end of the highest octet ever resent (at the ISS before any), and where it was when this recovery began. */
  private resentUpTo: number;
  private resentAtEnter = 0;
  private readonly deferred: Deferred[] = [];

  // Options.
  mss = DEFAULT_MSS;
  private readonly ourMss: number;
  private sndShift = 0;
  private tsOk = false;
  /** SACK agreed by both ends. */
  private sackOk = false;
  /** What the peer SACKed of what we sent (RFC 6675 scoreboard). */
  private readonly scoreboard = new Scoreboard();
  /** Whether the peer's SYN carried a window scale option (so a SYN-ACK may answer with ours). */
  private peerOfferedWs = false;
  /** RFC 7323 §4.3 TS.Recent, and Last.ACK.sent. */
  private tsRecent = 0;
  private lastAckSent = 0;

  // Timers, RTT, and the ACK owed (RFC 9293 §3.8.6.3).
  private readonly timers: Timers;
  private readonly rtt: RttEstimator;
  /** Segments received since our last ACK, and whether an ACK must go now rather than be delayed. */
  /** A duplicate segment to report in the next ACK's first SACK block (RFC 2883 §4), once: its range. */
  private dsackOwed = false;
  private dsackFrom = 0;
  private dsackTo = 0;
  private unackedSegs = 0;
  private ackNow = false;

  /** Loss recovery and the congestion window (recovery.ts, congestion.ts). */
  private readonly recovery: Recovery;
  /**
   * Send-time records (rate.ts): RACK's loss detection by time (RFC 8985) for a connection with SACK, made with
   * its first data; and the delivery-rate samples a model-based controller (bbr.ts) takes from them.
   */
  private rate: RateSampler | undefined;
  private readonly modelBased: boolean;
  /** The scoreboard before the ACK being processed: SACKed octets, the highest SACKed, and the pipe. */
  private ackSackedBefore = 0;
  private ackHighBefore = 0;
  private ackInflightBefore = 0;
  /** Pacing (a controller with a pacing rate): when the next burst may start (ns). */
  private paceNextNs = 0;
  /** Nagle's algorithm off (TCP_NODELAY); starts from the config, changeable at any time. */
  noDelay: boolean;

  constructor(host: TcpHost, cfg: TcpConfig, state: TcpState, local: [number, number], remote: [number, number], iss: number) {
    this.host = host;
    this.cfg = cfg;
    this.state = state;
    [this.localAddr, this.localPort] = local;
    [this.remoteAddr, this.remotePort] = remote;
    this.iss = iss;
    this.sndUna = iss;
    this.sndNxt = iss;
    this.sndMax = iss;
    this.sendQ = new ByteQueue(cfg.sendBuffer ?? DEFAULT_SEND_BUFFER);
    this.recvQ = new ByteQueue(cfg.receiveBuffer ?? DEFAULT_RECEIVE_BUFFER);
    this.ooo = new Reassembly(this.recvQ.capacity);
    this.rcvWindow = new ReceiveWindow(this.recvQ, cfg.windowScaling !== false);
    this.ourMss = mssForMtu(host.ip.mtu);
    this.rtt = new RttEstimator(cfg);
    this.timers = new Timers(cfg);
    this.recovery = new Recovery(makeCongestion(cfg.congestion, this.mss, host.random), this.scoreboard, this.timers, host.counters);
    this.modelBased = this.recovery.cc.onRateSample !== undefined;
    this.rate = this.modelBased ? new RateSampler() : undefined;
    // RFC 6582 §3.2 step 1: "recover" starts at the initial send sequence number (at 0, an ISS at or
    // above 2^31 would look ahead of every ACK and keep recovery from ever starting before a timeout).
    this.recovery.recover = iss;
    this.resentUpTo = iss;
    this.noDelay = cfg.noDelay === true;
  }

  get counters(): TcpCounters {
    return this.host.counters;
  }
  /** The congestion controller (CUBIC unless the config chose another). */
  get cc(): CongestionControl {
    return this.recovery.cc;
  }
  /** Data bytes per segment: the MSS less the options every segment carries (RFC 9293 §3.7.1). */
  get segmentData(): number {
    return this.mss - (this.tsOk ? 12 : 0);
  }
  /** Bytes queued for sending and not yet acknowledged. */
  get bufferedSend(): number {
    return this.sendQ.length;
  }
  get sendBufferFree(): number {
    return this.sendQ.free;
  }
  /** Bytes of buffer memory this connection holds now: its send and receive queues, its out-of-order segments and its send-time records. */
  get memoryBytes(): number {
    return this.sendQ.allocated + this.recvQ.allocated + this.ooo.bytes + (this.rate?.bytes ?? 0);
  }
  /** The smoothed RTT in ns (0 before the first sample). */
  get srttNs(): number {
    return this.rtt.srtt;
  }
  /** The receive window the auto-tuning allows now (at most the receive buffer). */
  get receiveWindowLimit(): number {
    return this.rcvWindow.limit;
  }

  private now(): bigint {
    return this.host.clock.monotonicNs();
  }
  private tsNow(): number {
    return Number(this.now() / 1_000_000n) >>> 0;
  }

  // ------------------------------------------------------------- opening

  /** Active open (RFC 9293 §3.10.1): send SYN. */
  openActive(): void {
    this.state = 'SYN-SENT';
    this.sendSyn(false);
  }

  /** Passive open: a SYN arrived on a listener; answer SYN-ACK. */
  openPassive(seg: TcpView, o: TcpOptions): void {
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.takeSynOptions(o, seg.window);
    this.state = 'SYN-RECEIVED';
    this.sendSyn(true);
  }

  /**
   * A connection rebuilt from a valid SYN cookie (see cookie.ts): the ACK
   * completes the handshake we answered without state. No window scaling,
   * timestamps or SACK: the cookie does not remember them.
   */
  openFromCookie(seg: TcpView, mss: number): void {
    this.state = 'ESTABLISHED';
    this.iss = seqAdd(seg.ack, -1);
    this.recovery.recover = this.iss;
    this.sndUna = this.sndNxt = this.sndMax = seg.ack;
    this.rcvNxt = seg.seq;
    this.mss = Math.min(mss, this.ourMss);
    this.cc.cwnd = initialWindow(this.mss);
    this.sndShift = 0;
    this.tsOk = false;
    this.sndWnd = seg.window;
    this.sndWl1 = seg.seq;
    this.sndWl2 = seg.ack;
    this.rcvWindow.startUnscaled(this.rcvNxt);
  }

  private takeSynOptions(o: TcpOptions, window: number): void {
    this.mss = Math.max(MIN_MSS, Math.min(o.mss || DEFAULT_MSS, this.ourMss)); // RFC 9293 §3.7.1: 536 without the option.
    this.cc.cwnd = initialWindow(this.mss);
    this.peerOfferedWs = o.wscale >= 0;
    if (o.wscale >= 0 && this.cfg.windowScaling !== false) this.sndShift = o.wscale;
    else this.rcvWindow.shift = 0; // RFC 7323 §2.2: both or neither.
    this.tsOk = o.hasTimestamps && this.cfg.timestamps !== false;
    this.sackOk = o.sackPermitted && this.cfg.sack !== false;
    if (this.tsOk) this.tsRecent = o.tsVal;
    this.sndWnd = window; // The window in a SYN is never scaled.
  }

  private sendSyn(ack: boolean): void {
    const r: TcpRepr = {
      srcPort: this.localPort,
      dstPort: this.remotePort,
      seq: this.iss,
      ack: ack ? this.rcvNxt : 0,
      flags: SYN | (ack ? ACK : 0),
      window: this.rcvWindow.synField(),
      mss: this.ourMss,
    };
    // A SYN offers window scaling and timestamps; a SYN-ACK only echoes what the peer offered (RFC 7323 §1.3).
    if (this.cfg.windowScaling !== false && (!ack || this.peerOfferedWs)) r.wscale = this.rcvWindow.shift;
    if (this.cfg.timestamps !== false && (!ack || this.tsOk)) r.timestamps = [this.tsNow(), ack ? this.tsRecent : 0];
    if (this.cfg.sack !== false && (!ack || this.sackOk)) r.sackPermitted = true;
    this.transmit(r, 0, 0);
    this.sndNxt = seqAdd(this.iss, 1);
    if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
    this.armRto();
  }

  // --------------------------------------------------------- application

  /** Queues bytes to send; returns how many were taken (fewer means wait for onDrain). */
  write(data: Uint8Array): number {
    const st = this.state;
    if (this.finQueued || this.appClosed || (st !== 'SYN-SENT' && st !== 'SYN-RECEIVED' && st !== 'ESTABLISHED' && st !== 'CLOSE-WAIT')) {
      throw new Error(`cannot write: the connection is ${this.state}${this.finQueued ? ' and shut down for writing' : ''}`);
    }
    const n = this.sendQ.push(data);
    if (n < data.length) this.needDrain = true;
    if (this.state === 'ESTABLISHED' || this.state === 'CLOSE-WAIT') this.outputSoon();
    return n;
  }

  /** Half-close: send FIN after the queued data (RFC 9293 §3.10.4). */
  shutdown(): void {
    if (this.finQueued) return;
    switch (this.state) {
      case 'SYN-SENT':
        this.destroy(undefined);
        return;
      case 'SYN-RECEIVED':
        // RFC 9293 §3.10.4: queued until ESTABLISHED (synAcked goes on to FIN-WAIT-1). The send path counts
        // from SND.UNA as data, which it is not while our SYN is unacknowledged.
        this.finQueued = true;
        return;
      case 'ESTABLISHED':
        this.finQueued = true;
        this.state = 'FIN-WAIT-1';
        break;
      case 'CLOSE-WAIT':
        this.finQueued = true;
        this.state = 'LAST-ACK';
        break;
      default:
        return;
    }
    this.outputSoon();
  }

  /** Sends what the windows allow now, or once the application's callbacks have returned. */
  private outputSoon(): void {
    if (this.corked > 0) this.outputOwed = true;
    else this.output(this.now());
  }

  /** Runs application callbacks with output held back, then sends what they queued in one go. */
  private corking(fn: () => void): void {
    this.corked++;
    try {
      fn();
    } finally {
      this.corked--;
    }
    if (this.corked === 0 && this.outputOwed) {
      this.outputOwed = false;
      if (this.state !== 'CLOSED') this.output(this.now());
    }
  }

  /**
   * Close for both directions: FIN after queued data; data from the peer, held or later, is discarded (so a window
   * shut by a paused reader opens again). In FIN-WAIT-2 the connection waits `finWait2TimeoutNs` for the peer's FIN,
   * then is reset.
   */
  close(): void {
    if (this.appClosed) return;
    this.appClosed = true;
    this.endPending = false;
    if (this.recvQ.length > 0) {
      this.recvQ.drop(this.recvQ.length);
      this.maybeWindowUpdate();
    }
    this.shutdown();
    if (this.state === 'FIN-WAIT-2') this.timers.armFinWait2(this.now());
  }

  /**
   * Abort: send RST now and forget the connection (RFC 9293 §3.10.5). The RST goes only where the peer may
   * still send: not in CLOSING or LAST-ACK (its FIN came; a RST could end its TIME-WAIT, RFC 1337), nor in
   * SYN-SENT or TIME-WAIT.
   */
  abort(): void {
    const st = this.state;
    if (st === 'SYN-RECEIVED' || st === 'ESTABLISHED' || st === 'FIN-WAIT-1' || st === 'FIN-WAIT-2' || st === 'CLOSE-WAIT') {
      this.transmit(resetRepr(this.localPort, this.remotePort, this.sndNxt), 0, 0);
    }
    this.destroy('reset');
  }

  /** Stop delivering data; the window closes as the receive buffer fills. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.corking(() => this.deliverQueued());
    this.maybeWindowUpdate();
  }

  /**
   * Receiver-side silly window avoidance (RFC 9293 §3.8.6.2.2): announce a
   * larger window once its right edge can move by min(window/2, MSS) beyond
   * the edge last advertised.
   */
  private maybeWindowUpdate(): void {
    if (this.state !== 'ESTABLISHED' && this.state !== 'FIN-WAIT-1' && this.state !== 'FIN-WAIT-2') return;
    if (this.rcvWindow.updateWorthSending(this.rcvNxt, this.segmentData)) this.sendAck();
  }

  // --------------------------------------------------------------- input

  /**
   * A segment for this connection (already checked and its options parsed). The segment is processed
   * in full first; the application hears of it after (its callbacks were held back meanwhile), so what
   * it sends from them carries the ACK of everything the segment held; a pure ACK still owed goes last.
   */
  input(seg: TcpView, o: TcpOptions): void {
    const now = this.now();
    this.deferring = true;
    const respond = this.process(seg, o, now);
    this.deferring = false;
    if (this.deferred.length > 0 || this.recvQ.length > 0) this.runDeferred();
    if (respond) this.output(now);
  }

  /** RFC 9293 §3.10.7, in its order of checks; returns whether to send what the windows allow (and an ACK owed) after. */
  private process(seg: TcpView, o: TcpOptions, now: bigint): boolean {
    const flags = seg.flags;
    this.counters.segmentsIn++;
    this.timers.keepAliveProbes = 0;
    this.timers.armKeepAlive(now);
    if (this.state === 'SYN-SENT') return this.inputSynSent(seg, o, now);
    const segLen = seg.payloadLen + (flags & SYN ? 1 : 0) + (flags & FIN ? 1 : 0);
    if (this.pawsRejects(flags, o)) return false;
    // First, is the segment in the receive window?
    const wnd = this.rcvWindow.size();
    if (!this.acceptable(seg.seq, segLen, wnd)) {
      this.unacceptable(seg, o, segLen, wnd, now);
      return false;
    }
    // Second, RST (RFC 5961 §3.2): exact match resets, in-window gets a challenge ACK.
    if (flags & RST) {
      if (seg.seq === this.rcvNxt) this.destroy(this.state === 'SYN-RECEIVED' ? 'refused' : 'reset');
      else this.challengeAck();
      return false;
    }
    // Fourth, SYN in a synchronized state (RFC 5961 §4.2): challenge ACK, drop.
    if (flags & SYN) {
      this.challengeAck();
      return false;
    }
    // Fifth, ACK.
    if (!(flags & ACK)) return false;
    if (this.tsOk && o.hasTimestamps && seqLe(seg.seq, this.lastAckSent)) this.tsRecent = o.tsVal; // RFC 7323 §4.3
    if (this.state === 'SYN-RECEIVED' && !this.synAcked(seg, now)) return false;
    if (!this.processAck(seg, o, now)) return false;
    // Sixth/seventh: data and FIN.
    if (seg.payloadLen > 0 || flags & FIN) this.processData(seg, now);
    return true;
  }

  /** RFC 7323 §5.3 PAWS: a segment with an older timestamp than TS.Recent is an old duplicate: ACK and drop it. */
  private pawsRejects(flags: number, o: TcpOptions): boolean {
    if (!this.tsOk || !o.hasTimestamps || flags & RST || !seqLt(o.tsVal, this.tsRecent)) return false;
    this.counters.pawsDrops++;
    this.sendAck();
    return true;
  }

  /** RFC 9293 §3.10.7.4, first: the acceptability test (its four cases of segment length and receive window). */
  private acceptable(seq: number, segLen: number, wnd: number): boolean {
    if (segLen === 0) return wnd === 0 ? seq === this.rcvNxt : seqInWindow(seq, this.rcvNxt, seqAdd(this.rcvNxt, wnd));
    return (
      wnd > 0 &&
      (seqInWindow(seq, this.rcvNxt, seqAdd(this.rcvNxt, wnd)) ||
        seqInWindow(seqAdd(seq, segLen - 1), this.rcvNxt, seqAdd(this.rcvNxt, wnd)))
    );
  }

  /** RFC 9293 §3.10.7.4: an unacceptable segment is dropped, answered with an ACK unless it is a RST. */
  private unacceptable(seg: TcpView, o: TcpOptions, segLen: number, wnd: number, now: bigint): void {
    const flags = seg.flags;
    // With a zero window nothing is acceptable, "but special allowance should be made to accept valid
    // ACKs" — or two paused peers never learn what the other received.
    if (wnd === 0 && flags & ACK && !(flags & (RST | SYN)) && this.state !== 'SYN-RECEIVED') {
      if (this.processAck(seg, o, now)) this.output(now);
    }
    // RFC 2883 §4: data wholly below RCV.NXT arrived again (a spurious resend, or a duplicate): the ACK reports it.
    if (seg.payloadLen > 0 && seqLe(seqAdd(seg.seq, seg.payloadLen), this.rcvNxt))
      this.reportDuplicate(seg.seq, seqAdd(seg.seq, seg.payloadLen));
    if (!(flags & RST) && this.state !== 'CLOSED') this.sendAck();
    // TIME-WAIT: a retransmission of the remote FIN (it ends at RCV.NXT, so it fails the test) is
    // acknowledged and restarts the 2 MSL timeout.
    if (this.state === 'TIME-WAIT' && flags & FIN && !(flags & RST) && seqAdd(seg.seq, segLen) === this.rcvNxt) {
      this.timers.armTimeWait(now);
    }
  }

  /**
   * RFC 9293 §3.10.7.4, fifth, in SYN-RECEIVED: an ACK of our SYN makes the connection ESTABLISHED;
   * any other is answered with a RST (<SEQ=SEG.ACK><CTL=RST>). Returns false to drop the segment.
   */
  private synAcked(seg: TcpView, now: bigint): boolean {
    if (!(seqLt(this.sndUna, seg.ack) && seqLe(seg.ack, this.sndNxt))) {
      this.transmit(resetReplyTo(seg), 0, 0);
      return false;
    }
    // The SYN is acknowledged before the application hears of the connection, so that data it
    // writes from onConnection is never counted as acknowledged by this ACK.
    this.sndUna = seqAdd(this.iss, 1);
    this.timers.rto = undefined;
    this.rtt.handshakeDone(now, !this.tsOk);
    this.state = this.finQueued ? 'FIN-WAIT-1' : 'ESTABLISHED';
    this.sndWnd = seg.window << this.sndShift;
    this.sndWl1 = seg.seq;
    this.sndWl2 = seg.ack;
    this.defer('connect'); // The listener's onConnection, then onConnect.
    return true;
  }

  /** RFC 9293 §3.10.7.3: a segment in SYN-SENT. */
  private inputSynSent(seg: TcpView, o: TcpOptions, now: bigint): boolean {
    const flags = seg.flags;
    if (flags & ACK && (seqLe(seg.ack, this.iss) || seqGt(seg.ack, this.sndNxt))) {
      if (!(flags & RST)) this.transmit(resetReplyTo(seg), 0, 0); // RFC 9293 §3.10.7.3: <SEQ=SEG.ACK><CTL=RST>.
      return false;
    }
    if (flags & RST) {
      if (flags & ACK) this.destroy('refused');
      return false;
    }
    if (!(flags & SYN)) return false;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.takeSynOptions(o, seg.window);
    if (flags & ACK) {
      this.sndUna = seg.ack;
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      this.state = 'ESTABLISHED';
      this.timers.rto = undefined;
      this.rtt.handshakeDone(now, true);
      this.sendAck();
      this.timers.armKeepAlive(now);
      this.defer('connect');
      return true;
    }
    // Simultaneous open (RFC 9293 §3.5, figure 8).
    this.state = 'SYN-RECEIVED';
    this.sendSyn(true);
    return false;
  }

  // ------------------------------------------------------------- the ACK

  /** RFC 9293 §3.10.7.4, fifth, the ACK field; returns false when the segment must be dropped. */
  private processAck(seg: TcpView, o: TcpOptions, now: bigint): boolean {
    const ack = seg.ack;
    if (seqGt(ack, this.sndMax)) {
      this.sendAck(); // Acknowledges something never sent (RFC 9293 §3.10.7.4).
      return false;
    }
    // RFC 5961 §5.2: an ACK too far in the past is dropped.
    if (seqLt(ack, seqAdd(this.sndUna, -Math.max(this.sndWnd, MAX_WINDOW)))) {
      this.challengeAck();
      return false;
    }
    const acked = seqDiff(ack, this.sndUna);
    const window = seg.window << this.sndShift;
    if (this.rate) {
      this.ackSackedBefore = this.scoreboard.sackedBytes();
      this.ackHighBefore = this.scoreboard.highSacked(this.sndUna);
      this.ackInflightBefore = this.inflightNow();
    }
    this.timers.persistProbes = 0; // The peer answers (RFC 1122 §4.2.2.17: then the connection stays open).
    if (this.sackOk && o.sackCount > 0) this.checkDsack(o, ack);
    if (acked > 0) {
      this.newDataAcked(ack, acked, o, now);
    } else if (
      acked === 0 &&
      seg.payloadLen === 0 &&
      !(seg.flags & FIN) &&
      window === this.sndWnd &&
      window > 0 &&
      seqGt(this.sndMax, this.sndUna)
    ) {
      // A duplicate ACK (RFC 5681 §2). One with a zero window answers a zero-window probe: no sign of loss.
      let newlySacked = 0;
      if (this.sackOk) {
        const before = this.scoreboard.sackedBytes();
        this.scoreboard.update(o, this.sndUna, this.sndMax);
        newlySacked = this.scoreboard.sackedBytes() - before;
      }
      const was = this.recovery.inRecovery,
        resentBefore = this.resentUpTo;
      if (this.rate) this.ackRecords(0, o, now);
      const action = this.recovery.duplicateAck(ack, this.sndUna, this.sndMax, this.segmentData, this.mss, this.sackOk, newlySacked);
      if (this.modelBased) this.sampleRate(now);
      else if (this.rate) this.headResendLost();
      this.recover(action);
      if (!was && this.recovery.inRecovery) {
        this.recovery.enteredTs = this.tsNow();
        this.resentAtEnter = resentBefore; // As it was before the recovery's first resend.
      }
      // The window can grow while SND.UNA waits for a hole (BBR's STARTUP does in a recovery): the buffer grows with it.
      this.tuneSendBuffer();
    }
    this.updateSendWindow(seg.seq, ack, window);
    return this.state !== 'CLOSED';
  }

  /**
   * RFC 9293 §3.10.7.4 (ESTABLISHED, the ACK field): SND.UNA < SEG.ACK =< SND.NXT, so SND.UNA moves up:
   * the queue drops what is acknowledged, the RTT is measured, the window grows or recovery goes on,
   * the retransmission timer restarts (RFC 6298 §5.3) or stops (§5.2), and our FIN may be acknowledged.
   */
  private newDataAcked(ack: number, acked: number, o: TcpOptions, now: bigint): void {
    const useSack = this.sackOk && (o.sackCount > 0 || !this.scoreboard.empty);
    const finAcked = this.finQueued && seqGt(ack, seqAdd(this.sndUna, this.sendQ.length));
    const dataAcked = acked - (finAcked ? 1 : 0);
    // Data above SND.UNA SACKed before SND.UNA's own segment arrived: reordering, or our resend arriving.
    const oldUna = this.sndUna;
    const sackedAbove = this.sackOk && !this.scoreboard.empty ? seqDiff(this.scoreboard.highSacked(this.sndUna), this.sndUna) : 0;
    this.sendQ.drop(dataAcked);
    this.sndUna = ack;
    // RFC 6937's DeliveredData: what SND.UNA passed plus the change in what is SACKed (less when it passed SACKed data).
    let delivered = dataAcked;
    if (this.sackOk) {
      const sackedBefore = this.scoreboard.sackedBytes();
      this.scoreboard.update(o, this.sndUna, this.sndMax);
      delivered += this.scoreboard.sackedBytes() - sackedBefore;
    }
    if (sackedAbove > 0 && this.tsOk && o.hasTimestamps)
      this.recovery.reordered(
        Math.floor(sackedAbove / this.segmentData),
        o.tsEcr,
        // Resent before (outside a recovery: ever; in one: before it began), its arrival proves nothing.
        seqGt(this.recovery.inRecovery ? this.resentAtEnter : this.resentUpTo, oldUna),
      );
    if (seqLt(this.sndNxt, this.sndUna)) this.sndNxt = this.sndUna;
    this.rtt.newAck(ack, o, this.tsOk, this.tsOk && o.hasTimestamps ? this.tsNow() : 0, now);
    this.cc.onRoundAck?.(this.rtt.latest, ack, this.sndMax);
    const flight = seqDiff(this.sndMax, this.sndUna);
    this.timers.unackedSince = flight > 0 ? now : undefined;
    if (this.rate) this.ackRecords(dataAcked, o, now);
    const action = this.recovery.newAck(ack, dataAcked, delivered, flight, useSack, this.segmentData, this.mss, now, this.rtt.srtt);
    if (this.modelBased) this.sampleRate(now);
    else if (this.rate) this.headResendLost();
    this.recover(action);
    this.timers.rto = seqGt(this.sndMax, this.sndUna) ? now + this.rtt.rto : undefined;
    this.armTlp(now);
    if (finAcked) this.ourFinAcked(now);
    this.tuneSendBuffer();
  }

  /** RFC 2883 §4.2: the first SACK block is a D-SACK when it lies below the ACK or inside the second block. */
  private checkDsack(o: TcpOptions, ack: number): void {
    const l = o.sack[0]!,
      r = o.sack[1]!;
    const dup = seqLe(r, ack) || (o.sackCount > 1 && seqGe(l, o.sack[2]!) && seqLe(r, o.sack[3]!));
    if (dup && seqLt(l, r)) this.recovery.dsack(l, r, this.sndUna, this.sndMax, this.segmentData);
  }

  /**
   * Octets in flight: with SACK, RFC 6675's pipe (less what is SACKed or presumed lost, plus what was resent);
   * without, less a segment for each duplicate ACK (each says one left the network).
   */
  private inflightNow(): number {
    const out = seqDiff(this.sndMax, this.sndUna);
    if (this.sackOk) return this.scoreboard.empty ? out : this.scoreboard.pipe(this.sndUna, this.sndMax);
    return Math.max(0, out - this.recovery.dupAcks * this.segmentData);
  }

  /**
   * One ACK on the send-time records, before anything is sent for it: what it delivered (`dataAcked`
   * cumulatively, and SACKed octets new since the snapshot processAck took) makes the delivery-rate sample,
   * and RACK's clock moves; then RACK looks for losses.
   */
  private ackRecords(dataAcked: number, o: TcpOptions, now: bigint): void {
    const rate = this.rate!,
      una = this.sndUna;
    const t = Number(now);
    rate.beginAck(t);
    rate.ackCumulative(una);
    if (this.sackOk) for (let k = 0; k < o.sackCount; k++) rate.ackSacked(o.sack[2 * k]!, o.sack[2 * k + 1]!);
    rate.finishAck(Math.max(0, dataAcked + this.scoreboard.sackedBytes() - this.ackSackedBefore), t);
    this.rackDetect(now);
  }

  /**
   * RFC 8985 §6.2 steps 4-5: the reordering window (none before the path has shown reordering, in a recovery or
   * once DupThresh segments are SACKed; else a quarter of the least RTT, at most SRTT), the losses it finds, and
   * the reordering timer for the first segment not lost yet.
   */
  private rackDetect(now: bigint): void {
    // Not yet under a model-based controller: BBR's table lost a third of its rate at 10% loss with it (it keeps
    // its own rule for resends lost again, sampleRate's).
    if (!this.sackOk || this.modelBased) return;
    const rate = this.rate!,
      r = this.recovery;
    const minRtt = Number.isFinite(rate.minRttNs) ? rate.minRttNs : this.rtt.srtt;
    const none = !r.reorderSeen && (r.inRecovery || r.inLoss || this.scoreboard.sackedBytes() >= DUP_THRESH * this.segmentData);
    const reoWnd = none ? 0 : Math.min((r.reoWndMult * minRtt) / 4, this.rtt.srtt || minRtt);
    const at = rate.detectLoss(this.sndUna, this.scoreboard.highRxt, Number(now), reoWnd);
    r.lostTo = rate.lostTo;
    this.timers.rack = at > 0 ? BigInt(Math.ceil(at)) : undefined;
  }

  /** RACK's reordering timer (RFC 8985 §6.2): a segment is lost by time now; a recovery starts or goes on. */
  private onRackTimer(now: bigint): void {
    this.timers.rack = undefined;
    if (!this.rate || this.state === 'CLOSED' || !seqGt(this.sndMax, this.sndUna)) return;
    this.rackDetect(now);
    const r = this.recovery;
    if (r.lostTo === undefined || !seqGt(r.lostTo, this.sndUna)) return;
    const was = r.inRecovery,
      resentBefore = this.resentUpTo;
    if (!r.lostByTimer(this.sndUna, this.sndMax, this.segmentData, this.mss)) return;
    if (!was) {
      r.enteredTs = this.tsNow();
      this.resentAtEnter = resentBefore;
    }
    this.sackSend();
  }

  /**
   * One ACK's delivery-rate sample for a model-based controller (the records already took the ACK): what it
   * showed lost (unSACKed octets below the highest SACK, above the old highest), then the controller.
   */
  private sampleRate(now: bigint): void {
    const rate = this.rate!,
      sb = this.scoreboard,
      una = this.sndUna;
    const t = Number(now);
    const sacked = sb.sackedBytes();
    const from = seqGt(this.ackHighBefore, una) ? this.ackHighBefore : una;
    const to = sb.highSacked(una);
    const rs = rate.sample;
    rs.losses = seqGt(to, from) ? Math.max(0, seqDiff(to, from) - (sacked - sb.sackedBytes(from))) : 0;
    rs.priorInflight = this.ackInflightBefore;
    rs.inflight = this.inflightNow();
    const r = this.recovery;
    let state: CaState = CA_OPEN;
    if (r.inRecovery) state = CA_RECOVERY;
    else if (r.inLoss) state = CA_LOSS;
    if (this.cc.onRateSample!(rs, t, this.segmentData, state, this.rtt.srtt)) rate.onAppLimited(rs.inflight);
    this.headResendLost();
  }

  /**
   * A resend of SND.UNA lost again, by RACK's time rule (RFC 8985 §6.2; a quarter of the least RTT for
   * reordering): in SACK recovery the holes go again from SND.UNA; after a timeout the segment at SND.UNA goes
   * again at once (waiting for the next timeout, backed off, stalled lossy paths for seconds).
   */
  private headResendLost(): void {
    const r = this.recovery,
      rate = this.rate!;
    if (!this.sackOk || !(r.inRecovery || r.inLoss) || !rate.headResendLost(this.sndUna, rate.minRttNs / 4)) return;
    if (r.inRecovery) r.resendLostAgain(this.sndUna, this.sndMax);
    else {
      this.counters.lostRetransmits++;
      this.retransmitFirst();
      this.restartRtoForHead();
    }
  }

  /**
   * Send-buffer auto-tuning: unless the application fixed the size, the queue may hold twice the
   * congestion window (what is in flight and as much again ready to go), from the initial 64 KiB up to
   * `maxSendBuffer` (twice the flight, if larger, under a model-based controller); it never shrinks below what it holds. A long fat path needs a window bigger than
   * any fixed buffer (100 Mbit/s × 100 ms is 1.25 MB in flight).
   */
  private tuneSendBuffer(): void {
    if (this.cfg.sendBuffer === undefined) {
      // In doublings: the queue's buffer grows (and copies what it holds) only when its bound does.
      let want = DEFAULT_SEND_BUFFER;
      // In a recovery the flight (SACKed data included) can outgrow the window: a buffer all in flight leaves no
      // new data to show that a resend was lost again. (Once BBR's alone; for CUBIC the netsim loss rows are as
      // before or better with it, as with the two rules below.)
      const need = Math.max(this.cc.cwnd, seqDiff(this.sndMax, this.sndUna));
      while (want < 2 * need) want *= 2;
      want = Math.min(this.cfg.maxSendBuffer ?? MAX_SEND_BUFFER, want);
      if (want > this.sendQ.capacity) this.sendQ.capacity = want;
    }
    // Room freed (by an ACK) or made (by growth): the application may write again.
    if (this.needDrain && this.sendQ.free > 0) {
      this.needDrain = false;
      this.defer('drain');
    }
  }

  /** Window update (RFC 9293 §3.10.7.4: the SND.WL1/WL2 rule keeps an old segment from setting it). */
  private updateSendWindow(seq: number, ack: number, window: number): void {
    if (!(seqLt(this.sndWl1, seq) || (this.sndWl1 === seq && seqLe(this.sndWl2, ack)))) return;
    this.sndWnd = window;
    this.sndWl1 = seq;
    this.sndWl2 = ack;
    if (window > 0 && this.timers.persistBackoff > 0) {
      // The window opened while probing. A probe octet the peer refused goes again first, with what follows it.
      if (seqDiff(this.sndMax, this.sndUna) === 1 && this.sndNxt === this.sndMax) this.sndNxt = this.sndUna;
      this.timers.persistBackoff = 0;
    }
    if (window > 0) this.timers.persist = undefined;
  }

  private ourFinAcked(now: bigint): void {
    switch (this.state) {
      case 'FIN-WAIT-1':
        this.state = this.peerFin ? 'TIME-WAIT' : 'FIN-WAIT-2';
        if (this.state === 'FIN-WAIT-2' && this.appClosed) this.timers.armFinWait2(now);
        break;
      case 'CLOSING':
        this.state = 'TIME-WAIT';
        break;
      case 'LAST-ACK':
        this.destroy(undefined);
        return;
      default:
        break;
    }
    if (this.state === 'TIME-WAIT') this.enterTimeWait(now);
  }

  private enterTimeWait(now: bigint): void {
    this.state = 'TIME-WAIT';
    // Held for 2 MSL only to answer a retransmitted FIN: the buffers go now. (With a connection per
    // request at thousands a second, 32 KiB each held for 60 s was hundreds of MB.)
    this.sendQ.release();
    this.recvQ.release();
    this.scoreboard.clear();
    if (!this.modelBased) this.rate = undefined; // The send-time records go with the data (RACK needs them no more).
    this.timers.rack = undefined;
    this.timers.rto = undefined;
    this.timers.persist = undefined;
    this.timers.pace = undefined;
    this.timers.armTimeWait(now);
    this.timers.keepAlive = undefined;
    this.host.timeWait(this);
    this.defer('close');
  }

  // ------------------------------------------------------ receiving data

  /** RFC 9293 §3.10.7.4, sixth to eighth: the segment's text and FIN, trimmed to what is new and what the window holds. */
  private processData(seg: TcpView, now: bigint): void {
    if (this.state === 'TIME-WAIT') {
      // A retransmitted FIN: acknowledge it again and restart 2MSL (RFC 9293 §3.10.7.4).
      if (seg.flags & FIN) {
        this.sendAck();
        this.timers.armTimeWait(now);
      }
      return;
    }
    let seq = seg.seq;
    let off = seg.payloadOff;
    let len = seg.payloadLen;
    let fin = (seg.flags & FIN) !== 0;
    if (this.state !== 'ESTABLISHED' && this.state !== 'FIN-WAIT-1' && this.state !== 'FIN-WAIT-2') {
      // CLOSE-WAIT, CLOSING, LAST-ACK: the peer already sent FIN; ignore its data.
      if (len > 0 || fin) this.ackNow = true;
      return;
    }
    // Trim what we already have and what the window does not cover.
    const early = seqDiff(this.rcvNxt, seq);
    if (early > 0) {
      if (len > 0) {
        // RFC 2883 §4: the part already received is reported as a duplicate, at once.
        this.reportDuplicate(seq, seqAdd(seq, Math.min(early, len)));
        this.ackNow = true;
      }
      if (early >= len) {
        fin = fin && early === len; // The FIN is new only if it sits exactly at RCV.NXT.
        len = 0;
      } else {
        off += early;
        len -= early;
      }
      seq = this.rcvNxt;
    }
    const room = this.rcvWindow.size() - Math.max(0, seqDiff(seq, this.rcvNxt));
    if (len > room) {
      len = Math.max(0, room);
      fin = false;
    }
    if (seq !== this.rcvNxt) {
      // Out of order: keep it (bounded by the window) and say so at once (RFC 5681 §4.2).
      if (len > 0 && this.ooo.store(seq, seg.buf.subarray(off, off + len), fin)) this.reportDuplicate(seq, seqAdd(seq, len));
      this.counters.outOfOrder++;
      this.ackNow = true;
      return;
    }
    this.receiveInOrder(seg, off, len, fin, now);
  }

  /** `len` new octets at RCV.NXT from `seg.buf[off..]`, then the FIN if it is next, then the ACK owed. */
  private receiveInOrder(seg: TcpView, off: number, len: number, fin: boolean, now: bigint): void {
    if (len > 0) {
      // A segment that fills (part of) a gap is ACKed at once (RFC 5681 §4.2), so recovery moves on.
      if (!this.ooo.empty) this.ackNow = true;
      const before = this.rcvNxt;
      this.acceptInOrder(seg.buf, off, len);
      this.drainOutOfOrder();
      this.rcvWindow.tune(seqDiff(this.rcvNxt, before), now, this.rtt.srtt, this.ourMss);
    }
    if (fin && seqAdd(seg.seq, seg.payloadLen) === this.rcvNxt) this.receiveFin(now);
    else if (this.ooo.fin !== undefined && this.ooo.fin === this.rcvNxt) this.receiveFin(now);
    // Delayed ACK (RFC 9293 §3.8.6.3): at once for every second segment, else within the delay, and
    // only while one is owed (the FIN that ends FIN-WAIT-2 was ACKed already). A packet that carries two
    // full segments or more (coalesced by a receive offload, or sent whole over a socketpair link) counts
    // as that many: counted as one, its ACK waited the delay while the sender waited for it.
    if (len > 0) this.unackedSegs += Math.max(1, Math.floor(len / this.segmentData));
    if (this.unackedSegs >= 2) this.ackNow = true;
    else if (!this.ackNow && this.timers.delAck === undefined && this.lastAckSent !== this.rcvNxt) this.timers.armDelAck(now);
  }

  /** Takes back the held segments RCV.NXT has reached, each in turn (less what it already has). */
  private drainOutOfOrder(): void {
    for (let s = this.ooo.takeReady(this.rcvNxt); s !== undefined; s = this.ooo.takeReady(this.rcvNxt)) {
      const skip = seqDiff(this.rcvNxt, s.seq);
      if (skip < s.data.length) this.acceptInOrder(s.data, skip, s.data.length - skip);
    }
  }

  private acceptInOrder(buf: Uint8Array, off: number, len: number): void {
    this.rcvNxt = seqAdd(this.rcvNxt, len);
    if (this.appClosed) return;
    if (!this.paused && this.recvQ.length === 0) {
      // Straight from the frame, no copy: held until the segment is processed, then delivered (or queued
      // if the application pauses first). The frame outlives `input`, so the view stays valid till then.
      this.defer(buf.subarray(off, off + len));
      return;
    }
    this.recvQ.push(buf, off, off + len);
  }

  private receiveFin(now: bigint): void {
    if (this.peerFin) return;
    this.peerFin = true;
    this.ooo.fin = undefined;
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.ackNow = true;
    switch (this.state) {
      case 'ESTABLISHED':
        this.state = 'CLOSE-WAIT';
        break;
      case 'FIN-WAIT-1':
        this.state = 'CLOSING';
        break;
      case 'FIN-WAIT-2':
        this.signalEnd();
        this.sendAck();
        this.enterTimeWait(now);
        return;
      default:
        break;
    }
    this.signalEnd();
  }

  /** `onEnd` after every byte before the FIN has reached the application. */
  private signalEnd(): void {
    this.defer('end');
  }

  // -------------------------------------------------- application events

  /** An application event, run by `runDeferred` once the segment is processed (at once outside `input`). */
  private defer(e: Deferred): void {
    this.deferred.push(e);
    if (!this.deferring) this.runDeferred();
  }

  /**
   * Runs the application's callbacks for what the segment just processed brought, in order. Events a
   * callback raises (an abort from onData, say) join the end of the queue instead of running inside it.
   */
  private runDeferred(): void {
    if (this.delivering) return;
    this.corking(() => {
      this.delivering = true;
      const q = this.deferred;
      try {
        for (let i = 0; i < q.length; i++) this.runEvent(q[i]!);
      } finally {
        q.length = 0;
        this.delivering = false;
      }
      if (!this.paused && this.recvQ.length > 0) this.deliverQueued();
    });
  }

  private runEvent(e: Deferred): void {
    if (typeof e !== 'string') {
      if (this.appClosed || this.state === 'CLOSED') return;
      if (!this.paused && this.recvQ.length === 0 && this.events.onData) this.events.onData(e);
      else this.recvQ.push(e);
    } else if (e === 'connect') {
      if (this.state === 'CLOSED') return;
      this.host.established(this);
      this.events.onConnect?.();
    } else if (e === 'end') {
      if (this.recvQ.length > 0 && !this.appClosed) this.endPending = true;
      else this.events.onEnd?.();
    } else if (e === 'drain') {
      this.events.onDrain?.();
    } else {
      // onClose. An orderly one in TIME-WAIT waits for the data and onEnd still queued (deliverQueued).
      if (e === 'close' && this.state === 'TIME-WAIT' && this.endPending) return;
      const ev = this.events;
      this.events = {};
      ev.onClose?.(e === 'close' ? undefined : e);
    }
  }

  /** Hands queued data to the application until it pauses (it may, from inside onData). */
  private deliverQueued(): void {
    while (!this.paused && this.recvQ.length > 0 && this.events.onData) {
      let chunk: Uint8Array | undefined;
      this.recvQ.views(this.recvQ.length, (v) => {
        chunk ??= v;
      });
      const n = chunk!.length;
      this.events.onData(chunk!);
      this.recvQ.drop(n);
    }
    if (this.endPending && this.recvQ.length === 0) {
      this.endPending = false;
      this.events.onEnd?.();
      if (this.state === 'TIME-WAIT') {
        this.events.onClose?.(undefined);
        this.events = {};
      }
    }
  }

  // -------------------------------------------------------------- output

  /** Sends what the windows allow, then a pure ACK if one is owed. */
  output(now: bigint): void {
    const st = this.state;
    const sending = st === 'ESTABLISHED' || st === 'CLOSE-WAIT' || st === 'FIN-WAIT-1' || st === 'CLOSING' || st === 'LAST-ACK';
    let sent = false,
      burst = 0,
      paced = false;
    while (sending) {
      const inFlight = seqDiff(this.sndNxt, this.sndUna);
      const unsent = this.sendQ.length - inFlight; // Negative by one once FIN is out.
      const finDue = this.finQueued && seqLe(this.sndNxt, seqAdd(this.sndUna, this.sendQ.length));
      if (unsent <= 0 && !finDue) break;
      if (this.skipSacked()) continue;
      const len = this.sendLength(inFlight, unsent, now);
      if (len < 0) break;
      const fin = this.finQueued && len === unsent && finDue;
      if (len === 0 && !fin) break;
      if (len > 0 && this.paceHolds(now, burst)) {
        paced = true;
        break;
      }
      this.sendNext(len, fin, inFlight, now);
      burst += len;
      sent = true;
      if (fin) break;
    }
    if (sent) this.armTlp(now);
    if (!sent && this.ackNow) this.sendAck();
    if (this.modelBased && sending && !paced) this.checkAppLimited();
  }

  /**
   * Delivery-rate estimation's application-limited mark (draft-cheng-iccrg-delivery-rate-estimation §3.4):
   * less than a segment waits to be sent (or the peer's window holds it back), the congestion window is not
   * full, and no recovery has holes to resend.
   */
  private checkAppLimited(): void {
    const out = seqDiff(this.sndNxt, this.sndUna);
    const unsent = this.sendQ.length - out;
    // The peer's window holds data back (its auto-tuning opening a round at a time, or holes filling it in a
    // recovery): a sample then measures the receiver, not the path, and must neither end STARTUP nor lower the estimate.
    const rwndLimited = unsent >= this.segmentData && this.sndWnd - out < this.segmentData;
    if (!rwndLimited && (unsent >= this.segmentData || this.recovery.inRecovery)) return;
    const inflight = this.inflightNow();
    if (rwndLimited || inflight < this.cc.cwnd) this.rate!.onAppLimited(inflight);
  }

  /**
   * Pacing: data leaves in bursts of the controller's send quantum, one burst per slot of quantum / rate.
   * A burst may start once its slot has come, and goes on while it is less than a quantum ahead of the
   * clock; otherwise the pace timer is set for the next slot. `burst`: octets this burst already sent.
   */
  private paceHolds(now: bigint, burst: number): boolean {
    const rate = this.cc.pacingRate;
    if (!rate) return false;
    const t = Number(now);
    if (burst === 0 ? t >= this.paceNextNs : this.paceNextNs < t + ((this.cc.sendQuantum ?? this.segmentData) * 1e9) / rate) return false;
    this.timers.pace = BigInt(Math.ceil(this.paceNextNs));
    return true;
  }

  /**
   * `len` octets of data at `seq` left now: a delivery-rate record, and the pacing slot they use (credit for
   * a late slot is at most a quantum, so a sender back from idle does not burst more than that).
   */
  private noteSent(seq: number, len: number): void {
    const t = Number(this.now());
    const rate = this.rate;
    const idle = this.sndMax === this.sndUna;
    if (rate) {
      if (idle && rate.appLimitedUntil !== 0) this.cc.onTransmitStart?.(t);
      rate.onSend(seq, len, t, idle);
    }
    const pace = this.cc.pacingRate;
    if (pace) {
      const quantumNs = ((this.cc.sendQuantum ?? this.segmentData) * 1e9) / pace;
      this.paceNextNs = Math.max(this.paceNextNs, t - quantumNs) + (len * 1e9) / pace;
    }
  }

  /** Resending after a timeout (SND.NXT below SND.MAX): skip what the receiver SACKed. Returns whether SND.NXT moved. */
  private skipSacked(): boolean {
    if (!seqLt(this.sndNxt, this.sndMax) || this.scoreboard.empty) return false;
    const skipTo = this.scoreboard.sackedEnd(this.sndNxt);
    if (skipTo === undefined) return false;
    this.sndNxt = skipTo;
    return true;
  }

  /**
   * How many octets to send next from SND.NXT (`inFlight` after SND.UNA, `unsent` more queued): what
   * the windows allow, never into data the receiver SACKed; or -1 to send nothing now.
   */
  private sendLength(inFlight: number, unsent: number, now: bigint): number {
    const smss = this.segmentData;
    // After a timeout only what went out since counts as in flight, less what is SACKed (the rest is presumed lost,
    // as Linux marks it): resending holes among much SACKed data is not held back by it.
    const used = this.recovery.inLoss && !this.scoreboard.empty ? inFlight - this.scoreboard.sackedBytes(this.sndNxt) : inFlight;
    const room = Math.min(this.recovery.sendWindow(smss) - used, this.sndWnd - inFlight);
    let len = Math.max(0, Math.min(smss, unsent, room));
    if (len === smss) len = this.offloadLength(smss, unsent, room);
    if (seqLt(this.sndNxt, this.sndMax)) {
      const nextSacked = this.scoreboard.sackedStartAfter(this.sndNxt);
      if (nextSacked !== undefined) len = Math.min(len, seqDiff(nextSacked, this.sndNxt));
    }
    if (unsent > 0 && len === 0) {
      // Zero window with nothing in flight: the persist timer probes (RFC 9293 §3.8.6.1).
      if (this.sndWnd === 0 && inFlight === 0 && this.timers.persist === undefined && this.timers.rto === undefined) this.armPersist(now);
      return -1;
    }
    // Nagle (RFC 9293 §3.8.6.2.1): no small segment while data is unacknowledged, unless it ends with our FIN.
    if (len > 0 && len < smss && inFlight > 0 && !this.noDelay && !(this.finQueued && len === unsent)) return -1;
    // Sender-side silly window avoidance (RFC 1122 §4.2.3.4), with or without Nagle: a segment cut
    // short by the window, not by the data, waits for the window to open while anything is in flight.
    // (Without this, TCP_NODELAY under load sent a sliver each time an ACK opened a few bytes.)
    if (len > 0 && len < smss && len < unsent && inFlight > 0) return -1;
    return len;
  }

  /**
   * Segmentation offload: new data in whole segments, up to what the device takes in one packet, never
   * with the FIN (so every segment the device cuts is full and alike). `room`: what the windows leave.
   */
  private offloadLength(smss: number, unsent: number, room: number): number {
    const gsoMax = this.host.ip.gsoMaxPacket;
    if (gsoMax === undefined || seqLt(this.sndNxt, this.sndMax)) return smss;
    let big = Math.min(unsent, room, Math.floor((gsoMax - MAX_HEADERS) / smss) * smss);
    if (this.cc.pacingRate) big = Math.min(big, this.cc.sendQuantum ?? smss); // A paced burst is at most one quantum.
    big -= big % smss;
    if (this.finQueued && big === unsent) big -= smss;
    return big > smss ? big : smss;
  }

  /** Sends `len` octets (and the FIN) at SND.NXT and moves it on; times the segment unless it is resent. */
  private sendNext(len: number, fin: boolean, inFlight: number, now: bigint): void {
    const resend = seqLt(this.sndNxt, this.sndMax);
    if (resend) this.countRetransmit(this.sndNxt, len);
    this.sendData(this.sndNxt, inFlight, len, fin);
    if (!resend) this.rtt.timeSegment(seqAdd(this.sndNxt, len), now, this.tsOk);
    this.sndNxt = seqAdd(this.sndNxt, len + (fin ? 1 : 0));
    if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
    if (this.timers.rto === undefined) this.timers.rto = now + this.rtt.rto; // RFC 6298 §5.1
    this.timers.unackedSince ??= now;
  }

  private sendData(seq: number, queueOffset: number, len: number, fin: boolean): void {
    const r = this.segment(seq, ACK | (fin ? FIN : 0) | (len > 0 && queueOffset + len === this.sendQ.length ? PSH : 0));
    this.transmit(r, queueOffset, len);
    if (len > 0 && (this.rate || this.sackOk || this.cc.pacingRate)) {
      if (this.sackOk) this.rate ??= new RateSampler();
      this.noteSent(seq, len);
    }
  }

  private segment(seq: number, flags: number): TcpRepr {
    this.dsackOwed = false; // Reported in this ACK or not at all: a D-SACK block is about the latest segment (RFC 2883 §4).
    const w = this.rcvWindow.field(this.rcvNxt);
    const r: TcpRepr = { srcPort: this.localPort, dstPort: this.remotePort, seq, ack: this.rcvNxt, flags, window: w };
    if (this.tsOk) r.timestamps = [this.tsNow(), this.tsRecent];
    return r;
  }

  /** A pure ACK carries the highest sequence sent, so a rewound SND.NXT never makes it look old. */
  private sendAck(): void {
    if (this.state === 'CLOSED' || this.state === 'LISTEN' || this.state === 'SYN-SENT') return;
    const dsack = this.dsackOwed;
    const r = this.segment(this.sndMax, ACK);
    if (this.sackOk && (dsack || !this.ooo.empty)) {
      const max = this.tsOk ? 3 : 4; // RFC 2018 §3: 3 blocks beside timestamps.
      const blocks = this.ooo.empty ? [] : this.ooo.sackBlocks(dsack ? max - 1 : max);
      if (dsack) blocks.unshift(this.dsackFrom, this.dsackTo); // RFC 2883 §4: the D-SACK block first.
      r.sack = blocks;
    }
    this.transmit(r, 0, 0);
  }

  /** RFC 2883: octets `from`..`to` arrived again; with SACK, the next ACK's first block says so. */
  private reportDuplicate(from: number, to: number): void {
    if (!this.sackOk) return;
    this.dsackOwed = true;
    this.dsackFrom = from;
    this.dsackTo = to;
  }

  /** RFC 5961: answer a suspicious segment with an ACK, within the layer's rate limit (§7). */
  private challengeAck(): void {
    if (!this.host.challengeAllowed()) return;
    this.counters.challengeAcks++;
    this.sendAck();
  }

  private transmit(r: TcpRepr, queueOffset: number, len: number): void {
    const ip = this.host.ip;
    const tx = ip.tx;
    const hl = tcpHeaderLen(r);
    if (len > 0) this.sendQ.peek(queueOffset, len, tx, IPV4_PAYLOAD_AT + hl);
    const smss = this.segmentData;
    if (len > smss) {
      // One packet the device cuts into len / smss segments, checksums finished by it.
      emitTcp(r, this.localAddr, this.remoteAddr, tx, IPV4_PAYLOAD_AT, len, true);
      ip.send(this.remoteAddr, PROTO_TCP, hl + len, { dontFragment: true, gsoSize: smss });
      this.counters.segmentsOut += Math.ceil(len / smss);
      this.counters.offloadSends++;
    } else {
      emitTcp(r, this.localAddr, this.remoteAddr, tx, IPV4_PAYLOAD_AT, len);
      ip.send(this.remoteAddr, PROTO_TCP, hl + len, { dontFragment: true });
      this.counters.segmentsOut++;
    }
    if (r.flags & ACK) {
      this.lastAckSent = this.rcvNxt;
      this.ackNow = false;
      this.unackedSegs = 0;
      this.timers.delAck = undefined;
    }
  }

  // ------------------------------------------------------ retransmission

  /** Sends what loss recovery asks for after an ACK. */
  private recover(action: RecoveryAction): void {
    if (action === RESEND_FIRST) this.retransmitFirst();
    else if (action === SEND_BY_SCOREBOARD) this.sackSend();
  }

  /** Loss recovery with SACK (RFC 6675 §5 (C)): send what NextSeg chooses while the pipe has room. */
  private sackSend(): void {
    const r = this.recovery;
    r.checkLostRetransmit(this.sndUna, this.sndMax);
    const now = this.cc.pacingRate ? this.now() : 0n;
    let burst = 0;
    for (let guard = 0; guard < 1000; guard++) {
      if (this.paceHolds(now, burst)) return;
      const what = r.nextSegment(this.sndUna, this.sndNxt, this.sndMax, this.sendQ.length, this.sndWnd, this.segmentData);
      if (what === NO_SEGMENT) return;
      if (what === NEW_DATA) {
        this.sendNew(r.segLen);
        if (this.timers.rto === undefined) this.timers.rto = this.now() + this.rtt.rto;
      } else {
        this.resend(r.segSeq, r.segLen);
        this.rtt.stopTiming(); // Karn.
      }
      burst += r.segLen;
    }
  }

  /** Resends the segment at SND.UNA; returns the sequence space it covers (0 if none). */
  private retransmitFirst(): number {
    const inFlight = seqDiff(this.sndMax, this.sndUna);
    const len = Math.min(this.segmentData, this.sendQ.length, inFlight);
    const fin = this.finQueued && len === this.sendQ.length && seqGt(this.sndMax, seqAdd(this.sndUna, this.sendQ.length));
    if (len === 0 && !fin) return 0;
    this.countRetransmit(this.sndUna, len);
    this.sendData(this.sndUna, 0, len, fin);
    this.rtt.stopTiming(); // Karn: never time a retransmitted segment.
    return len + (fin ? 1 : 0);
  }

  /** RFC 8985 §7.2: the tail loss probe, for a connection that uses SACK and sends data (see Recovery.armProbe). */
  private armTlp(now: bigint): void {
    const allowed = this.sackOk && (this.state === 'ESTABLISHED' || this.state === 'CLOSE-WAIT');
    this.recovery.armProbe(now, this.rtt.srtt, seqDiff(this.sndMax, this.sndUna), this.segmentData, allowed);
  }

  /** RFC 8985 §7.3: send one new segment if the windows allow, else resend the last one. */
  private onTlp(now: bigint): void {
    const r = this.recovery;
    const what = r.tailProbe(this.sndUna, this.sndNxt, this.sndMax, this.sendQ.length, this.sndWnd, this.segmentData);
    if (what === NO_SEGMENT) return;
    if (what === NEW_DATA) this.sendNew(r.segLen);
    else this.resend(r.segSeq, r.segLen);
    this.timers.rto = now + this.rtt.rto;
  }

  /** Sends `len` new octets at SND.MAX. */
  private sendNew(len: number): void {
    this.sendData(this.sndMax, seqDiff(this.sndMax, this.sndUna), len, false);
    this.sndNxt = this.sndMax = seqAdd(this.sndMax, len);
  }

  /** Sends `len` octets at `seq` again (never the FIN), counted as a retransmission. */
  private resend(seq: number, len: number): void {
    this.countRetransmit(seq, len);
    this.sendData(seq, seqDiff(seq, this.sndUna), len, false);
    if (seq === this.sndUna) this.restartRtoForHead();
  }

  /**
   * The segment at SND.UNA went again: the retransmission timer restarts from this resend (as Linux does for
   * the head of its retransmission queue). RACK needs about two round trips to see a resend lost and send it
   * again, and a 200 ms RTO on a 100 ms path fired first.
   */
  private restartRtoForHead(): void {
    this.timers.rto = this.now() + this.rtt.rto;
  }

  /**
   * Counts `len` octets resent at `seq`, notes when for RTTM's version of Karn's rule (see RttEstimator.newAck),
   * and how far anything was ever resent (data at or above that edge arriving late was reordered, not resent).
   */
  private countRetransmit(seq: number, len: number): void {
    this.recovery.noteResend(seq, len);
    this.counters.retransmits++;
    this.counters.bytesRetransmitted += len;
    this.rtt.lastRetransmitTs = this.tsNow();
    const end = seqAdd(seq, Math.max(len, 1));
    if (seqGt(end, this.resentUpTo)) this.resentUpTo = end;
  }

  // -------------------------------------------------------------- timers

  private armRto(): void {
    this.timers.rto = this.now() + this.rtt.rto;
    this.rtt.timeSyn(this.now());
  }

  /** When `onTimer` is next due (the TCP layer polls it). */
  nextTimerNs(): bigint | undefined {
    return this.timers.next();
  }

  /** Runs the timers that expired, in this order; each sees what the ones before it did. */
  onTimer(now: bigint): void {
    const t = this.timers;
    if (due(t.timeWait, now)) {
      if (this.state === 'FIN-WAIT-2') {
        this.counters.finWait2Timeouts++;
        this.abort();
      } else this.destroy(undefined);
      return;
    }
    if (due(t.delAck, now)) {
      t.delAck = undefined;
      this.sendAck();
    }
    if (due(t.persist, now)) {
      t.persist = undefined;
      this.probeZeroWindow(now);
    }
    if (due(t.pace, now)) {
      // The next pacing slot: SACK recovery's resends first, then what the windows allow.
      t.pace = undefined;
      if (this.recovery.inRecovery && this.sackOk) this.sackSend();
      if (this.state !== 'CLOSED') this.output(now);
    }
    if (due(t.rack, now)) this.onRackTimer(now);
    if (due(t.tlp, now)) this.onTlp(now);
    if (due(t.rtoDeadline(), now)) this.onRto(now);
    if (due(t.keepAlive, now)) this.onKeepAlive(now);
  }

  /** RFC 9293 §3.8.4: an ACK one below SND.NXT makes a live peer answer; silence for long enough ends it. */
  private onKeepAlive(now: bigint): void {
    const t = this.timers;
    t.keepAlive = undefined;
    if (this.state !== 'ESTABLISHED' && this.state !== 'CLOSE-WAIT') return;
    if (seqGt(this.sndMax, this.sndUna)) {
      t.armKeepAlive(now); // Data in flight: the retransmission timer watches the peer.
      return;
    }
    if (t.keepAliveProbes >= (this.cfg.keepAliveProbes ?? KEEPALIVE_PROBES)) {
      this.abortQuietly('timeout');
      return;
    }
    t.keepAliveProbes++;
    this.transmit(this.segment(seqAdd(this.sndMax, -1), ACK), 0, 0);
    t.armKeepAliveProbe(now);
  }

  /** The persist timer (see Timers.armPersist). Answers with the window still zero do not restart it; the window opening stops it. */
  private armPersist(now: bigint): void {
    this.timers.armPersist(now, this.rtt.rtoNs, this.rtt.maxRtoNs);
  }

  private probeZeroWindow(now: bigint): void {
    const st = this.state;
    const inFlight = seqDiff(this.sndMax, this.sndUna);
    if (
      this.sndWnd > 0 ||
      this.sendQ.length === 0 ||
      inFlight > 1 ||
      (st !== 'ESTABLISHED' && st !== 'CLOSE-WAIT' && st !== 'FIN-WAIT-1' && st !== 'CLOSING' && st !== 'LAST-ACK')
    ) {
      this.timers.persistBackoff = 0;
      return;
    }
    // A peer that answers probes keeps the connection forever; one that stays silent is given up on.
    if (this.timers.persistProbes >= (this.cfg.maxRetries ?? MAX_RETRIES)) {
      this.abortQuietly('timeout');
      return;
    }
    // One octet beyond the window, new or the last probe's again; the peer's ACK carries its window (§3.8.6.1).
    if (inFlight === 1) {
      this.counters.retransmits++;
      this.counters.bytesRetransmitted++;
    }
    this.sendData(this.sndUna, 0, 1, false);
    this.sndNxt = this.sndMax = seqAdd(this.sndUna, 1);
    this.timers.persistProbes++;
    this.timers.persistBackoff++;
    this.armPersist(now);
  }

  /** RFC 6298 §5: retransmit the earliest unacknowledged segment, back off, and shrink the window. */
  private onRto(now: bigint): void {
    this.timers.rto = undefined;
    this.recovery.stopProbe();
    if (
      this.sndWnd === 0 &&
      this.sendQ.length > 0 &&
      seqDiff(this.sndMax, this.sndUna) <= 1 &&
      this.state !== 'SYN-SENT' &&
      this.state !== 'SYN-RECEIVED'
    ) {
      // Nothing out but a probe octet: the persist timer's work, without retries or the RTO's backoff.
      if (this.timers.persist === undefined) this.armPersist(now);
      return;
    }
    const limit =
      this.state === 'SYN-SENT' || this.state === 'SYN-RECEIVED'
        ? (this.cfg.synRetries ?? SYN_RETRIES)
        : (this.cfg.maxRetries ?? MAX_RETRIES);
    if (this.rtt.backoff >= limit || this.timers.userTimedOut(now)) {
      this.abortQuietly('timeout');
      return;
    }
    this.rtt.backOff();
    this.counters.timeouts++;
    if (this.state === 'SYN-SENT' || this.state === 'SYN-RECEIVED') {
      this.counters.retransmits++;
      this.sendSyn(this.state === 'SYN-RECEIVED');
      return;
    }
    this.recovery.timeout(seqDiff(this.sndMax, this.sndUna), this.mss, this.sndMax);
    this.timers.rack = undefined;
    // The scoreboard is kept (RFC 6675 §5.1 allows it, as Linux does): the resend after a timeout skips
    // what the receiver already holds. A receiver that reneges still gets everything: SND.UNA only moves
    // on cumulative ACKs, and data it dropped is resent when the next timeout clears what it SACKed.
    if (this.rtt.backoff > 2) this.scoreboard.clear();
    this.sndNxt = this.sndUna; // Go back: resend from the first unacknowledged byte.
    this.sndNxt = seqAdd(this.sndUna, this.retransmitFirst());
    this.timers.rto = now + this.rtt.rto;
  }

  // ------------------------------------------------------------- closing

  private abortQuietly(why: 'timeout'): void {
    this.transmit(resetRepr(this.localPort, this.remotePort, this.sndNxt), 0, 0);
    this.destroy(why);
  }

  /**
   * A new SYN for this connection's four-tuple while it is in TIME-WAIT may start a new connection
   * (RFC 1122 §4.2.2.13, RFC 6191): when its timestamp is newer than the last one seen, or, without
   * timestamps, when its sequence number is beyond RCV.NXT — so nothing of the old one can be taken
   * for the new. Then the old one is forgotten (quietly: its application was told long ago).
   */
  yieldsToNewSyn(seg: TcpView, o: TcpOptions): boolean {
    if (this.state !== 'TIME-WAIT' || seg.flags & (ACK | RST) || !(seg.flags & SYN)) return false;
    const newer = this.tsOk && o.hasTimestamps ? ((o.tsVal - this.tsRecent) | 0) > 0 : seqGt(seg.seq, this.rcvNxt);
    if (newer) this.destroy(undefined);
    return newer;
  }

  private destroy(error: 'reset' | 'refused' | 'timeout' | undefined): void {
    if (this.state === 'CLOSED') return;
    const wasTimeWait = this.state === 'TIME-WAIT';
    this.state = 'CLOSED';
    this.timers.stopAll();
    this.host.remove(this);
    if (wasTimeWait) {
      this.events = {};
      return;
    }
    this.defer(error ?? 'close');
  }
}
