/**
 * A fake host for segment-level TCP tests, in the manner of smoltcp's
 * `socket/tcp.rs` (`send!`/`recv!` around a socket and a fake interface):
 * the real TCP layer (demux, listeners, cookies, connections) over a fake
 * IPv4 layer that records every segment the stack emits, parsed back to a
 * repr, and a virtual clock that moves only when a test advances it (timers
 * fire on the way). A test injects crafted segments and asserts the exact
 * segments that came out, and that nothing else did.
 *
 * Test support only: nothing in the stack imports it.
 */
import type { Clock, Random } from '../../devices/index.ts';
import { fold, pseudoHeaderSum } from '../../wire/checksum.ts';
import { ACK, emitTcp, FIN, parseTcpOptions, emptyTcpOptions, PSH, RST, SYN, tcpHeaderLen, TcpView, type TcpRepr } from '../../wire/tcp.ts';
import { IPV4_PAYLOAD_AT, type Ipv4, type Ipv4Packet, type SendOptions } from '../ipv4.ts';
import type { TcpConnection, TcpConfig } from './connection.ts';
import { Tcp, type TcpListenOptions } from './tcp.ts';
import { EPHEMERAL_FIRST, EPHEMERAL_LAST } from '../udp.ts';

export const LOCAL_IP = 0x0a000001; // 10.0.0.1, the stack under test
export const REMOTE_IP = 0x0a000002; // 10.0.0.2, the peer the test plays
export const LOCAL_PORT = 80;
export const REMOTE_PORT = 49500;
/** Every ISS the stack picks (its Random returns this), and the peer's. */
export const LOCAL_ISS = 10_000;
export const REMOTE_ISS = 50_000;
/** The port an active open from the stack gets (its Random always returns LOCAL_ISS). */
export const LOCAL_EPHEMERAL = EPHEMERAL_FIRST + (LOCAL_ISS % (EPHEMERAL_LAST - EPHEMERAL_FIRST + 1));
export const MS = 1_000_000n;
export const S = 1_000_000_000n;
/** Virtual time starts here, so timestamps (ms) are never zero. */
export const T0 = 100n * S;

/** Flags as tcpdump prints them: F S R P, then `.` for ACK (`S.` is a SYN-ACK, `R` a bare RST). */
export function flagText(f: number): string {
  return (
    (f & FIN ? 'F' : '') +
    (f & SYN ? 'S' : '') +
    (f & RST ? 'R' : '') +
    (f & PSH ? 'P' : '') +
    (f & ACK ? '.' : '') +
    (f & ~(FIN | SYN | RST | PSH | ACK) ? `+${(f & ~(FIN | SYN | RST | PSH | ACK)).toString(16)}` : '')
  );
}

export function flagBits(s: string): number {
  let f = 0;
  for (const ch of s) {
    switch (ch) {
      case 'F':
        f |= FIN;
        break;
      case 'S':
        f |= SYN;
        break;
      case 'R':
        f |= RST;
        break;
      case 'P':
        f |= PSH;
        break;
      case '.':
        f |= ACK;
        break;
      default:
        throw new Error(`unknown flag ${ch} in ${s}`);
    }
  }
  return f;
}

/** A segment the test sends to the stack. */
export interface SegIn {
  seq: number;
  ack?: number;
  /** tcpdump letters, e.g. 'S', 'S.', '.', 'P.', 'F.', 'R', 'R.' */
  flags: string;
  window?: number;
  mss?: number;
  wscale?: number;
  sackPermitted?: boolean;
  ts?: readonly [number, number];
  sack?: readonly number[];
  /** The payload, or its length (filled with a pattern). */
  payload?: Uint8Array | number;
  srcPort?: number;
  dstPort?: number;
  /** The IPv4 destination, if not the stack's address (a broadcast, a multicast group). */
  dstIp?: number;
}

