/**
 * IPv4 headers (RFC 791) and addresses. Addresses are unsigned 32-bit
 * numbers, so comparing and hashing them allocates nothing. Options are
 * skipped: the view checks IHL against the datagram and exposes the payload
 * after them (RFC 791 §3.1).
 */
import { EMPTY, put16, put32, u16, u32 } from './bytes.ts';
import { checksum, onesSum } from './checksum.ts';

export const IPV4_MIN_HEADER_LEN = 20;
export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;

const VER_IHL = 0,
  TOS = 1,
  TOTAL_LEN = 2,
  IDENT = 4,
  FLAGS_FRAG = 6,
  TTL = 8,
  PROTO = 9,
  CSUM = 10,
  SRC = 12,
  DST = 16;
const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;

export type Ipv4Error = 'truncated' | 'version' | 'header-length' | 'total-length' | 'checksum';

export interface Ipv4Repr {
  readonly src: number;
  readonly dst: number;
  readonly protocol: number;
  readonly ttl: number;
  /** DSCP and ECN as one byte. */
  readonly tos?: number;
  readonly ident?: number;
  readonly dontFragment?: boolean;
  readonly moreFragments?: boolean;
  /** Fragment offset in bytes (a multiple of 8). */
  readonly fragOffset?: number;
  /** Length of the payload after the header. */
  readonly payloadLen: number;
}

/** A checked view of a datagram at `buf[off..)`, ending at its total length. */
export class Ipv4View {
  buf: Uint8Array = EMPTY;
  off = 0;
  headerLen = IPV4_MIN_HEADER_LEN;
  totalLen = 0;
  /**
   * A fact about the datagram in view, not in its bytes: the device vouched
   * for its TCP/UDP checksum (set by the receiving layer; false by default).
   */
  checksumVerified = false;

  static checked(buf: Uint8Array, verifyChecksum = true): Ipv4View | Ipv4Error {
    const v = new Ipv4View();
    const r = v.check(buf, verifyChecksum);
    return r === 'ok' ? v : r;
  }

  /**
   * Points the view at `buf`. Link-layer padding after the datagram's total
   * length is allowed and ignored; a total length beyond the buffer is not.
   */
  check(buf: Uint8Array, verifyChecksum = true, off = 0, end = buf.length): 'ok' | Ipv4Error {
    this.buf = buf;
    this.off = off;
    if (end - off < IPV4_MIN_HEADER_LEN) return 'truncated';
    const vi = buf[off + VER_IHL]!;
    if (vi >>> 4 !== 4) return 'version';
    const hl = (vi & 0x0f) * 4;
    if (hl < IPV4_MIN_HEADER_LEN) return 'header-length';
    const tl = u16(buf, off + TOTAL_LEN);
    if (tl < hl) return 'header-length';
    if (tl > end - off) return 'total-length';
    if (verifyChecksum && checksum(buf, off, off + hl) !== 0) return 'checksum';
    this.headerLen = hl;
    this.totalLen = tl;
    return 'ok';
  }

  get tos(): number {
    return this.buf[this.off + TOS]!;
  }
  get ident(): number {
    return u16(this.buf, this.off + IDENT);
  }
  get dontFragment(): boolean {
    return (u16(this.buf, this.off + FLAGS_FRAG) & FLAG_DF) !== 0;
  }
  get moreFragments(): boolean {
    return (u16(this.buf, this.off + FLAGS_FRAG) & FLAG_MF) !== 0;
  }
  /** Fragment offset in bytes. */
  get fragOffset(): number {
    return (u16(this.buf, this.off + FLAGS_FRAG) & 0x1fff) * 8;
  }
  /** True for any fragment (MF set or a non-zero offset). */
  get isFragment(): boolean {
    return (u16(this.buf, this.off + FLAGS_FRAG) & (FLAG_MF | 0x1fff)) !== 0;
  }
  get ttl(): number {
    return this.buf[this.off + TTL]!;
  }
  get protocol(): number {
    return this.buf[this.off + PROTO]!;
  }
  get headerChecksum(): number {
    return u16(this.buf, this.off + CSUM);
  }
  get src(): number {
    return u32(this.buf, this.off + SRC);
  }
  get dst(): number {
    return u32(this.buf, this.off + DST);
  }
  get payloadLen(): number {
    return this.totalLen - this.headerLen;
  }
  /** Where the payload starts and ends in `buf` (padding excluded). */
  get payloadOff(): number {
    return this.off + this.headerLen;
  }
  get payloadEnd(): number {
    return this.off + this.totalLen;
  }
  /** The payload as a new view (allocates; the stack uses the offsets). */
  payload(): Uint8Array {
    return this.buf.subarray(this.payloadOff, this.payloadEnd);
  }
  /** Header plus options as a new view (what ICMP errors quote). */
  header(): Uint8Array {
    return this.buf.subarray(this.off, this.off + this.headerLen);
  }
}

export function parseIpv4(v: Ipv4View): Ipv4Repr {
  return {
    src: v.src,
    dst: v.dst,
    protocol: v.protocol,
    ttl: v.ttl,
    tos: v.tos,
    ident: v.ident,
    dontFragment: v.dontFragment,
    moreFragments: v.moreFragments,
    fragOffset: v.fragOffset,
    payloadLen: v.payloadLen,
  };
}

/** Writes a 20-byte header (no options) with its checksum at `into[at..at+20)`; returns 20. */
export function emitIpv4(r: Ipv4Repr, into: Uint8Array, at = 0): number {
  into[at + VER_IHL] = 0x45;
  into[at + TOS] = r.tos ?? 0;
  put16(into, at + TOTAL_LEN, IPV4_MIN_HEADER_LEN + r.payloadLen);
  put16(into, at + IDENT, r.ident ?? 0);
  put16(into, at + FLAGS_FRAG, (r.dontFragment ? FLAG_DF : 0) | (r.moreFragments ? FLAG_MF : 0) | (((r.fragOffset ?? 0) >>> 3) & 0x1fff));
  into[at + TTL] = r.ttl;
  into[at + PROTO] = r.protocol;
  put16(into, at + CSUM, 0);
  put32(into, at + SRC, r.src);
  put32(into, at + DST, r.dst);
  put16(into, at + CSUM, checksum(into, at, at + IPV4_MIN_HEADER_LEN));
  return IPV4_MIN_HEADER_LEN;
}

/** Unfolded sum of a header's source and destination, for pseudo-headers. */
export function addressSum(buf: Uint8Array, at = 0): number {
  return onesSum(buf, at + SRC, at + DST + 4);
}

/** `10.0.0.1` → 0x0a000001, or `undefined` when malformed. */
export function parseIpv4Address(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  let a = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255 || (m[i]!.length > 1 && m[i]![0] === '0')) return undefined;
    a = a * 256 + o;
  }
  return a;
}

export function formatIpv4Address(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

export interface Ipv4Cidr {
  readonly address: number;
  readonly prefixLen: number;
}

/** `10.0.0.2/24` → address and prefix length, or `undefined` when malformed. */
export function parseIpv4Cidr(text: string): Ipv4Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const address = parseIpv4Address(m[1]!);
  const prefixLen = Number(m[2]);
  if (address === undefined || prefixLen > 32) return undefined;
  return { address, prefixLen };
}

/** 224.0.0.0/4 (RFC 5771). */
export function isMulticast(a: number): boolean {
  return a >>> 28 === 0xe;
}

export function prefixMask(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

export function sameSubnet(a: number, b: number, prefixLen: number): boolean {
  const m = prefixMask(prefixLen);
  return (a & m) >>> 0 === (b & m) >>> 0;
}
