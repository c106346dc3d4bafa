/**
 * IPv4 for one interface (RFC 791, RFC 1122 §3.2): a static address, prefix
 * and optional gateway; delivery to the protocol handlers by number;
 * fragmentation on send and bounded reassembly on receive; drop counters by
 * reason. This is a host, not a router: datagrams for other hosts are
 * dropped, never forwarded.
 */
import { type Clock, type Random, withHeadroom } from '../devices/index.ts';
import { BROADCAST_MAC } from '../wire/bytes.ts';
import { ETHERNET_HEADER_LEN, ETHERTYPE_IPV4, type EthernetView } from '../wire/ethernet.ts';
import { isMulticast, emitIpv4, IPV4_MIN_HEADER_LEN, Ipv4View, prefixMask } from '../wire/ipv4.ts';
import type { Arp } from './arp.ts';
import { counters, type SendResult } from './counters.ts';
import type { Ethernet, EthernetHandler } from './ethernet.ts';
import { Reassembler, type ReassemblyOptions } from './reassembly.ts';

export interface Ipv4Config {
  /** This host's address (0 while unconfigured). */
  readonly address: number;
  readonly prefixLen: number;
  /** Next hop for off-link destinations. */
  readonly gateway?: number;
  /** TTL of datagrams this host originates (default 64, RFC 1700). */
  readonly ttl?: number;
}

/**
 * What an upper layer learns about a received datagram: its payload is
 * `buf[payloadOff..payloadEnd)`. Borrowed: valid during the call only.
 */
export interface Ipv4Packet {
  readonly src: number;
  readonly dst: number;
  readonly protocol: number;
  readonly ttl: number;
  readonly buf: Uint8Array;
  readonly payloadOff: number;
  readonly payloadEnd: number;
  /** The IP header (with options) of the datagram or of its first fragment, as a new view. */
  header(): Uint8Array;
  /** The payload as a new view (allocates; hot paths use the offsets). */
  payload(): Uint8Array;
  /**
   * The device vouched for the TCP/UDP checksum of the frame that carried
   * this datagram (`RxInfo.checksumVerified`); never for a reassembled one.
   */
  readonly checksumVerified: boolean;
}

export interface Ipv4Handler {
  receive(packet: Ipv4Packet): void;
}

/** Who reports errors back to senders (ICMP), set by the ICMP layer. */
export interface Ipv4ErrorSink {
  protocolUnreachable(packet: Ipv4Packet): void;
  reassemblyTimeout(quote: Uint8Array): void;
}

export interface SendOptions {
  readonly ttl?: number;
  readonly tos?: number;
  readonly dontFragment?: boolean;
  /**
   * Identification to use. A retransmitted identical datagram may reuse its
   * identification so the receiver can reassemble it from fragments of both
   * copies (RFC 1122 §3.2.1.5). Default: the next from a per-host counter.
   */
  readonly ident?: number;
  /**
   * Segmentation offload: the device cuts the packet into TCP segments of
   * this many data bytes and finishes their checksums (the caller left only
   * the pseudo-header sum). The payload may exceed the MTU, up to the
   * device's `gsoMax`; a packet within the MTU is offloaded too (two
   * segments of a peer with a small MSS). Only for TCP, only with
   * `dontFragment`, only where `gsoMax` is set.
   */
  readonly gsoSize?: number;
}

const DROPS = [
  'truncated',
  'version',
  'header-length',
  'total-length',
  'checksum',
  'not-for-us',
  'bad-source',
  'unknown-protocol',
  'frag-failed',
  'no-address',
  'no-route',
] as const;

/** Offset in `Ipv4.tx` where upper layers write their payload. */
export const IPV4_PAYLOAD_AT = ETHERNET_HEADER_LEN + IPV4_MIN_HEADER_LEN;

class Reassembled implements Ipv4Packet {
  src = 0;
  dst = 0;
  protocol = 0;
  ttl = 0;
  hdr: Uint8Array = new Uint8Array(0);
  buf: Uint8Array = new Uint8Array(0);
  payloadOff = 0;
  payloadEnd = 0;
  /** Reassembled from fragments, each vouched for or not: the whole is always verified. */
  readonly checksumVerified = false;
  header(): Uint8Array {
    return this.hdr;
  }
  payload(): Uint8Array {
    return this.buf.subarray(this.payloadOff, this.payloadEnd);
  }
}