/** A segment the stack emitted, parsed back. Options appear only when present. */
export interface SegOut {
  flags: string;
  seq: number;
  ack: number;
  window: number;
  len: number;
  mss?: number;
  wscale?: number;
  sackPermitted?: true;
  ts?: [number, number];
  sack?: number[];
}

export interface Sent {
  at: bigint;
  seg: SegOut;
  payload: Uint8Array;
  srcPort: number;
  dstPort: number;
  /** The IPv4 don't-fragment flag it was sent with. */
  df: boolean;
}

export function fill(len: number, salt = 0): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (i + salt) & 0xff;
  return b;
}

class FakeClock implements Clock {
  now = T0;
  monotonicNs(): bigint {
    return this.now;
  }
  wallNs(): bigint {
    return this.now;
  }
}

class FixedRandom implements Random {
  value = LOCAL_ISS;
  u32(): number {
    return this.value >>> 0;
  }
  fill(into: Uint8Array): void {
    into.fill(7);
  }
}

/**
 * The IPv4 layer TCP sees: an address, an MTU, a transmit buffer, and a
 * `send` that parses the segment back (checksum verified) into the log.
 */
class FakeIp {
  readonly address = LOCAL_IP;
  readonly mtu: number;
  readonly gsoMaxPacket: number | undefined;
  readonly tx = new Uint8Array(14 + 65535);
  private readonly onSend: (buf: Uint8Array, dst: number, opts: SendOptions | undefined) => void;
  constructor(
    mtu: number,
    gsoMaxPacket: number | undefined,
    onSend: (buf: Uint8Array, dst: number, opts: SendOptions | undefined) => void,
  ) {
    this.mtu = mtu;
    this.gsoMaxPacket = gsoMaxPacket;
    this.onSend = onSend;
  }
  register(): void {}
  isBroadcast(a: number): boolean {
    return a === 0xffffffff || a === 0x0a0000ff;
  }
  send(dst: number, _protocol: number, len: number, opts?: SendOptions): 'ok' {
    this.onSend(this.tx.slice(IPV4_PAYLOAD_AT, IPV4_PAYLOAD_AT + len), dst, opts);
    return 'ok';
  }
}

export interface HarnessOptions {
  /** Defaults for every connection (merged under listen/connect options). */
  tcp?: TcpConfig;
  mtu?: number;
  /**
   * Segmentation offload: the largest packet (IPv4 header included) the fake device takes and cuts into
   * segments of `gsoSize` payload bytes, as a NIC does (PSH on the last only). Off by default.
   */
  gsoMaxPacket?: number;
  /** The round trip the state builders let pass between our segment and the peer's answer (default 1 ms). */
  rttNs?: bigint;
}

export class SegmentHarness {
  readonly clock = new FakeClock();
  readonly random = new FixedRandom();
  readonly tcp: Tcp;
  /** Packets the stack handed over for segmentation offload (each is logged as the segments it was cut into). */
  offloaded = 0;
  /** Every segment out, in order, with the time it left; `recv` consumes from `cursor`. */
  readonly log: Sent[] = [];
  private cursor = 0;
  /** The connection the listener handed over, or the one `connect` opened. */
  conn: TcpConnection | undefined;
  /** Application events, in order, as text ("connect", "data 5", "end", "close reset", "drain"). */
  readonly events: string[] = [];
  /** What the application received. */
  received: number[] = [];
  readonly rttNs: bigint;

  constructor(o: HarnessOptions = {}) {
    this.rttNs = o.rttNs ?? MS;
    const ip = new FakeIp(o.mtu ?? 1500, o.gsoMaxPacket, (buf, dst, opts) => this.record(buf, dst, opts));
    this.tcp = new Tcp(ip as unknown as Ipv4, this.clock, this.random, o.tcp ?? {});
  }

  get now(): bigint {
    return this.clock.now;
  }
  /** The stack's timestamp clock (ms) now. */
  get tsNow(): number {
    return Number(this.clock.now / MS) >>> 0;
  }

