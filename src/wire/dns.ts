/**
 * DNS messages (RFC 1035 §4) as plain objects: decoding with bounded name
 * compression (pointers must point backwards, at most 127 hops, names at most
 * 255 octets), encoding with compression, the common record types (A, AAAA,
 * NS, CNAME, SOA, MX, TXT, SRV, PTR, CAA), every other type kept as opaque
 * RFC 3597 data, EDNS(0) (RFC 6891) and the TC bit. Decoding never throws:
 * it returns `{ error }` with the RCODE a server should answer (FORMERR).
 *
 * Names are presentation text, absolute, with a final dot (`www.example.`,
 * the root is `.`); a label's `.`, `\`, and bytes outside 0x21–0x7e are
 * written `\.`, `\\` and `\DDD` (RFC 1035 §5.1), so any wire name round-trips.
 */
import { put16, put32, u16, u32 } from './bytes.ts';
import { formatIpv4Address, parseIpv4Address } from './ipv4.ts';

export const TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  MB: 7,
  MG: 8,
  MR: 9,
  PTR: 12,
  HINFO: 13,
  MINFO: 14,
  MX: 15,
  TXT: 16,
  RP: 17,
  AFSDB: 18,
  AAAA: 28,
  LOC: 29,
  SRV: 33,
  NAPTR: 35,
  KX: 36,
  DNAME: 39,
  OPT: 41,
  DS: 43,
  SSHFP: 44,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  NSEC3: 50,
  TLSA: 52,
  NSEC3PARAM: 51,
  SMIMEA: 53,
  CDS: 59,
  CDNSKEY: 60,
  OPENPGPKEY: 61,
  CSYNC: 62,
  ZONEMD: 63,
  SVCB: 64,
  HTTPS: 65,
  SPF: 99,
  NID: 104,
  L32: 105,
  L64: 106,
  LP: 107,
  EUI48: 108,
  EUI64: 109,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
  URI: 256,
  CAA: 257,
} as const;
export const CLASS_IN = 1;
export const CLASS_ANY = 255;
/** RFC 2136 §1.3: the class of an UPDATE's "RRset does not exist" prerequisites and single-record deletions. */
export const CLASS_NONE = 254;

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  /** RFC 2136 §2.2: a name exists that should not (also RFC 6672's overlong DNAME result). */
  YXDOMAIN: 6,
  /** RFC 2136 §2.2: an RRset exists that should not. */
  YXRRSET: 7,
  /** RFC 2136 §2.2: an RRset that should exist does not. */
  NXRRSET: 8,
  /** RFC 8945 §3, RFC 5936 §2.2.1: not authoritative for the zone, or a TSIG that failed. */
  NOTAUTH: 9,
  /** RFC 2136 §2.2: a name outside the zone of an UPDATE. */
  NOTZONE: 10,
  BADVERS: 16,
} as const;
export const OPCODE_QUERY = 0;

/** Classic UDP payload limit without EDNS (RFC 1035 §4.2.1). */
export const DNS_UDP_LIMIT = 512;
export const NAME_MAX = 255;
const LABEL_MAX = 63;
const MAX_POINTER_HOPS = 127;

export type RData =
  | { readonly kind: 'A'; readonly address: string }
  | { readonly kind: 'AAAA'; readonly address: string }
  | { readonly kind: 'NS' | 'CNAME' | 'PTR'; readonly target: string }
  | { readonly kind: 'MX'; readonly preference: number; readonly exchange: string }
  | {
      readonly kind: 'SOA';
      readonly mname: string;
      readonly rname: string;
      readonly serial: number;
      readonly refresh: number;
      readonly retry: number;
      readonly expire: number;
      readonly minimum: number;
    }
  | { readonly kind: 'TXT'; readonly strings: readonly Uint8Array[] }
  | { readonly kind: 'SRV'; readonly priority: number; readonly weight: number; readonly port: number; readonly target: string }
  | { readonly kind: 'CAA'; readonly flags: number; readonly tag: string; readonly value: Uint8Array }
  /** Any other type: the RDATA octets as they were (RFC 3597). */
  | { readonly kind: 'raw'; readonly bytes: Uint8Array };