export class Ipv4 implements EthernetHandler {
  private readonly eth: Ethernet;
  private readonly arp: Arp;
  private readonly clock: Clock;
  private readonly handlers = new Map<number, Ipv4Handler>();
  private readonly view = new Ipv4View();
  private readonly reassembler: Reassembler;
  private readonly reassembled = new Reassembled();
  private readonly fragBuf: Uint8Array;
  private nextIdent: number;
  config: Ipv4Config;
  errors: Ipv4ErrorSink | undefined;
  readonly drops = counters(DROPS);
  rxDatagrams = 0;
  txDatagrams = 0;
  txFragments = 0;
  /**
   * The transmit buffer: Ethernet header room, IP header room, then up to
   * 65515 bytes of payload at `IPV4_PAYLOAD_AT`. An upper layer writes its
   * payload there, then calls `send`. Synchronous use only. The device's
   * headroom is kept free in front of it (it fills it in place).
   */
  readonly tx: Uint8Array;

  constructor(eth: Ethernet, arp: Arp, clock: Clock, random: Random, config: Ipv4Config, reassembly: ReassemblyOptions = {}) {
    this.eth = eth;
    this.arp = arp;
    this.clock = clock;
    this.config = config;
    this.arp.address = config.address;
    this.nextIdent = random.u32() & 0xffff;
    this.reassembler = new Reassembler(reassembly);
    this.tx = withHeadroom(ETHERNET_HEADER_LEN + 65535, eth.headroom);
    this.fragBuf = withHeadroom(ETHERNET_HEADER_LEN + eth.mtu, eth.headroom);
    eth.register(ETHERTYPE_IPV4, this);
  }

  get address(): number {
    return this.config.address;
  }
  get mtu(): number {
    return this.eth.mtu;
  }
  /** The largest IPv4 packet the device segments itself, or undefined. */
  get gsoMaxPacket(): number | undefined {
    const g = this.eth.gsoMax;
    return g === undefined ? undefined : g - ETHERNET_HEADER_LEN;
  }
  get reassembly(): Reassembler {
    return this.reassembler;
  }

  /** Changes the address (a DHCP lease, say). */
  configure(config: Ipv4Config): void {
    this.config = config;
    this.arp.address = config.address;
  }

  register(protocol: number, handler: Ipv4Handler): void {
    this.handlers.set(protocol, handler);
  }

  /** True for 255.255.255.255 and the directed broadcast of our subnet. */
  isBroadcast(a: number): boolean {
    if (a === 0xffffffff) return true;
    const m = prefixMask(this.config.prefixLen);
    return (
      this.config.prefixLen < 31 &&
      this.config.address !== 0 &&
      (a & m) >>> 0 === (this.config.address & m) >>> 0 &&
      (a | m) >>> 0 === 0xffffffff
    );
  }

  receive(buf: Uint8Array, off: number, end: number, _frame: EthernetView, checksumVerified: boolean): void {
    const v = this.view;
    const r = v.check(buf, true, off, end);
    if (r !== 'ok') {
      this.drops[r]++;
      return;
    }
    const dst = v.dst,
      src = v.src;
    // Unconfigured (DHCP under way), a host takes datagrams for any address: the
    // server may unicast its offer to the address it offers (RFC 2131 §4.1).
    if (dst !== this.config.address && !this.isBroadcast(dst) && this.config.address !== 0) {
      this.drops['not-for-us']++;
      return;
    }
    // RFC 1122 §3.2.1.3: a source that is broadcast or multicast is discarded.
    if (src === 0xffffffff || isMulticast(src) || this.isBroadcast(src)) {
      this.drops['bad-source']++;
      return;
    }
    if (v.isFragment) {
      const whole = this.reassembler.add(v, this.clock.monotonicNs());
      if (!whole) return;
      const p = this.reassembled;
      p.src = src;
      p.dst = dst;
      p.protocol = v.protocol;
      p.ttl = v.ttl;
      p.hdr = whole.header;
      p.buf = whole.payload;
      p.payloadOff = 0;
      p.payloadEnd = whole.payload.length;
      this.deliver(p);
      return;
    }
    // Only a whole datagram carries the device's word on its checksum; reassembled ones are checked.
    v.checksumVerified = checksumVerified;
    this.deliver(v);
  }

  private deliver(p: Ipv4Packet): void {
    this.rxDatagrams++;
    const h = this.handlers.get(p.protocol);
    if (h) {
      h.receive(p);
      return;
    }
    this.drops['unknown-protocol']++;
    if (!this.isBroadcast(p.dst)) this.errors?.protocolUnreachable(p);
  }

  /** The next hop for `dst`, or undefined when there is no route. */
  route(dst: number): number | undefined {
    const c = this.config;
    const m = prefixMask(c.prefixLen);
    if ((dst & m) >>> 0 === (c.address & m) >>> 0) return dst;
    return c.gateway;
  }

