/**
 * ICMPv4 messages (RFC 792): echo, destination unreachable, time exceeded;
 * other types are kept opaque. The checksum covers the whole message.
 */
import { EMPTY, put16, u16 } from './bytes.ts';
import { checksum } from './checksum.ts';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
/** Destination unreachable codes (RFC 792, RFC 1191). */
export const UNREACH_PROTOCOL = 2;
export const UNREACH_PORT = 3;
export const UNREACH_FRAG_NEEDED = 4;
/** Time exceeded codes. */
export const EXCEEDED_TTL = 0;
export const EXCEEDED_REASSEMBLY = 1;

export const ICMP_HEADER_LEN = 8;

export type Icmpv4Error = 'truncated' | 'checksum';

export type Icmpv4Repr =
  | { readonly kind: 'echo-request' | 'echo-reply'; readonly ident: number; readonly seq: number; readonly data: Uint8Array }
  | { readonly kind: 'dest-unreachable'; readonly code: number; readonly nextHopMtu: number; readonly data: Uint8Array }
  | { readonly kind: 'time-exceeded'; readonly code: number; readonly data: Uint8Array }
  | { readonly kind: 'other'; readonly type: number; readonly code: number; readonly rest: number; readonly data: Uint8Array };

/** A checked view of a message at `buf[off..end)`. */
export class Icmpv4View {
  buf: Uint8Array = EMPTY;
  off = 0;
  end = 0;

  static checked(buf: Uint8Array, verifyChecksum = true): Icmpv4View | Icmpv4Error {
    const v = new Icmpv4View();
    const r = v.check(buf, verifyChecksum);
    return r === 'ok' ? v : r;
  }

  check(buf: Uint8Array, verifyChecksum = true, off = 0, end = buf.length): 'ok' | Icmpv4Error {
    this.buf = buf;
    this.off = off;
    this.end = end;
    if (end - off < ICMP_HEADER_LEN) return 'truncated';
    if (verifyChecksum && checksum(buf, off, end) !== 0) return 'checksum';
    return 'ok';
  }

  get type(): number {
    return this.buf[this.off]!;
  }
  get code(): number {
    return this.buf[this.off + 1]!;
  }
  get ident(): number {
    return u16(this.buf, this.off + 4);
  }
  get seq(): number {
    return u16(this.buf, this.off + 6);
  }
  /** Bytes 4..8 as one number ("rest of header"). */
  get rest(): number {
    return ((u16(this.buf, this.off + 4) << 16) | u16(this.buf, this.off + 6)) >>> 0;
  }
  /** The data after the 8-byte header, as a new view. */
  data(): Uint8Array {
    return this.buf.subarray(this.off + ICMP_HEADER_LEN, this.end);
  }
}

export function parseIcmpv4(v: Icmpv4View): Icmpv4Repr {
  const data = v.data().slice();
  switch (v.type) {
    case ICMP_ECHO_REQUEST:
      return { kind: 'echo-request', ident: v.ident, seq: v.seq, data };
    case ICMP_ECHO_REPLY:
      return { kind: 'echo-reply', ident: v.ident, seq: v.seq, data };
    case ICMP_DEST_UNREACHABLE:
      return { kind: 'dest-unreachable', code: v.code, nextHopMtu: v.seq, data };
    case ICMP_TIME_EXCEEDED:
      return { kind: 'time-exceeded', code: v.code, data };
    default:
      return { kind: 'other', type: v.type, code: v.code, rest: v.rest, data };
  }
}

export function icmpv4Len(r: Icmpv4Repr): number {
  return ICMP_HEADER_LEN + r.data.length;
}

/** Writes the message with its checksum at `into[at..)`; returns its length. */
export function emitIcmpv4(r: Icmpv4Repr, into: Uint8Array, at = 0): number {
  let type: number, code: number, rest: number;
  switch (r.kind) {
    case 'echo-request':
    case 'echo-reply':
      type = r.kind === 'echo-request' ? ICMP_ECHO_REQUEST : ICMP_ECHO_REPLY;
      code = 0;
      rest = ((r.ident << 16) | r.seq) >>> 0;
      break;
    case 'dest-unreachable':
      type = ICMP_DEST_UNREACHABLE;
      code = r.code;
      rest = r.nextHopMtu & 0xffff;
      break;
    case 'time-exceeded':
      type = ICMP_TIME_EXCEEDED;
      code = r.code;
      rest = 0;
      break;
    default:
      type = r.type;
      code = r.code;
      rest = r.rest;
      break;
  }
  into[at] = type;
  into[at + 1] = code;
  put16(into, at + 2, 0);
  put16(into, at + 4, rest >>> 16);
  put16(into, at + 6, rest & 0xffff);
  into.set(r.data, at + ICMP_HEADER_LEN);
  const end = at + ICMP_HEADER_LEN + r.data.length;
  put16(into, at + 2, checksum(into, at, end));
  return end - at;
}
