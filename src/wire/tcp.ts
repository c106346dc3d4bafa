/**
 * TCP segments (RFC 9293 §3.1) and their options: MSS (RFC 9293 §3.7.1),
 * window scale and timestamps (RFC 7323), SACK-permitted and SACK blocks
 * (RFC 2018). The checksum covers the IPv4 pseudo-header. Options are
 * parsed in one bounded pass over the header; a malformed option list is a
 * result, never an exception.
 */
import { EMPTY, put16, put32, u16, u32 } from './bytes.ts';
import { finish, fold, onesSum, pseudoHeaderSum } from './checksum.ts';
import { PROTO_TCP } from './ipv4.ts';

export const TCP_HEADER_LEN = 20;
export const FIN = 0x01,
  SYN = 0x02,
  RST = 0x04,
  PSH = 0x08,
  ACK = 0x10,
  URG = 0x20,
  ECE = 0x40,
  CWR = 0x80;

const OPT_EOL = 0,
  OPT_NOP = 1,
  OPT_MSS = 2,
  OPT_WS = 3,
  OPT_SACK_PERM = 4,
  OPT_SACK = 5,
  OPT_TS = 8;

export type TcpError = 'truncated' | 'data-offset' | 'checksum';

/** Parsed options; reused between segments (`parseTcpOptions` resets it). */
export interface TcpOptions {
  mss: number; // 0 when absent
  wscale: number; // -1 when absent; else 0..14 (RFC 7323 §2.3 clamps larger values)
  sackPermitted: boolean;
  /** Up to 4 SACK blocks as [left0, right0, left1, right1, …]; `sackCount` of them valid. */
  sack: number[];
  sackCount: number;
  hasTimestamps: boolean;
  tsVal: number;
  tsEcr: number;
}

export function emptyTcpOptions(): TcpOptions {
  return {
    mss: 0,
    wscale: -1,
    sackPermitted: false,
    sack: [0, 0, 0, 0, 0, 0, 0, 0],
    sackCount: 0,
    hasTimestamps: false,
    tsVal: 0,
    tsEcr: 0,
  };
}

export class TcpView {
  buf: Uint8Array = EMPTY;
  off = 0;
  end = 0;
  headerLen = TCP_HEADER_LEN;

  static checked(buf: Uint8Array, src: number, dst: number, verifyChecksum = true): TcpView | TcpError {
    const v = new TcpView();
    const r = v.check(buf, src, dst, verifyChecksum);
    return r === 'ok' ? v : r;
  }

  check(buf: Uint8Array, src: number, dst: number, verifyChecksum = true, off = 0, end = buf.length): 'ok' | TcpError {
    this.buf = buf;
    this.off = off;
    this.end = end;
    const len = end - off;
    if (len < TCP_HEADER_LEN) return 'truncated';
    const hl = (buf[off + 12]! >>> 4) * 4;
    if (hl < TCP_HEADER_LEN || hl > len) return 'data-offset';
    this.headerLen = hl;
    if (verifyChecksum && finish(onesSum(buf, off, end, pseudoHeaderSum(src, dst, PROTO_TCP, len))) !== 0) return 'checksum';
    return 'ok';
  }

  get srcPort(): number {
    return u16(this.buf, this.off);
  }
  get dstPort(): number {
    return u16(this.buf, this.off + 2);
  }
  get seq(): number {
    return u32(this.buf, this.off + 4);
  }
  get ack(): number {
    return u32(this.buf, this.off + 8);
  }
  get flags(): number {
    return this.buf[this.off + 13]!;
  }
  get window(): number {
    return u16(this.buf, this.off + 14);
  }
  get urgent(): number {
    return u16(this.buf, this.off + 18);
  }
  get payloadOff(): number {
    return this.off + this.headerLen;
  }
  get payloadLen(): number {
    return this.end - this.off - this.headerLen;
  }
  payload(): Uint8Array {
    return this.buf.subarray(this.payloadOff, this.end);
  }
}

/**
 * Parses the options of a checked view into `into`. Returns 'malformed' for
 * an option whose length is short or runs past the header (RFC 9293
 * §3.10.7.4: such a segment is dropped), 'ok' otherwise. Unknown options are
 * skipped by their length.
 */
