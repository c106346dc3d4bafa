/**
 * The TCP layer over one IPv4 layer: demultiplexes segments to connections
 * (keyed without allocation), runs listeners with a bounded backlog of
 * half-open connections, answers segments for no connection with RST
 * (RFC 9293 §3.10.7.1), and exposes connection timers to the stack's poll.
 */
import { earlier, type Clock, type Random } from '../../devices/index.ts';
import { isMulticast, PROTO_TCP } from '../../wire/ipv4.ts';
import { ACK, emitTcp, emptyTcpOptions, FIN, parseTcpOptions, RST, SYN, TcpView, type TcpRepr } from '../../wire/tcp.ts';
import { counters } from '../counters.ts';
import { IPV4_PAYLOAD_AT, type Ipv4, type Ipv4Handler, type Ipv4Packet } from '../ipv4.ts';
import { EPHEMERAL_FIRST, EPHEMERAL_LAST } from '../udp.ts';
import { TcpConnection, type TcpConfig, type TcpCounters, type TcpHost } from './connection.ts';
import { seqAdd } from './seq.ts';
import { SynCookies } from './cookie.ts';
import { CHALLENGE_ACKS_PER_SECOND, DEFAULT_RECEIVE_BUFFER, MAX_WINDOW, mssForMtu } from './constants.ts';
import { resetReplyTo } from './reset.ts';

export interface TcpListenOptions extends TcpConfig {
  /** Half-open (SYN-RECEIVED) connections at most (default 128); beyond it, SYN cookies answer. */
  readonly backlog?: number;
  /** Answer SYNs with stateless cookies when the backlog is full (default true); else drop them. */
  readonly synCookies?: boolean;
}

export class TcpListener {
  readonly port: number;
  readonly opts: TcpListenOptions;
  readonly onConnection: (c: TcpConnection) => void;
  halfOpen = 0;
  constructor(port: number, opts: TcpListenOptions, onConnection: (c: TcpConnection) => void) {
    this.port = port;
    this.opts = opts;
    this.onConnection = onConnection;
  }
}

const DROPS = [
  'truncated',
  'data-offset',
  'checksum',
  'bad-options',
  'no-connection',
  'backlog-full',
  'broadcast',
  'bad-cookie',
  'listen-no-syn',
] as const;

/** Key of a remote endpoint within one local port: address × 65536 + port (48 bits, exact in a double). */
const remoteKey = (addr: number, port: number): number => addr * 65536 + port;

export class Tcp implements Ipv4Handler, TcpHost {
  readonly ip: Ipv4;
  readonly clock: Clock;
  readonly random: Random;
  private readonly defaults: TcpConfig;
  private readonly conns = new Map<number, Map<number, TcpConnection>>();
  /** Connections whose timers `poll` scans: all in the table but those in TIME-WAIT. */
  private readonly timed = new Set<TcpConnection>();
  /** Connections in TIME-WAIT, in the order they entered it; `waitingAt` is the first not yet expired. */
  private readonly waiting: TcpConnection[] = [];
  private waitingAt = 0;
  private readonly listeners = new Map<number, TcpListener>();
  private readonly parents = new WeakMap<TcpConnection, TcpListener>();
  private readonly view = new TcpView();
  private readonly opts = emptyTcpOptions();
  readonly drops = counters(DROPS);
  readonly counters: TcpCounters = {
    segmentsOut: 0,
    offloadSends: 0,
    segmentsIn: 0,
    retransmits: 0,
    bytesRetransmitted: 0,
    fastRetransmits: 0,
    spuriousRecoveries: 0,
    timeouts: 0,
    tailProbes: 0,
    lostRetransmits: 0,
    dupAcks: 0,
    outOfOrder: 0,
    challengeAcks: 0,
    pawsDrops: 0,
    finWait2Timeouts: 0,
  };
  rstsSent = 0;
  challengesLimited = 0;
  private challengeTokens = CHALLENGE_ACKS_PER_SECOND;
  private challengeRefillNs = 0n;
  cookiesSent = 0;
  cookiesAccepted = 0;
  private readonly cookies: SynCookies;

  constructor(ip: Ipv4, clock: Clock, random: Random, defaults: TcpConfig = {}) {
    this.ip = ip;
    this.clock = clock;
    this.random = random;
    this.defaults = defaults;
    this.cookies = new SynCookies(random);
    ip.register(PROTO_TCP, this);
  }