export interface DnsQuestion {
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

export interface DnsRecord {
  readonly name: string;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  readonly data: RData;
}

export interface EdnsOption {
  readonly code: number;
  readonly data: Uint8Array;
}

/** The OPT pseudo-record's meaning (RFC 6891 §6.1.3). */
export interface Edns {
  readonly udpSize: number;
  readonly version: number;
  readonly dnssecOk: boolean;
  readonly options: readonly EdnsOption[];
}

export interface DnsMessage {
  readonly id: number;
  readonly qr: boolean;
  readonly opcode: number;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  readonly ad: boolean;
  readonly cd: boolean;
  /** The full RCODE: the header's 4 bits plus EDNS's upper 8. */
  readonly rcode: number;
  readonly questions: readonly DnsQuestion[];
  readonly answers: readonly DnsRecord[];
  readonly authority: readonly DnsRecord[];
  /** Additional records, without the OPT record (that is `edns`). */
  readonly additional: readonly DnsRecord[];
  readonly edns?: Edns | undefined;
}

export interface DnsDecodeError {
  readonly error: string;
  /** The query's ID when the header was readable, so a FORMERR can be sent back. */
  readonly id: number | undefined;
  readonly rcode: number;
}

const TYPE_NAMES: Record<number, string> = {};
for (const [k, v] of Object.entries(TYPE)) TYPE_NAMES[v] = k;

/** `A`, `MX`, … or `TYPE65534` (RFC 3597 §5). */
export function typeName(t: number): string {
  return TYPE_NAMES[t] ?? `TYPE${t}`;
}

export function typeFromName(s: string): number | undefined {
  const u = s.toUpperCase();
  const t = (TYPE as Record<string, number>)[u];
  if (t !== undefined) return t;
  const m = /^TYPE(\d{1,5})$/.exec(u);
  if (m && Number(m[1]) <= 0xffff) return Number(m[1]);
  return undefined;
}

export function rcodeName(r: number): string {
  for (const [k, v] of Object.entries(RCODE)) if (v === r) return k;
  return `RCODE${r}`;
}

// --- names ---------------------------------------------------------------

/** Lower-cases ASCII letters only (DNS names compare case-insensitively, RFC 4343). */
export function canonicalName(name: string): string {
  return name.toLowerCase();
}

/** Splits presentation text into wire labels; undefined when it is not a valid name. */
export function nameToLabels(name: string): Uint8Array[] | undefined {
  if (name === '.' || name === '') return [];
  const labels: Uint8Array[] = [];
  let cur: number[] = [];
  let total = 1;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2e) {
      // '.'
      if (cur.length === 0) return undefined;
      labels.push(Uint8Array.from(cur));
      total += cur.length + 1;
      cur = [];
      continue;
    }
    if (c === 0x5c) {
      // '\'
      const d = /^\d{3}/.exec(name.slice(i + 1, i + 4));
      if (d) {
        const v = Number(d[0]);
        if (v > 255) return undefined;
        cur.push(v);
        i += 3;
      } else if (i + 1 < name.length) {
        cur.push(name.charCodeAt(++i) & 0xff);
      } else {
        return undefined;
      }
    } else {
      if (c > 0xff) return undefined;
      cur.push(c);
    }
    if (cur.length > LABEL_MAX) return undefined;
  }
  if (cur.length > 0) {
    labels.push(Uint8Array.from(cur));
    total += cur.length + 1;
  }
  return total > NAME_MAX ? undefined : labels;
}

function labelText(b: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) {
    const c = b[i]!;
    if (c === 0x2e || c === 0x5c) s += '\\' + String.fromCharCode(c);
    else if (c > 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += '\\' + String(c).padStart(3, '0');
  }
  return s;
}

/** True when `name` is `zone` or below it (both presentation text). */
export function isSubdomain(name: string, zone: string): boolean {
  const n = canonicalName(name),
    z = canonicalName(zone);
  if (z === '.') return true;
  if (n === z) return true;
  if (!n.endsWith(z) || n.charCodeAt(n.length - z.length - 1) !== 0x2e) return false;
  // The dot is a label boundary unless escaped: preceded by an odd number of backslashes (`a\.b.` no, `a\\.b.` yes).
  let backslashes = 0;
  for (let i = n.length - z.length - 2; i >= 0 && n.charCodeAt(i) === 0x5c; i--) backslashes++;
  return backslashes % 2 === 0;
}

/** The number of labels in a presentation name (root has 0). */
export function labelCount(name: string): number {
  return nameToLabels(name)?.length ?? 0;
}

