/**
 * DHCPv4 messages (RFC 2131 §2, options RFC 2132) as plain objects. The
 * options are kept in order as code → octets, with typed accessors for the
 * ones a client and a server use. Option overload (52) is honoured on
 * decode. Decoding never throws.
 */
import { put16, put32, u16, u32 } from './bytes.ts';

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
const MAGIC = 0x63825363;
const FIXED_LEN = 236;
/** The smallest BOOTP message; some relays and old clients drop shorter ones (RFC 1542 §2.1). */
const MIN_LEN = 300;

export const DHCP = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;

export const OPT = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS: 6,
  HOSTNAME: 12,
  DOMAIN: 15,
  BROADCAST: 28,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMS: 55,
  MESSAGE: 56,
  MAX_SIZE: 57,
  RENEWAL: 58,
  REBINDING: 59,
  CLIENT_ID: 61,
  END: 255,
} as const;

export interface DhcpMessage {
  /** 1 request (client → server), 2 reply. */
  readonly op: 1 | 2;
  readonly xid: number;
  readonly secs: number;
  /** Ask the server to broadcast its reply (the client has no address yet). */
  readonly broadcast: boolean;
  readonly ciaddr: number;
  readonly yiaddr: number;
  readonly siaddr: number;
  readonly giaddr: number;
  /** Client hardware address (6 octets for Ethernet). */
  readonly chaddr: Uint8Array;
  readonly options: ReadonlyMap<number, Uint8Array>;
}

export function messageType(m: DhcpMessage): number | undefined {
  const o = m.options.get(OPT.MESSAGE_TYPE);
  return o && o.length === 1 ? o[0] : undefined;
}

export function optAddress(m: DhcpMessage, code: number): number | undefined {
  const o = m.options.get(code);
  return o && o.length >= 4 ? u32(o, 0) : undefined;
}

export function optAddresses(m: DhcpMessage, code: number): number[] {
  const o = m.options.get(code);
  const out: number[] = [];
  if (o) for (let i = 0; i + 4 <= o.length; i += 4) out.push(u32(o, i));
  return out;
}

export function optU32(m: DhcpMessage, code: number): number | undefined {
  const o = m.options.get(code);
  return o && o.length === 4 ? u32(o, 0) : undefined;
}

export function optText(m: DhcpMessage, code: number): string | undefined {
  const o = m.options.get(code);
  return o ? String.fromCharCode(...o).replace(/\0+$/, '') : undefined;
}

/** Option payload helpers for building messages. */
export const encodeOpt = {
  u8: (v: number): Uint8Array => Uint8Array.of(v),
  u32: (v: number): Uint8Array => {
    const b = new Uint8Array(4);
    put32(b, 0, v >>> 0);
    return b;
  },
  addrs: (vs: readonly number[]): Uint8Array => {
    const b = new Uint8Array(vs.length * 4);
    vs.forEach((v, i) => {
      put32(b, i * 4, v >>> 0);
    });
    return b;
  },
  text: (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff),
};

function readOptions(b: Uint8Array, from: number, to: number, into: Map<number, Uint8Array>): 'ok' | 'bad' {
  let at = from;
  while (at < to) {
    const code = b[at]!;
    if (code === OPT.PAD) {
      at++;
      continue;
    }
    if (code === OPT.END) return 'ok';
    if (at + 2 > to) return 'bad';
    const len = b[at + 1]!;
    if (at + 2 + len > to) return 'bad';
    // RFC 3396: a repeated option is one long option, concatenated.
    const prev = into.get(code);
    const part = b.slice(at + 2, at + 2 + len);
    if (prev) {
      const j = new Uint8Array(prev.length + len);
      j.set(prev);
      j.set(part, prev.length);
      into.set(code, j);
    } else into.set(code, part);
    at += 2 + len;
  }
  return 'ok';
}

/** Decodes a BOOTP/DHCP message; a string says what is wrong. */
export function decodeDhcp(b: Uint8Array): DhcpMessage | string {
  if (b.length < FIXED_LEN + 4) return `message of ${b.length} bytes is shorter than ${FIXED_LEN + 4}`;
  const op = b[0]!;
  if (op !== 1 && op !== 2) return `op ${op} is neither request nor reply`;
  if (b[1] !== 1 || b[2] !== 6) return 'not Ethernet (htype 1, hlen 6)';
  if (u32(b, FIXED_LEN) !== MAGIC) return 'no DHCP magic cookie (plain BOOTP is not served)';
  const options = new Map<number, Uint8Array>();
  if (readOptions(b, FIXED_LEN + 4, b.length, options) !== 'ok') return 'an option runs past the message';
  const overload = options.get(OPT.OVERLOAD)?.[0] ?? 0;
  if (overload & 1 && readOptions(b, 108, 236, options) !== 'ok') return 'an option in the file field runs past it';
  if (overload & 2 && readOptions(b, 44, 108, options) !== 'ok') return 'an option in the sname field runs past it';
  return {
    op,
    xid: u32(b, 4),
    secs: u16(b, 8),
    broadcast: (u16(b, 10) & 0x8000) !== 0,
    ciaddr: u32(b, 12),
    yiaddr: u32(b, 16),
    siaddr: u32(b, 20),
    giaddr: u32(b, 24),
    chaddr: b.slice(28, 34),
    options,
  };
}

/** Encodes a message; options in insertion order, message type first. */
export function encodeDhcp(m: DhcpMessage): Uint8Array {
  let len = FIXED_LEN + 4 + 1;
  // Each piece of at most 255 octets takes a code and a length octet; an empty option is one piece too.
  for (const v of m.options.values()) len += Math.max(1, Math.ceil(v.length / 255)) * 2 + v.length;
  const b = new Uint8Array(Math.max(MIN_LEN, len));
  b[0] = m.op;
  b[1] = 1;
  b[2] = 6;
  b[3] = 0;
  put32(b, 4, m.xid);
  put16(b, 8, m.secs);
  put16(b, 10, m.broadcast ? 0x8000 : 0);
  put32(b, 12, m.ciaddr);
  put32(b, 16, m.yiaddr);
  put32(b, 20, m.siaddr);
  put32(b, 24, m.giaddr);
  b.set(m.chaddr.subarray(0, 16), 28);
  put32(b, FIXED_LEN, MAGIC);
  let at = FIXED_LEN + 4;
  const put = (code: number, v: Uint8Array): void => {
    // Long options are split into 255-octet pieces (RFC 3396).
    let off = 0;
    do {
      const n = Math.min(255, v.length - off);
      b[at] = code;
      b[at + 1] = n;
      b.set(v.subarray(off, off + n), at + 2);
      at += 2 + n;
      off += n;
    } while (off < v.length);
  };
  const t = m.options.get(OPT.MESSAGE_TYPE);
  if (t) put(OPT.MESSAGE_TYPE, t);
  for (const [code, v] of m.options) if (code !== OPT.MESSAGE_TYPE && code !== OPT.PAD && code !== OPT.END) put(code, v);
  b[at] = OPT.END;
  return b;
}