  /** Listens on `port`; `onConnection` gets each connection once it is ESTABLISHED. */
  listen(port: number, onConnection: (c: TcpConnection) => void, opts: TcpListenOptions = {}): TcpListener | 'in-use' {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`TCP port ${port} is not in 1-65535`);
    if (this.listeners.has(port)) return 'in-use';
    const l = new TcpListener(port, { ...this.defaults, ...opts }, onConnection);
    this.listeners.set(port, l);
    return l;
  }

  unlisten(l: TcpListener): void {
    if (this.listeners.get(l.port) === l) this.listeners.delete(l.port);
  }

  /** Active open to `dst:dstPort` from an ephemeral port; events arrive on the returned connection. */
  connect(dst: number, dstPort: number, opts: TcpConfig = {}): TcpConnection {
    const span = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1;
    const start = this.random.u32() % span;
    const rk = remoteKey(dst, dstPort);
    for (let i = 0; i < span; i++) {
      const port = EPHEMERAL_FIRST + ((start + i) % span);
      if (this.listeners.has(port) || this.conns.get(port)?.has(rk)) continue;
      const c = new TcpConnection(
        this,
        { ...this.defaults, ...opts },
        'CLOSED',
        [this.ip.address, port],
        [dst, dstPort],
        this.random.u32(),
      );
      this.insert(port, rk, c);
      c.openActive();
      return c;
    }
    throw new Error(`no free local port to connect to ${dst}:${dstPort}`);
  }

  /** Adds a connection to the demultiplexing table and to the timer scan. */
  private insert(port: number, rk: number, c: TcpConnection): void {
    this.table(port).set(rk, c);
    this.timed.add(c);
  }

  timeWait(c: TcpConnection): void {
    this.timed.delete(c);
    this.waiting.push(c);
  }

  private table(port: number): Map<number, TcpConnection> {
    let t = this.conns.get(port);
    if (!t) {
      t = new Map();
      this.conns.set(port, t);
    }
    return t;
  }

  remove(c: TcpConnection): void {
    this.timed.delete(c);
    const t = this.conns.get(c.localPort);
    if (t?.get(remoteKey(c.remoteAddr, c.remotePort)) === c) {
      t.delete(remoteKey(c.remoteAddr, c.remotePort));
      if (t.size === 0) this.conns.delete(c.localPort);
    }
    const l = this.parents.get(c);
    if (l) {
      l.halfOpen--;
      this.parents.delete(c);
    }
  }

  challengeAllowed(): boolean {
    const now = this.clock.monotonicNs();
    if (now - this.challengeRefillNs >= 1_000_000_000n) {
      this.challengeTokens = CHALLENGE_ACKS_PER_SECOND;
      this.challengeRefillNs = now;
    }
    if (this.challengeTokens <= 0) {
      this.challengesLimited++;
      return false;
    }
    this.challengeTokens--;
    return true;
  }

  established(c: TcpConnection): void {
    const l = this.parents.get(c);
    if (!l) return;
    l.halfOpen--;
    this.parents.delete(c);
    l.onConnection(c);
  }

  receive(p: Ipv4Packet): void {
    const v = this.view;
    const r = v.check(p.buf, p.src, p.dst, !p.checksumVerified, p.payloadOff, p.payloadEnd);
    if (r !== 'ok') {
      this.drops[r]++;
      return;
    }
    if (this.ip.isBroadcast(p.dst) || isMulticast(p.dst)) {
      this.drops.broadcast++; // TCP is unicast only (RFC 1122 §4.2.3.10).
      return;
    }
    if (parseTcpOptions(v, this.opts) !== 'ok') {
      this.drops['bad-options']++;
      return;
    }
    const c = this.conns.get(v.dstPort)?.get(remoteKey(p.src, v.srcPort));
    // A new SYN may reopen a four-tuple in TIME-WAIT (RFC 6191): a client that reuses its ports fast
    // would otherwise wait out a challenge ACK, an RST and a SYN retransmission (a second) each time.
    if (c && !c.yieldsToNewSyn(v, this.opts)) {
      c.input(v, this.opts);
      return;
    }
    const l = this.listeners.get(v.dstPort);
    const flags = v.flags;
    if (l && !(flags & RST)) {
      if (flags & ACK) {
        if (!(flags & SYN) && l.opts.synCookies !== false && this.acceptCookie(l, p, v)) return;
        this.reset(p.src, v); // An ACK to a listener: RST (RFC 9293 §3.10.7.2).
        return;
      }
      if (flags & SYN) {
        if (l.halfOpen >= (l.opts.backlog ?? 128)) {
          if (l.opts.synCookies !== false) this.sendCookie(l, p, v);
          else this.drops['backlog-full']++;
          return;
        }
        const child = new TcpConnection(this, l.opts, 'LISTEN', [p.dst, v.dstPort], [p.src, v.srcPort], this.random.u32());
        this.insert(v.dstPort, remoteKey(p.src, v.srcPort), child);
        this.parents.set(child, l);
        l.halfOpen++;
        child.openPassive(v, this.opts);
        return;
      }
      // RFC 9293 §3.10.7.2, LISTEN, "fourth, other data or control": no SYN, ACK or RST (FIN, URG, PSH or none). Dropped,
      // and counted: found by the fuzz target 'stack''s accounting, this was the one segment the layer discarded unseen.
      this.drops['listen-no-syn']++;
      return;
    }
    this.drops['no-connection']++;
    if (!(flags & RST)) this.reset(p.src, v);
  }

  /** A stateless SYN-ACK whose ISS is a cookie (RFC 4987 §3.6); only MSS is offered. */
  private sendCookie(l: TcpListener, p: Ipv4Packet, v: TcpView): void {
    const iss = this.cookies.make(this.clock.monotonicNs(), p.dst, v.dstPort, p.src, v.srcPort, this.opts.mss);
    const r: TcpRepr = {
      srcPort: v.dstPort,
      dstPort: v.srcPort,
      seq: iss,
      ack: seqAdd(v.seq, 1),
      flags: SYN | ACK,
      window: Math.min(MAX_WINDOW, l.opts.receiveBuffer ?? DEFAULT_RECEIVE_BUFFER),
      mss: mssForMtu(this.ip.mtu),
    };
    emitTcp(r, this.ip.address, p.src, this.ip.tx, IPV4_PAYLOAD_AT, 0);
    this.ip.send(p.src, PROTO_TCP, 24);
    this.cookiesSent++;
  }

  /** An ACK for no connection: if it returns a valid cookie, the connection exists from now on. */
  private acceptCookie(l: TcpListener, p: Ipv4Packet, v: TcpView): boolean {
    const mss = this.cookies.check(this.clock.monotonicNs(), seqAdd(v.ack, -1), p.dst, v.dstPort, p.src, v.srcPort);
    if (mss === undefined) {
      if (this.cookiesSent > 0) this.drops['bad-cookie']++;
      return false;
    }
    const c = new TcpConnection(this, l.opts, 'ESTABLISHED', [p.dst, v.dstPort], [p.src, v.srcPort], seqAdd(v.ack, -1));
    c.openFromCookie(v, mss);
    this.insert(v.dstPort, remoteKey(p.src, v.srcPort), c);
    this.cookiesAccepted++;
    l.onConnection(c);
    if (v.payloadLen > 0 || v.flags & FIN) c.input(v, this.opts); // The ACK may already carry data.
    return true;
  }

  /** RST for a segment that has no connection (RFC 9293 §3.10.7.1). */
  private reset(dst: number, v: TcpView): void {
    emitTcp(resetReplyTo(v), this.ip.address, dst, this.ip.tx, IPV4_PAYLOAD_AT, 0);
    this.ip.send(dst, PROTO_TCP, 20);
    this.rstsSent++;
  }

  /**
   * Timers: every connection but those in TIME-WAIT is scanned; those wait in a queue in the order
   * they entered, all for the same 2 MSL, so only its head is looked at. (A connection per request
   * at thousands a second keeps tens of thousands in TIME-WAIT: scanning them on every poll was
   * quadratic.) One whose TIME-WAIT restarted holds those behind it a little longer; nothing is lost.
   */
  poll(now: bigint): boolean {
    let did = false;
    for (const c of this.timed) {
      const d = c.nextTimerNs();
      if (d !== undefined && d <= now) {
        c.onTimer(now);
        did = true;
      }
    }
    for (let c = this.waitingHead(); c; c = this.waitingHead()) {
      const d = c.nextTimerNs();
      if (d !== undefined && d > now) break;
      this.waitingAt++;
      c.onTimer(now);
      did = true;
    }
    return did;
  }

  /** The oldest connection still in TIME-WAIT (entries that left it some other way are skipped). */
  private waitingHead(): TcpConnection | undefined {
    if (this.waitingAt > 4096 && this.waitingAt * 2 > this.waiting.length) {
      this.waiting.splice(0, this.waitingAt); // Drop what was consumed, now and then.
      this.waitingAt = 0;
    }
    while (this.waitingAt < this.waiting.length) {
      const c = this.waiting[this.waitingAt]!;
      if (c.state === 'TIME-WAIT') return c;
      this.waitingAt++;
    }
    this.waiting.length = 0;
    this.waitingAt = 0;
    return undefined;
  }

  pollAtNs(): bigint | undefined {
    let t: bigint | undefined;
    for (const c of this.timed) t = earlier(t, c.nextTimerNs());
    return earlier(t, this.waitingHead()?.nextTimerNs());
  }

  /** Connections in the table (every state but LISTEN and CLOSED). */
  get connectionCount(): number {
    let n = 0;
    for (const t of this.conns.values()) n += t.size;
    return n;
  }
}