/** The parent of `name` (`b.c.` for `a.b.c.`); the root's parent is undefined. */
export function parentName(name: string): string | undefined {
  const l = nameToLabels(name);
  if (!l || l.length === 0) return undefined;
  return labelsToName(l.slice(1));
}

export function labelsToName(labels: readonly Uint8Array[]): string {
  if (labels.length === 0) return '.';
  return labels.map((l) => labelText(l, 0, l.length)).join('.') + '.';
}

// --- decoding ------------------------------------------------------------

class Reader {
  readonly b: Uint8Array;
  at: number;
  constructor(b: Uint8Array, at = 0) {
    this.b = b;
    this.at = at;
  }
  left(): number {
    return this.b.length - this.at;
  }
}

/** Reads a possibly compressed name at `r.at`; advances past it. */
function readName(r: Reader, end = r.b.length): string | undefined {
  const b = r.b;
  let at = r.at;
  let jumped = false;
  let hops = 0;
  let total = 1;
  let s = '';
  let limit = at; // A pointer must point strictly before the label that holds it.
  for (;;) {
    if (at >= end) return undefined;
    const len = b[at]!;
    if (len === 0) {
      if (!jumped) r.at = at + 1;
      return s === '' ? '.' : s;
    }
    const top = len & 0xc0;
    if (top === 0xc0) {
      if (at + 1 >= end) return undefined;
      const ptr = ((len & 0x3f) << 8) | b[at + 1]!;
      if (ptr >= limit || ++hops > MAX_POINTER_HOPS) return undefined;
      if (!jumped) r.at = at + 2;
      jumped = true;
      at = ptr;
      limit = ptr;
      continue;
    }
    if (top !== 0) return undefined; // 0x40/0x80: extended label types are obsolete (RFC 6891 §5).
    if (at + 1 + len > end) return undefined;
    total += len + 1;
    if (total > NAME_MAX) return undefined;
    s += labelText(b, at + 1, at + 1 + len) + '.';
    at += 1 + len;
    if (!jumped) limit = at;
  }
}

/** TXT data: character-strings (a length octet, then that many octets) filling `start`..`end` exactly. */
function readCharacterStrings(b: Uint8Array, start: number, end: number): Uint8Array[] | undefined {
  const strings: Uint8Array[] = [];
  let at = start;
  while (at < end) {
    const l = b[at]!;
    if (at + 1 + l > end) return undefined;
    strings.push(b.slice(at + 1, at + 1 + l));
    at += 1 + l;
  }
  return strings;
}

function readRData(r: Reader, type: number, len: number): RData | undefined {
  const b = r.b;
  const start = r.at,
    end = start + len;
  if (end > b.length) return undefined;
  const name = (): string | undefined => readName(r, end);
  let d: RData | undefined;
  switch (type) {
    case TYPE.A:
      if (len !== 4) return undefined;
      d = { kind: 'A', address: formatIpv4Address(u32(b, start)) };
      r.at = end;
      break;
    case TYPE.AAAA:
      if (len !== 16) return undefined;
      d = { kind: 'AAAA', address: formatIpv6(b.subarray(start, end)) };
      r.at = end;
      break;
    case TYPE.NS:
    case TYPE.CNAME:
    case TYPE.PTR: {
      const t = name();
      if (t === undefined) return undefined;
      d = { kind: typeName(type) as 'NS' | 'CNAME' | 'PTR', target: t };
      break;
    }
    case TYPE.MX: {
      if (len < 3) return undefined;
      const preference = u16(b, start);
      r.at += 2;
      const exchange = name();
      if (exchange === undefined) return undefined;
      d = { kind: 'MX', preference, exchange };
      break;
    }
    case TYPE.SOA: {
      const mname = name();
      const rname = mname === undefined ? undefined : name();
      if (rname === undefined || mname === undefined || end - r.at !== 20) return undefined;
      const a = r.at;
      d = {
        kind: 'SOA',
        mname,
        rname,
        serial: u32(b, a),
        refresh: u32(b, a + 4),
        retry: u32(b, a + 8),
        expire: u32(b, a + 12),
        minimum: u32(b, a + 16),
      };
      r.at = end;
      break;
    }
    case TYPE.TXT: {
      if (len === 0) return undefined;
      const strings = readCharacterStrings(b, start, end);
      if (!strings) return undefined;
      d = { kind: 'TXT', strings };
      r.at = end;
      break;
    }
    case TYPE.SRV: {
      if (len < 7) return undefined;
      const priority = u16(b, start),
        weight = u16(b, start + 2),
        port = u16(b, start + 4);
      r.at += 6;
      const target = name();
      if (target === undefined) return undefined;
      d = { kind: 'SRV', priority, weight, port, target };
      break;
    }
    case TYPE.CAA: {
      if (len < 2) return undefined;
      const tl = b[start + 1]!;
      if (tl === 0 || 2 + tl > len) return undefined;
      d = {
        kind: 'CAA',
        flags: b[start]!,
        tag: String.fromCharCode(...b.subarray(start + 2, start + 2 + tl)),
        value: b.slice(start + 2 + tl, end),
      };
      r.at = end;
      break;
    }
    default:
      d = { kind: 'raw', bytes: b.slice(start, end) };
      r.at = end;
  }
  return r.at === end ? d : undefined;
}