  private record(buf: Uint8Array, dst: number, opts: SendOptions | undefined): void {
    if (dst !== REMOTE_IP) throw new Error(`segment to ${dst.toString(16)}, not the peer`);
    const gso = opts?.gsoSize;
    if (gso !== undefined) this.checkOffload(buf, opts!, gso);
    const v = new TcpView();
    const r = v.check(buf, LOCAL_IP, REMOTE_IP, gso === undefined);
    if (r !== 'ok') throw new Error(`the stack emitted a bad segment: ${r}`);
    const o = emptyTcpOptions();
    if (parseTcpOptions(v, o) !== 'ok') throw new Error('the stack emitted malformed options');
    const seg: SegOut = { flags: flagText(v.flags), seq: v.seq, ack: v.ack, window: v.window, len: v.payloadLen };
    if (o.mss) seg.mss = o.mss;
    if (o.wscale >= 0) seg.wscale = o.wscale;
    if (o.sackPermitted) seg.sackPermitted = true;
    if (o.hasTimestamps) seg.ts = [o.tsVal, o.tsEcr];
    if (o.sackCount) seg.sack = o.sack.slice(0, 2 * o.sackCount);
    const payload = v.payload().slice();
    const df = opts?.dontFragment === true;
    if (gso === undefined) {
      this.log.push({ at: this.clock.now, seg, payload, srcPort: v.srcPort, dstPort: v.dstPort, df });
      return;
    }
    // Offloaded: the device's cut, every segment with the same header but its own sequence number, PSH on the last only.
    for (let off = 0; off < payload.length; off += gso) {
      const part = payload.slice(off, Math.min(payload.length, off + gso));
      const flags = off + gso < payload.length ? flagText(v.flags & ~PSH) : seg.flags;
      const s: SegOut = { ...seg, flags, seq: (v.seq + off) >>> 0, len: part.length };
      this.log.push({ at: this.clock.now, seg: s, payload: part, srcPort: v.srcPort, dstPort: v.dstPort, df });
    }
  }

  /** What a device needs of an offloaded packet: offload on, DF, within its size, no FIN, and the pseudo-header sum in place. */
  private checkOffload(buf: Uint8Array, opts: SendOptions, gso: number): void {
    const max = this.tcp.ip.gsoMaxPacket;
    if (max === undefined) throw new Error('segmentation offload is off in the harness');
    if (!opts.dontFragment || 20 + buf.length > max)
      throw new Error(`an offloaded packet of ${buf.length} bytes (device max ${max}, DF ${opts.dontFragment})`);
    const hl = (buf[12]! >> 4) * 4;
    if (buf.length - hl <= gso) throw new Error('offloaded, but no longer than one segment');
    if (buf[13]! & FIN) throw new Error('a FIN in an offloaded packet');
    const sum = ((buf[16]! << 8) | buf[17]!) >>> 0;
    if (sum !== fold(pseudoHeaderSum(LOCAL_IP, REMOTE_IP, 6, buf.length)))
      throw new Error('an offloaded packet without its pseudo-header sum');
    this.offloaded++;
  }

  /** Hands a segment from the peer to the stack, now. */
  send(s: SegIn): void {
    const payload = typeof s.payload === 'number' ? fill(s.payload) : (s.payload ?? new Uint8Array(0));
    const r: TcpRepr = {
      srcPort: s.srcPort ?? REMOTE_PORT,
      dstPort: s.dstPort ?? this.conn?.localPort ?? LOCAL_PORT,
      seq: s.seq >>> 0,
      ack: (s.ack ?? 0) >>> 0,
      flags: flagBits(s.flags),
      window: s.window ?? 64000,
    };
    if (s.mss !== undefined) r.mss = s.mss;
    if (s.wscale !== undefined) r.wscale = s.wscale;
    if (s.sackPermitted) r.sackPermitted = true;
    if (s.ts) r.timestamps = s.ts;
    if (s.sack) r.sack = s.sack;
    const hl = tcpHeaderLen(r);
    const buf = new Uint8Array(hl + payload.length);
    buf.set(payload, hl);
    const dst = s.dstIp ?? LOCAL_IP;
    emitTcp(r, REMOTE_IP, dst, buf, 0, payload.length);
    const p: Ipv4Packet = {
      src: REMOTE_IP,
      dst,
      protocol: 6,
      ttl: 64,
      buf,
      payloadOff: 0,
      payloadEnd: buf.length,
      header: () => new Uint8Array(20),
      payload: () => buf,
      checksumVerified: false,
    };
    this.tcp.receive(p);
  }

