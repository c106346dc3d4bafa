/**
 * UDP (RFC 768) over one IPv4 layer: sockets bound to ports, ephemeral ports
 * chosen at random from the IANA dynamic range (RFC 6335 §6, RFC 6056),
 * checksums sent always and verified when present, and ICMP port
 * unreachable for datagrams no socket wants.
 */
import type { Random } from '../devices/index.ts';
import { PROTO_UDP } from '../wire/ipv4.ts';
import { emitUdp, UDP_HEADER_LEN, UdpView } from '../wire/udp.ts';
import { counters, type SendResult } from './counters.ts';
import { IPV4_PAYLOAD_AT, type Ipv4, type Ipv4Handler, type Ipv4Packet, type SendOptions } from './ipv4.ts';

export const EPHEMERAL_FIRST = 49152;
export const EPHEMERAL_LAST = 65535;
/** Largest UDP payload over IPv4 with a minimal header. */
export const UDP_MAX_PAYLOAD = 65535 - 20 - UDP_HEADER_LEN;

/** A received datagram. Borrowed: valid during the callback; copy what you keep. */
export interface UdpDatagram {
  readonly src: number;
  readonly srcPort: number;
  readonly dst: number;
  readonly dstPort: number;
  /** The payload as a view (made on first access; the only allocation on the receive path). */
  readonly data: Uint8Array;
  /** The payload without a view: `buf[off..end)`. */
  readonly buf: Uint8Array;
  readonly off: number;
  readonly end: number;
}

/** One reused object per UDP layer: receiving allocates nothing until `data` is read. */
class Received implements UdpDatagram {
  src = 0;
  srcPort = 0;
  dst = 0;
  dstPort = 0;
  buf: Uint8Array = new Uint8Array(0);
  off = 0;
  end = 0;
  get data(): Uint8Array {
    return this.buf.subarray(this.off, this.end);
  }
}

/** Something that tells senders a port is closed (the ICMP layer). */
export interface PortUnreachableSink {
  portUnreachable(p: Ipv4Packet): void;
}

const DROPS = ['truncated', 'length', 'checksum', 'no-socket'] as const;

export class UdpSocket {
  private readonly udp: Udp;
  readonly port: number;
  readonly onDatagram: (d: UdpDatagram) => void;
  closed = false;

  constructor(udp: Udp, port: number, onDatagram: (d: UdpDatagram) => void) {
    this.udp = udp;
    this.port = port;
    this.onDatagram = onDatagram;
  }

  /** Sends `data` (copied) to `dst:dstPort`. */
  send(dst: number, dstPort: number, data: Uint8Array, opts?: SendOptions): SendResult {
    if (this.closed) throw new Error(`UDP socket on port ${this.port} is closed; bind a new one`);
    return this.udp.sendFrom(this.port, dst, dstPort, data, opts);
  }

  close(): void {
    if (!this.closed) this.udp.release(this.port);
    this.closed = true;
  }
}

export class Udp implements Ipv4Handler {
  private readonly ip: Ipv4;
  private readonly random: Random;
  private readonly sockets = new Map<number, UdpSocket>();
  private readonly view = new UdpView();
  private readonly datagram = new Received();
  unreachable: PortUnreachableSink | undefined;
  readonly drops = counters(DROPS);
  rxDatagrams = 0;
  txDatagrams = 0;

  constructor(ip: Ipv4, random: Random, unreachable?: PortUnreachableSink) {
    this.ip = ip;
    this.random = random;
    this.unreachable = unreachable;
    ip.register(PROTO_UDP, this);
  }

  /**
   * Binds `port` (0 picks a free ephemeral one). Returns the socket, or
   * `'in-use'` / `'no-ports'`.
   */
  bind(port: number, onDatagram: (d: UdpDatagram) => void): UdpSocket | 'in-use' | 'no-ports' {
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`UDP port ${port} is not in 0-65535`);
    if (port === 0) {
      const span = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1;
      const start = this.random.u32() % span;
      for (let i = 0; i < span && port === 0; i++) {
        const p = EPHEMERAL_FIRST + ((start + i) % span);
        if (!this.sockets.has(p)) port = p;
      }
      if (port === 0) return 'no-ports';
    } else if (this.sockets.has(port)) {
      return 'in-use';
    }
    const s = new UdpSocket(this, port, onDatagram);
    this.sockets.set(port, s);
    return s;
  }

  release(port: number): void {
    this.sockets.delete(port);
  }

  sendFrom(srcPort: number, dst: number, dstPort: number, data: Uint8Array, opts?: SendOptions): SendResult {
    if (data.length > UDP_MAX_PAYLOAD) return 'too-big';
    const tx = this.ip.tx;
    tx.set(data, IPV4_PAYLOAD_AT + UDP_HEADER_LEN);
    emitUdp({ srcPort, dstPort, payloadLen: data.length }, this.ip.address, dst, tx, IPV4_PAYLOAD_AT);
    const r = this.ip.send(dst, PROTO_UDP, UDP_HEADER_LEN + data.length, opts);
    if (r === 'ok') this.txDatagrams++;
    return r;
  }

  receive(p: Ipv4Packet): void {
    const v = this.view;
    const r = v.check(p.buf, p.src, p.dst, !p.checksumVerified, p.payloadOff, p.payloadEnd);
    if (r !== 'ok') {
      this.drops[r]++;
      return;
    }
    const s = this.sockets.get(v.dstPort);
    if (!s) {
      this.drops['no-socket']++;
      this.unreachable?.portUnreachable(p);
      return;
    }
    this.rxDatagrams++;
    const d = this.datagram;
    d.src = p.src;
    d.srcPort = v.srcPort;
    d.dst = p.dst;
    d.dstPort = v.dstPort;
    d.buf = v.buf;
    d.off = v.payloadOff;
    d.end = v.payloadEnd;
    s.onDatagram(d);
  }
}