  /**
   * Sends the `payloadLen` bytes at `tx[IPV4_PAYLOAD_AT..)` to `dst`,
   * fragmenting when they exceed the MTU (RFC 791 §3.2, "fragmentation").
   */
  send(dst: number, protocol: number, payloadLen: number, opts: SendOptions = {}): SendResult {
    const c = this.config;
    if (c.address === 0 && dst !== 0xffffffff) {
      this.drops['no-address']++;
      return 'no-address';
    }
    if (payloadLen > 65535 - IPV4_MIN_HEADER_LEN) return 'too-big';
    const bcast = this.isBroadcast(dst);
    const nextHop = bcast ? dst : this.route(dst);
    if (nextHop === undefined) {
      // Counted like every other datagram the stack cannot send: an answer to an off-link source with no gateway
      // (an echo reply, an RST) went nowhere and nothing said so.
      this.drops['no-route']++;
      return 'no-route';
    }
    const mtu = this.eth.mtu;
    const df = opts.dontFragment ?? false;
    // Offloaded whenever TCP asks, even a packet that fits the MTU: it holds more than one of the peer's
    // segments (a small MSS) and only the pseudo-header sum, so only the device may cut and finish it.
    const gso = opts.gsoSize;
    if (gso !== undefined) {
      const max = this.gsoMaxPacket;
      if (max === undefined || !df || protocol !== 6 || IPV4_MIN_HEADER_LEN + payloadLen > max) return 'too-big';
    } else if (IPV4_MIN_HEADER_LEN + payloadLen > mtu && df) return 'too-big';
    const ident = opts.ident ?? this.allocIdent();
    const ttl = opts.ttl ?? c.ttl ?? 64;
    // RFC 1122 §3.2.1.7: a host must not send a datagram with TTL 0.
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) throw new RangeError(`TTL ${ttl} is not in 1-255`);
    const tos = opts.tos ?? 0;
    this.txDatagrams++;
    if (IPV4_MIN_HEADER_LEN + payloadLen <= mtu || gso !== undefined) {
      emitIpv4({ src: c.address, dst, protocol, ttl, tos, ident, dontFragment: df, payloadLen }, this.tx, ETHERNET_HEADER_LEN);
      return this.output(bcast, nextHop, this.tx.subarray(0, IPV4_PAYLOAD_AT + payloadLen), gso);
    }
    // Every fragment but the last carries a multiple of 8 bytes.
    const chunk = (mtu - IPV4_MIN_HEADER_LEN) & ~7;
    const f = this.fragBuf;
    let result: SendResult = 'ok';
    for (let off = 0; off < payloadLen; off += chunk) {
      const len = Math.min(chunk, payloadLen - off);
      const more = off + len < payloadLen;
      emitIpv4(
        { src: c.address, dst, protocol, ttl, tos, ident, moreFragments: more, fragOffset: off, payloadLen: len },
        f,
        ETHERNET_HEADER_LEN,
      );
      f.set(this.tx.subarray(IPV4_PAYLOAD_AT + off, IPV4_PAYLOAD_AT + off + len), IPV4_PAYLOAD_AT);
      this.txFragments++;
      const r = this.output(bcast, nextHop, f.subarray(0, IPV4_PAYLOAD_AT + len));
      if (r !== 'ok') result = r;
    }
    return result;
  }

  private output(bcast: boolean, nextHop: number, frame: Uint8Array, gsoSize?: number): SendResult {
    if (bcast) {
      // A broadcast has no ARP entry to carry a GSO size: it must already fit the link.
      if (gsoSize) return 'too-big';
      return this.eth.transmit(frame, BROADCAST_MAC, ETHERTYPE_IPV4) === 'ok' ? 'ok' : 'dropped';
    }
    return this.arp.output(nextHop, frame, ETHERTYPE_IPV4, gsoSize) ? 'ok' : 'dropped';
  }

  private allocIdent(): number {
    const id = this.nextIdent;
    this.nextIdent = (this.nextIdent + 1) & 0xffff;
    return id;
  }

  /** Expires reassembly; returns true when it did anything. */
  poll(now: bigint): boolean {
    return this.reassembler.expire(now, (quote) => this.errors?.reassemblyTimeout(quote));
  }

  pollAtNs(): bigint | undefined {
    return this.reassembler.nextDeadlineNs();
  }

  /** Reassembly drop counters merged with this layer's. */
  allDrops(): Record<string, number> {
    return { ...this.drops, ...this.reassembler.drops };
  }
}