export function parseTcpOptions(v: TcpView, into: TcpOptions): 'ok' | 'malformed' {
  into.mss = 0;
  into.wscale = -1;
  into.sackPermitted = false;
  into.sackCount = 0;
  into.hasTimestamps = false;
  const b = v.buf;
  let i = v.off + TCP_HEADER_LEN;
  const end = v.off + v.headerLen;
  while (i < end) {
    const kind = b[i]!;
    if (kind === OPT_EOL) break;
    if (kind === OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return 'malformed';
    const len = b[i + 1]!;
    if (len < 2 || i + len > end) return 'malformed';
    switch (kind) {
      case OPT_MSS:
        if (len !== 4) return 'malformed';
        into.mss = u16(b, i + 2);
        break;
      case OPT_WS:
        if (len !== 3) return 'malformed';
        into.wscale = Math.min(14, b[i + 2]!);
        break;
      case OPT_SACK_PERM:
        if (len !== 2) return 'malformed';
        into.sackPermitted = true;
        break;
      case OPT_SACK: {
        if ((len - 2) % 8 !== 0 || len === 2) return 'malformed';
        const n = Math.min(4, (len - 2) / 8);
        for (let k = 0; k < n; k++) {
          into.sack[2 * k] = u32(b, i + 2 + 8 * k);
          into.sack[2 * k + 1] = u32(b, i + 6 + 8 * k);
        }
        into.sackCount = n;
        break;
      }
      case OPT_TS:
        if (len !== 10) return 'malformed';
        into.hasTimestamps = true;
        into.tsVal = u32(b, i + 2);
        into.tsEcr = u32(b, i + 6);
        break;
      default:
        break;
    }
    i += len;
  }
  return 'ok';
}

/** What to put in a segment's header; options are included when set. */
export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  mss?: number;
  wscale?: number;
  sackPermitted?: boolean;
  /** Timestamps option: [tsVal, tsEcr]. */
  timestamps?: readonly [number, number];
  /** SACK blocks [left, right, …] (at most 3 beside timestamps). */
  sack?: readonly number[];
}

/** Header length of `r` in bytes (options padded to a multiple of 4). */
export function tcpHeaderLen(r: TcpRepr): number {
  let n = 0;
  if (r.mss !== undefined) n += 4;
  if (r.wscale !== undefined) n += 4; // NOP + WS
  if (r.sackPermitted) n += r.timestamps ? 2 : 4; // shares a word with TS, else NOP NOP SACKP
  if (r.timestamps) n += r.sackPermitted ? 10 : 12;
  if (r.sack?.length) n += 4 + 4 * r.sack.length; // NOP NOP + kind len + 8 per block
  return TCP_HEADER_LEN + n;
}

/**
 * Writes the header at `into[at..)` and the checksum over it and the
 * `payloadLen` bytes the caller has placed after it; returns the header length.
 */
/**
 * Writes `r`'s header before the `payloadLen` bytes already at `into[at + header..)`
 * and its checksum. With `partialChecksum` the checksum field gets only the
 * pseudo-header sum, for a device that finishes it (segmentation offload).
 */
export function emitTcp(
  r: TcpRepr,
  src: number,
  dst: number,
  into: Uint8Array,
  at: number,
  payloadLen: number,
  partialChecksum = false,
): number {
  const hl = tcpHeaderLen(r);
  if (hl > 60)
    throw new RangeError(`TCP options need ${hl - 20} bytes; at most 40 fit (SYN options and SACK blocks never travel together)`);
  put16(into, at, r.srcPort);
  put16(into, at + 2, r.dstPort);
  put32(into, at + 4, r.seq >>> 0);
  put32(into, at + 8, r.ack >>> 0);
  into[at + 12] = (hl / 4) << 4;
  into[at + 13] = r.flags;
  put16(into, at + 14, r.window);
  put16(into, at + 16, 0);
  put16(into, at + 18, 0);
  let i = at + TCP_HEADER_LEN;
  if (r.mss !== undefined) {
    into[i] = OPT_MSS;
    into[i + 1] = 4;
    put16(into, i + 2, r.mss);
    i += 4;
  }
  if (r.wscale !== undefined) {
    into[i] = OPT_NOP;
    into[i + 1] = OPT_WS;
    into[i + 2] = 3;
    into[i + 3] = r.wscale;
    i += 4;
  }
  if (r.sackPermitted && r.timestamps) {
    into[i] = OPT_SACK_PERM;
    into[i + 1] = 2;
    i += 2;
  } else if (r.sackPermitted) {
    into[i] = OPT_NOP;
    into[i + 1] = OPT_NOP;
    into[i + 2] = OPT_SACK_PERM;
    into[i + 3] = 2;
    i += 4;
  }
  if (r.timestamps) {
    if (!r.sackPermitted) {
      into[i] = OPT_NOP;
      into[i + 1] = OPT_NOP;
      i += 2;
    }
    into[i] = OPT_TS;
    into[i + 1] = 10;
    put32(into, i + 2, r.timestamps[0] >>> 0);
    put32(into, i + 6, r.timestamps[1] >>> 0);
    i += 10;
  }
  if (r.sack?.length) {
    into[i] = OPT_NOP;
    into[i + 1] = OPT_NOP;
    into[i + 2] = OPT_SACK;
    into[i + 3] = 2 + 4 * r.sack.length;
    i += 4;
    for (const edge of r.sack) {
      put32(into, i, edge >>> 0);
      i += 4;
    }
  }
  const len = hl + payloadLen;
  if (partialChecksum) put16(into, at + 16, fold(pseudoHeaderSum(src, dst, PROTO_TCP, len)));
  else put16(into, at + 16, finish(onesSum(into, at, at + len, pseudoHeaderSum(src, dst, PROTO_TCP, len))));
  return hl;
}