  /** Moves virtual time forward by `ns`, firing every timer that falls due on the way, at its time. */
  advance(ns: bigint): void {
    const target = this.clock.now + ns;
    for (let guard = 0; guard < 100_000; guard++) {
      const t = this.tcp.pollAtNs();
      if (t === undefined || t > target) break;
      if (t > this.clock.now) this.clock.now = t;
      if (!this.tcp.poll(this.clock.now)) break;
    }
    this.clock.now = target;
  }

  /** Moves time to the next timer (at most `limit` ahead) and fires it; returns how far time moved. */
  nextTimer(limit = 3600n * S): bigint {
    const t = this.tcp.pollAtNs();
    const from = this.clock.now;
    if (t === undefined || t > from + limit) {
      this.clock.now = from + limit;
      return limit;
    }
    if (t > from) this.clock.now = t;
    this.tcp.poll(this.clock.now);
    return this.clock.now - from;
  }

  /** The segments emitted since the last call. */
  recv(): SegOut[] {
    const out = this.log.slice(this.cursor).map((s) => s.seg);
    this.cursor = this.log.length;
    return out;
  }

  /** Like `recv`, with times and payloads. */
  recvSent(): Sent[] {
    const out = this.log.slice(this.cursor);
    this.cursor = this.log.length;
    return out;
  }

  /** Hooks the application side of `c`: events are logged, data collected. */
  hook(c: TcpConnection, extra: { onData?: (d: Uint8Array) => void; onConnect?: () => void; onEnd?: () => void } = {}): void {
    this.conn = c;
    c.events = {
      onConnect: () => {
        this.events.push('connect');
        extra.onConnect?.();
      },
      onData: (d) => {
        this.events.push(`data ${d.length}`);
        for (const b of d) this.received.push(b);
        extra.onData?.(d);
      },
      onEnd: () => {
        this.events.push('end');
        extra.onEnd?.();
      },
      onDrain: () => {
        this.events.push('drain');
      },
      onClose: (e) => {
        this.events.push(`close ${e}`);
      },
    };
  }

  /** Listens on LOCAL_PORT; the connection it hands over is hooked (see `hook`) unless `raw`. */
  listen(opts: TcpListenOptions = {}, raw = false): void {
    const l = this.tcp.listen(
      LOCAL_PORT,
      (c) => {
        this.events.push('accept');
        if (raw) this.conn = c;
        else this.hook(c);
      },
      opts,
    );
    if (typeof l === 'string') throw new Error(l);
  }

  /** The one connection in the layer's table (any state, e.g. SYN-RECEIVED before the application has it). */
  only(): TcpConnection | undefined {
    const conns = (this.tcp as unknown as { conns: Map<number, Map<number, TcpConnection>> }).conns;
    const all = [...conns.values()].flatMap((m) => [...m.values()]);
    if (all.length > 1) throw new Error(`${all.length} connections`);
    return all[0];
  }

  /** Active open to the peer; the connection is hooked. */
  connect(opts: TcpConfig = {}): TcpConnection {
    const c = this.tcp.connect(REMOTE_IP, REMOTE_PORT, opts);
    this.hook(c);
    return c;
  }

  // ------------------------------------------------------------ state builders
  // Each brings a fresh connection to one state with the peer defaults (MSS 1460, no window
  // scaling, timestamps or SACK unless `syn` adds them), consumes what the stack sent on the
  // way, and checks the state. Sequence numbers: ours start at LOCAL_ISS + 1, the peer's at
  // REMOTE_ISS + 1.