function fail(error: string, id: number | undefined, rcode: number = RCODE.FORMERR): DnsDecodeError {
  return { error, id, rcode };
}

/** Decodes one DNS message; never throws. */
export function decodeDns(buf: Uint8Array): DnsMessage | DnsDecodeError {
  if (buf.length < 12)
    return fail(`message of ${buf.length} bytes is shorter than the 12-byte header`, buf.length >= 2 ? u16(buf, 0) : undefined);
  const id = u16(buf, 0),
    flags = u16(buf, 2);
  const counts = [u16(buf, 4), u16(buf, 6), u16(buf, 8), u16(buf, 10)] as const;
  const r = new Reader(buf, 12);
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const name = readName(r);
    if (name === undefined) return fail(`question ${i + 1}: bad name`, id);
    if (r.left() < 4) return fail(`question ${i + 1}: truncated`, id);
    questions.push({ name, type: u16(buf, r.at), class: u16(buf, r.at + 2) });
    r.at += 4;
  }
  const sections: DnsRecord[][] = [[], [], []];
  let edns: Edns | undefined;
  let rcodeHigh = 0;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]!; i++) {
      const name = readName(r);
      if (name === undefined) return fail(`record ${i + 1} of section ${s + 2}: bad name`, id);
      if (r.left() < 10) return fail(`record ${name}: truncated header`, id);
      const type = u16(buf, r.at),
        cls = u16(buf, r.at + 2),
        ttl = u32(buf, r.at + 4),
        len = u16(buf, r.at + 8);
      r.at += 10;
      if (r.left() < len) return fail(`record ${name} ${typeName(type)}: RDATA runs past the message`, id);
      if (type === TYPE.OPT) {
        // RFC 6891 §6.1.1: one OPT, in the additional section, owned by the root.
        if (s !== 2 || edns || name !== '.') return fail('misplaced or repeated OPT record', id);
        const options: EdnsOption[] = [];
        let at = r.at;
        const end = r.at + len;
        while (at < end) {
          if (at + 4 > end) return fail('truncated EDNS option', id);
          const ol = u16(buf, at + 2);
          if (at + 4 + ol > end) return fail('EDNS option runs past the OPT record', id);
          options.push({ code: u16(buf, at), data: buf.slice(at + 4, at + 4 + ol) });
          at += 4 + ol;
        }
        rcodeHigh = ttl >>> 24;
        edns = { udpSize: cls, version: (ttl >>> 16) & 0xff, dnssecOk: (ttl & 0x8000) !== 0, options };
        r.at = end;
        continue;
      }
      // RFC 2136 §2.4, §2.5: UPDATE's class ANY and NONE records may carry no RDATA whatever their type.
      const empty = len === 0 && (cls === CLASS_ANY || cls === CLASS_NONE);
      const data = empty ? { kind: 'raw' as const, bytes: new Uint8Array(0) } : readRData(r, type, len);
      if (!data) return fail(`record ${name} ${typeName(type)}: malformed RDATA`, id);
      sections[s]!.push({ name, type, class: cls, ttl: ttl > 0x7fffffff ? 0 : ttl, data });
    }
  }
  if (r.at !== buf.length) return fail(`${buf.length - r.at} bytes after the last record`, id);
  return {
    id,
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >>> 11) & 0xf,
    aa: (flags & 0x400) !== 0,
    tc: (flags & 0x200) !== 0,
    rd: (flags & 0x100) !== 0,
    ra: (flags & 0x80) !== 0,
    ad: (flags & 0x20) !== 0,
    cd: (flags & 0x10) !== 0,
    rcode: (rcodeHigh << 4) | (flags & 0xf),
    questions,
    answers: sections[0]!,
    authority: sections[1]!,
    additional: sections[2]!,
    edns,
  };
}

