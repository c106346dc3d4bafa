/**
 * UDP datagrams (RFC 768). The checksum covers the IPv4 pseudo-header; a
 * zero checksum means "none" over IPv4, and a computed zero is sent as
 * 0xffff (RFC 768).
 */
import { EMPTY, put16, u16 } from './bytes.ts';
import { finish, onesSum, pseudoHeaderSum } from './checksum.ts';
import { PROTO_UDP } from './ipv4.ts';

export const UDP_HEADER_LEN = 8;

export type UdpError = 'truncated' | 'length' | 'checksum';

export interface UdpRepr {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payloadLen: number;
}

/** A checked view of a datagram at `buf[off..)`, ending at its length field. */
export class UdpView {
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  static checked(buf: Uint8Array, src: number, dst: number, verifyChecksum = true): UdpView | UdpError {
    const v = new UdpView();
    const r = v.check(buf, src, dst, verifyChecksum);
    return r === 'ok' ? v : r;
  }

  /** `src`/`dst` are the IPv4 addresses of the carrying datagram (for the pseudo-header). */
  check(buf: Uint8Array, src: number, dst: number, verifyChecksum = true, off = 0, end = buf.length): 'ok' | UdpError {
    this.buf = buf;
    this.off = off;
    if (end - off < UDP_HEADER_LEN) return 'truncated';
    const len = u16(buf, off + 4);
    if (len < UDP_HEADER_LEN || len > end - off) return 'length';
    this.len = len;
    if (verifyChecksum && u16(buf, off + 6) !== 0) {
      if (finish(onesSum(buf, off, off + len, pseudoHeaderSum(src, dst, PROTO_UDP, len))) !== 0) return 'checksum';
    }
    return 'ok';
  }

  get srcPort(): number {
    return u16(this.buf, this.off);
  }
  get dstPort(): number {
    return u16(this.buf, this.off + 2);
  }
  get length(): number {
    return this.len;
  }
  get checksum(): number {
    return u16(this.buf, this.off + 6);
  }
  get payloadOff(): number {
    return this.off + UDP_HEADER_LEN;
  }
  get payloadEnd(): number {
    return this.off + this.len;
  }
  /** The payload as a new view. */
  payload(): Uint8Array {
    return this.buf.subarray(this.payloadOff, this.payloadEnd);
  }
}

export function parseUdp(v: UdpView): UdpRepr {
  return { srcPort: v.srcPort, dstPort: v.dstPort, payloadLen: v.len - UDP_HEADER_LEN };
}

/**
 * Writes the header at `into[at..at+8)` and computes the checksum over it and
 * the `payloadLen` bytes that the caller has already placed after it.
 */
export function emitUdp(r: UdpRepr, src: number, dst: number, into: Uint8Array, at = 0): number {
  const len = UDP_HEADER_LEN + r.payloadLen;
  put16(into, at, r.srcPort);
  put16(into, at + 2, r.dstPort);
  put16(into, at + 4, len);
  put16(into, at + 6, 0);
  const c = finish(onesSum(into, at, at + len, pseudoHeaderSum(src, dst, PROTO_UDP, len)));
  put16(into, at + 6, c === 0 ? 0xffff : c);
  return UDP_HEADER_LEN;
}