  private must(c: TcpConnection | undefined, state: string): TcpConnection {
    if (!c || c.state !== state) throw new Error(`wanted ${state}, have ${c?.state}`);
    this.recv();
    return c;
  }

  /** LISTEN, SYN in, SYN-ACK out. */
  synReceived(opts: TcpListenOptions = {}, syn: Partial<SegIn> = {}): TcpConnection {
    this.listen(opts);
    this.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, ...syn });
    return this.must(this.only(), 'SYN-RECEIVED');
  }

  /** Passive open completed. */
  established(opts: TcpListenOptions = {}, syn: Partial<SegIn> = {}, ack: Partial<SegIn> = {}): TcpConnection {
    this.synReceived(opts, syn);
    this.advance(this.rttNs);
    this.send({ seq: REMOTE_ISS + 1, ack: LOCAL_ISS + 1, flags: '.', ...ack });
    this.events.length = 0;
    return this.must(this.conn, 'ESTABLISHED');
  }

  /** Active open, SYN out. */
  synSent(opts: TcpConfig = {}): TcpConnection {
    return this.must(this.connect(opts), 'SYN-SENT');
  }

  /** Active open completed: SYN out, SYN-ACK in, ACK out. */
  activeEstablished(opts: TcpConfig = {}, synAck: Partial<SegIn> = {}): TcpConnection {
    const c = this.synSent(opts);
    this.advance(this.rttNs);
    this.send({ seq: REMOTE_ISS, ack: LOCAL_ISS + 1, flags: 'S.', mss: 1460, ...synAck });
    this.events.length = 0;
    return this.must(c, 'ESTABLISHED');
  }

  /** ESTABLISHED, then the application shuts down: FIN out (seq LOCAL_ISS + 1). */
  finWait1(opts: TcpListenOptions = {}, syn: Partial<SegIn> = {}): TcpConnection {
    const c = this.established(opts, syn);
    c.shutdown();
    return this.must(c, 'FIN-WAIT-1');
  }

  /** FIN-WAIT-1, then the peer ACKs our FIN. */
  finWait2(opts: TcpListenOptions = {}): TcpConnection {
    const c = this.finWait1(opts);
    this.send({ seq: REMOTE_ISS + 1, ack: LOCAL_ISS + 2, flags: '.' });
    return this.must(c, 'FIN-WAIT-2');
  }

  /** ESTABLISHED, then the peer's FIN (seq REMOTE_ISS + 1) arrives and is ACKed. */
  closeWait(opts: TcpListenOptions = {}, syn: Partial<SegIn> = {}): TcpConnection {
    const c = this.established(opts, syn);
    this.send({ seq: REMOTE_ISS + 1, ack: LOCAL_ISS + 1, flags: 'F.' });
    this.events.length = 0;
    return this.must(c, 'CLOSE-WAIT');
  }

  /** CLOSE-WAIT, then the application closes: FIN out. */
  lastAck(opts: TcpListenOptions = {}): TcpConnection {
    const c = this.closeWait(opts);
    c.close();
    return this.must(c, 'LAST-ACK');
  }

  /** FIN-WAIT-1, then the peer's FIN arrives before its ACK of ours (simultaneous close). */
  closing(opts: TcpListenOptions = {}): TcpConnection {
    const c = this.finWait1(opts);
    this.send({ seq: REMOTE_ISS + 1, ack: LOCAL_ISS + 1, flags: 'F.' });
    this.events.length = 0;
    return this.must(c, 'CLOSING');
  }

  /** FIN-WAIT-2, then the peer's FIN: ACK out, TIME-WAIT. */
  timeWait(opts: TcpListenOptions = {}): TcpConnection {
    const c = this.finWait2(opts);
    this.send({ seq: REMOTE_ISS + 1, ack: LOCAL_ISS + 2, flags: 'F.' });
    this.events.length = 0;
    return this.must(c, 'TIME-WAIT');
  }
}