export function isDecodeError(m: DnsMessage | DnsDecodeError): m is DnsDecodeError {
  return 'error' in m;
}

// --- encoding ------------------------------------------------------------

class Writer {
  b: Uint8Array;
  at = 0;
  /** Suffix name, as spelled → offset of its first label (only offsets < 0x4000 are usable). */
  readonly names = new Map<string, number>();
  constructor(size: number) {
    this.b = new Uint8Array(size);
  }
  room(n: number): void {
    if (this.at + n <= this.b.length) return;
    let size = this.b.length * 2;
    while (size < this.at + n) size *= 2;
    const nb = new Uint8Array(size);
    nb.set(this.b.subarray(0, this.at));
    this.b = nb;
  }
  u8(v: number): void {
    this.room(1);
    this.b[this.at++] = v;
  }
  u16(v: number): void {
    this.room(2);
    put16(this.b, this.at, v);
    this.at += 2;
  }
  u32(v: number): void {
    this.room(4);
    put32(this.b, this.at, v >>> 0);
    this.at += 4;
  }
  bytes(v: Uint8Array): void {
    this.room(v.length);
    this.b.set(v, this.at);
    this.at += v.length;
  }
  name(name: string, compress: boolean): void {
    if (this.plainName(name, compress)) return;
    const labels = nameToLabels(name);
    if (!labels) throw new RangeError(`'${name}' is not a valid domain name (labels of 1-63 octets, 255 in all)`);
    for (let i = 0; i < labels.length; i++) {
      // Exact spelling: matching case-insensitively would rewrite later names' case (RFC 4343 §4.1 asks to preserve it).
      const key = labelsToName(labels.slice(i));
      const at = compress ? this.names.get(key) : undefined;
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.at < 0x4000) this.names.set(key, this.at);
      this.u8(labels[i]!.length);
      this.bytes(labels[i]!);
    }
    this.u8(0);
  }

  /**
   * The common case without building label arrays: printable ASCII and no
   * escapes, so each suffix's text is its own compression key (the same
   * key `labelsToName` gives). False when the name needs the general path.
   */
  private plainName(name: string, compress: boolean): boolean {
    const n = name.length;
    if (n === 0 || n > 254) return false;
    for (let i = 0; i < n; i++) {
      const c = name.charCodeAt(i);
      if (c < 0x21 || c > 0x7e || c === 0x5c) return false;
    }
    if (name === '.') {
      this.u8(0);
      return true;
    }
    const full = name.charCodeAt(n - 1) === 0x2e ? name : name + '.';
    if (full.length > NAME_MAX - 1) return false;
    for (let i = 0, start = 0; i < full.length; i++) {
      if (full.charCodeAt(i) !== 0x2e) continue;
      if (i === start || i - start > LABEL_MAX) return false;
      start = i + 1;
    }
    for (let start = 0; start < full.length; ) {
      const key = start === 0 ? full : full.slice(start);
      const at = compress ? this.names.get(key) : undefined;
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return true;
      }
      if (this.at < 0x4000) this.names.set(key, this.at);
      const dot = full.indexOf('.', start);
      this.room(dot - start + 1);
      this.b[this.at++] = dot - start;
      for (let i = start; i < dot; i++) this.b[this.at++] = full.charCodeAt(i);
      start = dot + 1;
    }
    this.u8(0);
    return true;
  }
}

function writeRData(w: Writer, d: RData): void {
  switch (d.kind) {
    case 'A': {
      const a = parseIpv4Address(d.address);
      if (a === undefined) throw new RangeError(`A record address '${d.address}' is not an IPv4 address`);
      w.u32(a);
      return;
    }
    case 'AAAA': {
      const a = parseIpv6(d.address);
      if (!a) throw new RangeError(`AAAA record address '${d.address}' is not an IPv6 address`);
      w.bytes(a);
      return;
    }
    // RFC 3597 §4: only the well-known types of RFC 1035 may be compressed inside RDATA.
    case 'NS':
    case 'CNAME':
    case 'PTR':
      w.name(d.target, true);
      return;
    case 'MX':
      w.u16(d.preference);
      w.name(d.exchange, true);
      return;
    case 'SOA':
      w.name(d.mname, true);
      w.name(d.rname, true);
      w.u32(d.serial);
      w.u32(d.refresh);
      w.u32(d.retry);
      w.u32(d.expire);
      w.u32(d.minimum);
      return;
    case 'TXT':
      if (d.strings.length === 0) throw new RangeError('a TXT record needs at least one string');
      for (const s of d.strings) {
        if (s.length > 255) throw new RangeError('a TXT string is at most 255 octets');
        w.u8(s.length);
        w.bytes(s);
      }
      return;
    case 'SRV':
      w.u16(d.priority);
      w.u16(d.weight);
      w.u16(d.port);
      w.name(d.target, false);
      return;
    case 'CAA': {
      // One octet a character, as decodeRData reads it (RFC 8659 tags are ASCII; others pass through unchanged).
      const tag = Uint8Array.from(d.tag, (ch) => ch.charCodeAt(0));
      if (tag.length === 0 || tag.length > 255) throw new RangeError('a CAA tag is 1-255 octets');
      if ([...d.tag].some((ch) => ch.charCodeAt(0) > 0xff)) throw new RangeError('a CAA tag is octets: characters U+0000-U+00FF only');
      w.u8(d.flags);
      w.u8(tag.length);
      w.bytes(tag);
      w.bytes(d.value);
      return;
    }
    case 'raw':
      w.bytes(d.bytes);
      return;
  }
}

function writeRecord(w: Writer, rr: DnsRecord): void {
  w.name(rr.name, true);
  w.u16(rr.type);
  w.u16(rr.class);
  w.u32(rr.ttl);
  const lenAt = w.at;
  w.u16(0);
  writeRData(w, rr.data);
  const len = w.at - lenAt - 2;
  if (len > 0xffff) throw new RangeError(`RDATA of ${rr.name} is over 65535 octets`);
  put16(w.b, lenAt, len);
}

function writeOpt(w: Writer, e: Edns, rcode: number): void {
  w.u8(0);
  w.u16(TYPE.OPT);
  w.u16(Math.max(512, e.udpSize));
  w.u32((((rcode >>> 4) & 0xff) << 24) | ((e.version & 0xff) << 16) | (e.dnssecOk ? 0x8000 : 0));
  let len = 0;
  for (const o of e.options) len += 4 + o.data.length;
  w.u16(len);
  for (const o of e.options) {
    w.u16(o.code);
    w.u16(o.data.length);
    w.bytes(o.data);
  }
}

export interface EncodeOptions {
  /**
   * Largest message allowed (a UDP limit). A message that does not fit is
   * sent with TC set, its question and OPT kept and its records dropped,
   * so the client retries over TCP (RFC 2181 §9, RFC 7766).
   */
  readonly maxSize?: number;
}

function header(w: Writer, m: DnsMessage, tc: boolean, counts: readonly number[]): void {
  w.u16(m.id);
  w.u16(
    (m.qr ? 0x8000 : 0) |
      ((m.opcode & 0xf) << 11) |
      (m.aa ? 0x400 : 0) |
      (tc ? 0x200 : 0) |
      (m.rd ? 0x100 : 0) |
      (m.ra ? 0x80 : 0) |
      (m.ad ? 0x20 : 0) |
      (m.cd ? 0x10 : 0) |
      (m.rcode & 0xf),
  );
  for (const c of counts) w.u16(c);
}

/**
 * Encodes `m`. Throws RangeError on values that cannot be encoded (these
 * come from the program, never from the network).
 */
export function encodeDns(m: DnsMessage, opts: EncodeOptions = {}): Uint8Array {
  const w = new Writer(512);
  const addl = m.additional.length + (m.edns ? 1 : 0);
  header(w, m, m.tc, [m.questions.length, m.answers.length, m.authority.length, addl]);
  for (const q of m.questions) {
    w.name(q.name, true);
    w.u16(q.type);
    w.u16(q.class);
  }
  const afterQuestions = w.at;
  for (const rr of m.answers) writeRecord(w, rr);
  for (const rr of m.authority) writeRecord(w, rr);
  for (const rr of m.additional) writeRecord(w, rr);
  if (m.edns) writeOpt(w, m.edns, m.rcode);
  const max = opts.maxSize;
  if (max === undefined || w.at <= max) return w.b.slice(0, w.at);
  // Truncate: header with TC, the question, and the OPT record only.
  const t = new Writer(afterQuestions + 64);
  header(t, m, true, [m.questions.length, 0, 0, m.edns ? 1 : 0]);
  for (const q of m.questions) {
    t.name(q.name, true);
    t.u16(q.type);
    t.u16(q.class);
  }
  if (m.edns) writeOpt(t, m.edns, m.rcode);
  return t.b.slice(0, t.at);
}

/** Largest UDP answer we send whatever the client's EDNS size (RFC 9715's advice: avoid fragmentation). */
export const EDNS_UDP_SIZE = 1232;

/**
 * A response to `q` with `rcode` and no records: its ID, opcode, RD and
 * questions echoed (RFC 1035 §4.1.1); with our EDNS record when `edns`.
 */
export function replyTo(
  q: { readonly id: number; readonly opcode: number; readonly rd: boolean; readonly questions?: readonly DnsQuestion[] },
  rcode: number,
  o: { readonly ra?: boolean; readonly edns?: boolean } = {},
): DnsMessage {
  return {
    id: q.id,
    qr: true,
    opcode: q.opcode,
    aa: false,
    tc: false,
    rd: q.rd,
    ra: o.ra ?? false,
    ad: false,
    cd: false,
    rcode,
    questions: q.questions ?? [],
    answers: [],
    authority: [],
    additional: [],
    edns: o.edns ? { udpSize: EDNS_UDP_SIZE, version: 0, dnssecOk: false, options: [] } : undefined,
  };
}

/**
 * The FORMERR for bytes that did not decode: the header's ID, opcode and RD
 * echoed, no sections. Undefined when nothing may be sent back (no ID, or
 * the bytes claim to be a response: answering those invites loops).
 */
export function formErrFor(bytes: Uint8Array, e: DnsDecodeError, o: { readonly ra?: boolean } = {}): Uint8Array | undefined {
  if (e.id === undefined || bytes.length < 12 || (bytes[2]! & 0x80) !== 0) return undefined;
  return encodeDns(replyTo({ id: e.id, opcode: (bytes[2]! >>> 3) & 0xf, rd: (bytes[2]! & 1) !== 0 }, RCODE.FORMERR, o));
}

/** The largest response `q` may get: 65535 over TCP; over UDP its EDNS size within 512–1232, or 512 without EDNS. */
export function responseLimit(q: DnsMessage, transport: 'udp' | 'tcp'): number {
  if (transport === 'tcp') return 65535;
  return q.edns ? Math.min(EDNS_UDP_SIZE, Math.max(DNS_UDP_LIMIT, q.edns.udpSize)) : DNS_UDP_LIMIT;
}

/** A query for `name`/`type`, with EDNS when `udpSize` is given. */
export function makeQuery(id: number, name: string, type: number, o: { rd?: boolean; udpSize?: number } = {}): DnsMessage {
  return {
    id,
    qr: false,
    opcode: OPCODE_QUERY,
    aa: false,
    tc: false,
    rd: o.rd ?? true,
    ra: false,
    ad: false,
    cd: false,
    rcode: 0,
    questions: [{ name, type, class: CLASS_IN }],
    answers: [],
    authority: [],
    additional: [],
    edns: o.udpSize === undefined ? undefined : { udpSize: o.udpSize, version: 0, dnssecOk: false, options: [] },
  };
}

// --- addresses -----------------------------------------------------------

/** Parses IPv6 text (RFC 4291 §2.2, with `::` and a dotted IPv4 tail). */
export function parseIpv6(s: string): Uint8Array | undefined {
  let tail: Uint8Array | undefined;
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) > 0) {
    const v4 = parseIpv4Address(s.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = new Uint8Array(4);
    put32(tail, 0, v4);
    s = s.slice(0, lastColon + 1) + '0:0';
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parse = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const a = parse(halves[0]!),
    b = halves.length === 2 ? parse(halves[1]!) : [];
  // `::` stands for at least one zero group: the groups either side are 7 at most (more made a negative Array length).
  if (!a || !b || (halves.length === 2 && a.length + b.length > 7)) return undefined;
  const groups = halves.length === 2 ? [...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b] : a;
  if (groups.length !== 8) return undefined;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    put16(out, i * 2, g);
  });
  if (tail) out.set(tail, 12);
  return out;
}

/** RFC 5952 text: lower case, the longest run of two or more zero groups as `::`. */
export function formatIpv6(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(u16(b, i * 2));
  let best = -1,
    bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return hex(g.slice(0, best)) + '::' + hex(g.slice(best + bestLen));
}
