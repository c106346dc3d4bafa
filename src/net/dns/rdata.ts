/**
 * Presentation format → wire RDATA for the record types a zone file may hold
 * beyond the ones `src/wire/dns.ts` types itself: HINFO, RP, LOC, NAPTR,
 * DNAME, DS, CDS, SSHFP, DNSKEY, CDNSKEY, TLSA, SMIMEA, OPENPGPKEY, SVCB,
 * HTTPS (SvcParams, RFC 9460 Appendix A), SPF, URI, NSEC, NSEC3PARAM,
 * CSYNC, ZONEMD, AFSDB, KX, MB, MG, MR, MINFO, EUI48, EUI64, NID, L32,
 * L64, LP, RRSIG and NSEC3. The result is the
 * exact octets NSD puts on the wire: names in RDATA uncompressed and as
 * spelled (RFC 3597 §4), SvcParams sorted by key. Every failure is a
 * message through `err`, never a throw: zone text is untrusted.
 */
import { put32 } from '../../wire/bytes.ts';
import { formatIpv6, labelsToName, nameToLabels, parseIpv6, TYPE, typeFromName, typeName } from '../../wire/dns.ts';
import { parseIpv4Address } from '../../wire/ipv4.ts';

export interface RdataToken {
  readonly text: string;
  readonly quoted: boolean;
}

/** Resolves a (possibly relative) name to absolute presentation text; undefined after reporting an error. */
export type NameResolver = (s: string) => string | undefined;

class Out {
  readonly b: number[] = [];
  u8(v: number): void {
    this.b.push(v & 0xff);
  }
  u16(v: number): void {
    this.b.push((v >>> 8) & 0xff, v & 0xff);
  }
  u32(v: number): void {
    this.u16(v >>> 16);
    this.u16(v & 0xffff);
  }
  bytes(v: Iterable<number>): void {
    for (const x of v) this.b.push(x);
  }
  done(): Uint8Array {
    return Uint8Array.from(this.b);
  }
}

/** Unescapes presentation text (`\X`, `\DDD`) into octets; UTF-8 for characters above 0x7f. Undefined for `\DDD` over 255. */
export function unescapeOctets(s: string): number[] | undefined {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c && i + 1 < s.length) {
      const d = /^\d{3}/.exec(s.slice(i + 1, i + 4));
      if (d) {
        if (Number(d[0]) > 255) return undefined;
        out.push(Number(d[0]));
        i += 3;
      } else out.push(s.charCodeAt(++i) & 0xff);
    } else if (c < 0x80) out.push(c);
    else out.push(...new TextEncoder().encode(String.fromCodePoint(s.codePointAt(i)!)));
    if (c >= 0xd800 && c < 0xdc00) i++;
  }
  return out;
}

function num(s: string | undefined, max: number): number | undefined {
  return s !== undefined && /^\d{1,10}$/.test(s) && Number(s) <= max ? Number(s) : undefined;
}

function hexBytes(s: string): number[] | undefined {
  if (!/^([0-9a-fA-F]{2})*$/.test(s)) return undefined;
  const out: number[] = [];
  for (let i = 0; i < s.length; i += 2) out.push(parseInt(s.slice(i, i + 2), 16));
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Standard base64 with padding (RFC 4648 §4); undefined when malformed. */
export function base64Bytes(s: string): number[] | undefined {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  const out: number[] = [];
  for (let i = 0; i < s.length; i += 4) {
    const q = s.slice(i, i + 4);
    const v = [...q].map((ch) => (ch === '=' ? 0 : B64.indexOf(ch)));
    const n = (v[0]! << 18) | (v[1]! << 12) | (v[2]! << 6) | v[3]!;
    out.push((n >>> 16) & 0xff);
    if (q[2] !== '=') out.push((n >>> 8) & 0xff);
    if (q[3] !== '=') out.push(n & 0xff);
    if (q[2] === '=' && q[3] !== '=') return undefined;
  }
  return out;
}

const ALGORITHMS: Record<string, number> = {
  RSAMD5: 1,
  DH: 2,
  DSA: 3,
  RSASHA1: 5,
  'DSA-NSEC3-SHA1': 6,
  'RSASHA1-NSEC3-SHA1': 7,
  RSASHA256: 8,
  RSASHA512: 10,
  'ECC-GOST': 12,
  ECDSAP256SHA256: 13,
  ECDSAP384SHA384: 14,
  ED25519: 15,
  ED448: 16,
  INDIRECT: 252,
  PRIVATEDNS: 253,
  PRIVATEOID: 254,
};

function algorithm(s: string | undefined): number | undefined {
  return num(s, 255) ?? (s === undefined ? undefined : ALGORITHMS[s.toUpperCase()]);
}

/** A name's wire labels, uncompressed, as spelled. */
function wireName(o: Out, s: string, name: NameResolver): boolean {
  const full = name(s);
  if (full === undefined) return false;
  for (const l of nameToLabels(full) ?? []) {
    o.u8(l.length);
    o.bytes(l);
  }
  o.u8(0);
  return true;
}

/** A character-string: a length octet and at most 255 octets. */
function charString(o: Out, t: RdataToken, err: (m: string) => void): boolean {
  const b = unescapeOctets(t.text);
  if (b === undefined || b.length > 255) {
    err(`'${t.text.slice(0, 40)}' is not a character-string (at most 255 octets; \\DDD at most 255)`);
    return false;
  }
  o.u8(b.length);
  o.bytes(b);
  return true;
}

// --- the rarer types NSD loads: names, numbers, EUIs, ILNP locators, bitmaps --

/** Types of one or two names, or a 16-bit number and a name (RFC 1035, 1183, 2230, 6742). */
const NAME_TYPES: ReadonlyMap<number, { readonly pref: boolean; readonly names: number; readonly shape: string }> = new Map([
  [TYPE.MB, { pref: false, names: 1, shape: 'a mailbox host name' }],
  [TYPE.MG, { pref: false, names: 1, shape: 'a mailbox name' }],
  [TYPE.MR, { pref: false, names: 1, shape: 'a mailbox name' }],
  [TYPE.MINFO, { pref: false, names: 2, shape: 'RMAILBX EMAILBX' }],
  [TYPE.AFSDB, { pref: true, names: 1, shape: 'SUBTYPE HOSTNAME' }],
  [TYPE.KX, { pref: true, names: 1, shape: 'PREFERENCE EXCHANGER' }],
  [TYPE.LP, { pref: true, names: 1, shape: 'PREFERENCE FQDN' }],
]);

const MORE_TYPES = [
  ...NAME_TYPES.keys(),
  TYPE.EUI48,
  TYPE.EUI64,
  TYPE.NID,
  TYPE.L64,
  TYPE.L32,
  TYPE.ZONEMD,
  TYPE.NSEC3PARAM,
  TYPE.NSEC,
  TYPE.CSYNC,
  TYPE.RRSIG,
  TYPE.NSEC3,
];

/** `00-00-5e-00-53-2a` (RFC 7043): `n` octets in hex, dash-separated. */
function eui(o: Out, s: string | undefined, n: number, err: (m: string) => void): boolean {
  const parts = s?.split('-') ?? [];
  if (parts.length !== n || parts.some((x) => !/^[0-9a-fA-F]{2}$/.test(x))) {
    err(`expected ${n} hex octets separated by '-', like ${new Array(n).fill('0a').join('-')}`);
    return false;
  }
  o.bytes(parts.map((x) => parseInt(x, 16)));
  return true;
}

/** An ILNP 64-bit locator or node id (RFC 6742): four groups of 1-4 hex digits separated by ':'. */
function ilnp64(o: Out, s: string | undefined, err: (m: string) => void): boolean {
  const g = s?.split(':') ?? [];
  if (g.length !== 4 || g.some((x) => !/^[0-9a-fA-F]{1,4}$/.test(x))) {
    err("expected four groups of hex separated by ':', like 2001:db8:1:2");
    return false;
  }
  for (const x of g) o.u16(parseInt(x, 16));
  return true;
}

/** RFC 4034 §4.1.2's type bitmap: windows of up to 32 octets, a bit per type present. */
function typeBitmap(o: Out, t: readonly RdataToken[], err: (m: string) => void): boolean {
  const types = new Set<number>();
  for (const x of t) {
    const v = typeFromName(x.text);
    if (v === undefined) {
      err(`'${x.text}' is not a type name (like A, MX or TYPE65280)`);
      return false;
    }
    types.add(v);
  }
  const windows = new Map<number, number[]>();
  for (const v of [...types].sort((a, b) => a - b)) {
    const w = windows.get(v >>> 8) ?? [];
    const byte = (v & 0xff) >>> 3;
    while (w.length <= byte) w.push(0);
    w[byte]! |= 0x80 >>> (v & 7);
    windows.set(v >>> 8, w);
  }
  for (const [w, bits] of windows) {
    o.u8(w);
    o.u8(bits.length);
    o.bytes(bits);
  }
  return true;
}

function fillMore(o: Out, type: number, t: readonly RdataToken[], name: NameResolver, err: (m: string) => void): boolean {
  const n = NAME_TYPES.get(type);
  if (n) {
    const fields = (n.pref ? 1 : 0) + n.names;
    if (!count(t, fields, n.shape, err) || (n.pref && !numbers(o, t, [['preference', 65535]], err))) return false;
    return t.slice(n.pref ? 1 : 0).every((x) => wireName(o, x.text, name));
  }
  const u16Then = (then: () => boolean): boolean =>
    count(t, 2, 'PREFERENCE VALUE', err) && numbers(o, t, [['preference', 65535]], err) && then();
  switch (type) {
    case TYPE.EUI48:
      return count(t, 1, 'an EUI-48 address', err) && eui(o, t[0]!.text, 6, err);
    case TYPE.EUI64:
      return count(t, 1, 'an EUI-64 address', err) && eui(o, t[0]!.text, 8, err);
    case TYPE.NID:
    case TYPE.L64:
      return u16Then(() => ilnp64(o, t[1]!.text, err));
    case TYPE.L32:
      return u16Then(() => {
        const a = parseIpv4Address(t[1]!.text);
        if (a === undefined) err(`'${t[1]!.text}' is not an IPv4 address`);
        else o.u32(a);
        return a !== undefined;
      });
    case TYPE.ZONEMD:
      return (
        count(t, 4, 'SERIAL SCHEME HASH-ALGORITHM DIGEST', err, true) &&
        numbers(
          o,
          t,
          [
            ['serial', 0xffffffff],
            ['scheme', 255],
            ['hash algorithm', 255],
          ],
          err,
        ) &&
        encoded(o, t.slice(3), 'hex', 'the digest', err)
      );
    case TYPE.NSEC3PARAM:
      return nsec3param(o, t, err);
    case TYPE.NSEC3:
      return nsec3param(o, t.slice(0, 4), err) && nextHashed(o, t[4]?.text, err) && typeBitmap(o, t.slice(5), err);
    case TYPE.RRSIG:
      return rrsig(o, t, name, err);
    case TYPE.NSEC:
      return count(t, 1, 'NEXT-NAME TYPE...', err, true) && wireName(o, t[0]!.text, name) && typeBitmap(o, t.slice(1), err);
    case TYPE.CSYNC:
      return (
        count(t, 2, 'SOA-SERIAL FLAGS TYPE...', err, true) &&
        numbers(
          o,
          t,
          [
            ['SOA serial', 0xffffffff],
            ['flags', 65535],
          ],
          err,
        ) &&
        typeBitmap(o, t.slice(2), err)
      );
    default:
      err('no presentation format known for this type; use RFC 3597 generic RDATA: \\# LENGTH HEX');
      return false;
  }
}

const B32HEX = '0123456789ABCDEFGHIJKLMNOPQRSTUV';

/** Reports `m` and fails. */
function no(err: (m: string) => void, m: string): false {
  err(m);
  return false;
}

/** NSEC3's next hashed owner: base32hex without padding (RFC 4648 §7), a length octet first. */
function nextHashed(o: Out, s: string | undefined, err: (m: string) => void): boolean {
  const out: number[] = [];
  let acc = 0,
    bits = 0;
  for (const ch of (s ?? '').toUpperCase()) {
    const v = B32HEX.indexOf(ch);
    if (v < 0) return no(err, `the next hashed owner '${s}' is not base32hex (0-9, A-V)`);
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >>> bits) & 0xff);
    }
  }
  if (out.length === 0 || out.length > 255) return no(err, 'NSEC3 needs a next hashed owner (base32hex)');
  o.u8(out.length);
  o.bytes(out);
  return true;
}

/** RRSIG times (RFC 4034 §3.2): YYYYMMDDHHmmSS in UTC, or seconds as a number. */
function sigTime(s: string | undefined): number | undefined {
  const m = s === undefined ? null : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(s);
  if (!m) return num(s, 0xffffffff);
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return undefined;
  return (Date.UTC(y, mo - 1, d, h, mi, se) / 1000) >>> 0;
}

function rrsig(o: Out, t: readonly RdataToken[], name: NameResolver, err: (m: string) => void): boolean {
  if (!count(t, 9, 'TYPE ALGORITHM LABELS ORIGINAL-TTL EXPIRATION INCEPTION KEY-TAG SIGNER SIGNATURE', err, true)) return false;
  const covered = typeFromName(t[0]!.text);
  if (covered === undefined) return no(err, `'${t[0]!.text}' is not a type name`);
  o.u16(covered);
  if (
    !numbers(
      o,
      t.slice(1),
      [
        ['algorithm', 255],
        ['labels', 255],
        ['original TTL', 0xffffffff],
      ],
      err,
    )
  )
    return false;
  for (const x of [t[4]!, t[5]!]) {
    const v = sigTime(x.text);
    if (v === undefined) return no(err, `'${x.text}' is not a time (YYYYMMDDHHmmSS, UTC)`);
    o.u32(v);
  }
  return (
    numbers(o, t.slice(6), [['key tag', 65535]], err) &&
    wireName(o, t[7]!.text, name) &&
    encoded(o, t.slice(8), 'base64', 'the signature', err)
  );
}

function nsec3param(o: Out, t: readonly RdataToken[], err: (m: string) => void): boolean {
  const fields: [string, number][] = [
    ['hash algorithm', 255],
    ['flags', 255],
    ['iterations', 65535],
  ];
  if (!count(t, 4, 'ALGORITHM FLAGS ITERATIONS SALT', err) || !numbers(o, t, fields, err)) return false;
  const salt = t[3]!.text === '-' ? [] : hexBytes(t[3]!.text);
  if (salt === undefined || salt.length > 255) {
    err("the salt is hex (at most 255 octets), or '-' for none");
    return false;
  }
  o.u8(salt.length);
  o.bytes(salt);
  return true;
}

function bitmapText(r: In): string | undefined {
  const out: string[] = [];
  let last = -1;
  while (r.ok && r.at < r.b.length) {
    const w = r.u8(),
      len = r.u8();
    if (w <= last || len === 0 || len > 32 || r.at + len > r.b.length) return undefined;
    last = w;
    for (let i = 0; i < len; i++) {
      const byte = r.u8();
      for (let bit = 0; bit < 8; bit++) if (byte & (0x80 >>> bit)) out.push(typeName(w * 256 + i * 8 + bit));
    }
  }
  return out.join(' ');
}

function nsec3Text(r: In): string | undefined {
  const head = `${r.u8()} ${r.u8()} ${r.u16()}`;
  const sl = r.u8();
  const salt = r.b.subarray(r.at, r.at + sl);
  r.at += sl;
  const hl = r.u8();
  const hash = r.b.subarray(r.at, r.at + hl);
  r.at += hl;
  if (r.at > r.b.length || hl === 0) return undefined;
  let s = '',
    acc = 0,
    bits = 0;
  for (const x of hash) {
    acc = ((acc << 8) | x) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      s += B32HEX[(acc >>> bits) & 31];
    }
  }
  if (bits > 0) s += B32HEX[(acc << (5 - bits)) & 31];
  const types = bitmapText(r);
  return types === undefined ? undefined : `${head} ${sl === 0 ? '-' : hexText(salt)} ${s} ${types}`.trim();
}

function timeText(v: number): string {
  return new Date(v * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

function rrsigText(r: In): string | undefined {
  const head = [typeName(r.u16()), r.u8(), r.u8(), r.u32(), timeText(r.u32()), timeText(r.u32()), r.u16(), r.name()];
  return `${head.join(' ')} ${toBase64(r.rest())}`;
}

function hexGroups(r: In, n: number, sep: string, width: number): string {
  const g: string[] = [];
  for (let i = 0; i < n; i++) g.push((width === 2 ? r.u8() : r.u16()).toString(16).padStart(width, '0'));
  return g.join(sep);
}

function fieldsMore(type: number, r: In): string | undefined {
  const n = NAME_TYPES.get(type);
  if (n) return [...(n.pref ? [r.u16()] : []), ...Array.from({ length: n.names }, () => r.name())].join(' ');
  switch (type) {
    case TYPE.EUI48:
      return hexGroups(r, 6, '-', 2);
    case TYPE.EUI64:
      return hexGroups(r, 8, '-', 2);
    case TYPE.NID:
    case TYPE.L64:
      return `${r.u16()} ${hexGroups(r, 4, ':', 4)}`;
    case TYPE.L32:
      return `${r.u16()} ${[r.u8(), r.u8(), r.u8(), r.u8()].join('.')}`;
    case TYPE.ZONEMD:
      return `${r.u32()} ${r.u8()} ${r.u8()} ${hexText(r.rest())}`;
    case TYPE.NSEC3PARAM: {
      const head = `${r.u8()} ${r.u8()} ${r.u16()}`;
      const l = r.u8();
      const salt = r.b.subarray(r.at, r.at + l);
      r.at += l;
      return `${head} ${l === 0 ? '-' : hexText(salt)}`;
    }
    case TYPE.NSEC: {
      const next = r.name();
      const types = bitmapText(r);
      return types === undefined ? undefined : `${next} ${types}`.trim();
    }
    case TYPE.NSEC3:
      return nsec3Text(r);
    case TYPE.RRSIG:
      return rrsigText(r);
    case TYPE.CSYNC: {
      const head = `${r.u32()} ${r.u16()}`;
      const types = bitmapText(r);
      return types === undefined ? undefined : `${head} ${types}`.trim();
    }
    default:
      return undefined;
  }
}

/** Types this module parses, by number. */
export const PRESENTATION_TYPES: ReadonlySet<number> = new Set([
  TYPE.HINFO,
  TYPE.RP,
  TYPE.LOC,
  TYPE.NAPTR,
  TYPE.DNAME,
  TYPE.DS,
  TYPE.CDS,
  TYPE.SSHFP,
  TYPE.DNSKEY,
  TYPE.CDNSKEY,
  TYPE.TLSA,
  TYPE.SMIMEA,
  TYPE.OPENPGPKEY,
  TYPE.SVCB,
  TYPE.HTTPS,
  TYPE.SPF,
  TYPE.URI,
  ...MORE_TYPES,
]);

/**
 * The wire RDATA of `type` from its presentation tokens, or undefined
 * after `err` said what is wrong.
 */
export function presentationToWire(
  type: number,
  t: readonly RdataToken[],
  name: NameResolver,
  err: (m: string) => void,
): Uint8Array | undefined {
  const o = new Out();
  const ok = fill(o, type, t, name, err);
  if (!ok) return undefined;
  if (o.b.length > 0xffff) {
    err('RDATA is over 65535 octets');
    return undefined;
  }
  return o.done();
}

function count(t: readonly RdataToken[], n: number, shape: string, err: (m: string) => void, atLeast = false): boolean {
  if (atLeast ? t.length >= n : t.length === n) return true;
  err(`expected ${shape}, got ${t.length} field${t.length === 1 ? '' : 's'}`);
  return false;
}

/** Numbers at the start of `t`, each with its maximum; reports which one is wrong. */
function numbers(o: Out, t: readonly RdataToken[], fields: readonly [string, number][], err: (m: string) => void): boolean {
  for (let i = 0; i < fields.length; i++) {
    const [label, max] = fields[i]!;
    const v = label.includes('algorithm') ? algorithm(t[i]?.text) : num(t[i]?.text, max);
    if (v === undefined) {
      err(`${label} '${t[i]?.text ?? ''}' is not a number 0-${max}`);
      return false;
    }
    if (max === 255) o.u8(v);
    else if (max === 65535) o.u16(v);
    else o.u32(v);
  }
  return true;
}

function encoded(o: Out, t: readonly RdataToken[], kind: 'hex' | 'base64', what: string, err: (m: string) => void): boolean {
  const s = t.map((x) => x.text).join('');
  const b = kind === 'hex' ? hexBytes(s) : base64Bytes(s);
  if (b === undefined || (kind === 'base64' && b.length === 0)) {
    err(`${what} is not ${kind === 'hex' ? 'hexadecimal (pairs of 0-9a-f)' : 'base64'}`);
    return false;
  }
  o.bytes(b);
  return true;
}

/** Types that are numbers and then one hex or base64 blob (whitespace inside the blob allowed). */
interface Layout {
  readonly shape: string;
  readonly fields: readonly [string, number][];
  readonly rest: 'hex' | 'base64';
  readonly what: string;
}
const DS: Layout = {
  shape: 'KEY-TAG ALGORITHM DIGEST-TYPE DIGEST',
  fields: [
    ['key tag', 65535],
    ['algorithm', 255],
    ['digest type', 255],
  ],
  rest: 'hex',
  what: 'the digest',
};
const TLSA: Layout = {
  shape: 'USAGE SELECTOR MATCHING-TYPE DATA',
  fields: [
    ['usage', 255],
    ['selector', 255],
    ['matching type', 255],
  ],
  rest: 'hex',
  what: 'the association data',
};
const DNSKEY: Layout = {
  shape: 'FLAGS PROTOCOL ALGORITHM KEY',
  fields: [
    ['flags', 65535],
    ['protocol', 255],
    ['algorithm', 255],
  ],
  rest: 'base64',
  what: 'the public key',
};
const LAYOUTS: ReadonlyMap<number, Layout> = new Map([
  [TYPE.DS, DS],
  [TYPE.CDS, DS],
  [TYPE.TLSA, TLSA],
  [TYPE.SMIMEA, TLSA],
  [TYPE.DNSKEY, DNSKEY],
  [TYPE.CDNSKEY, DNSKEY],
  [TYPE.OPENPGPKEY, { shape: 'a base64 key', fields: [], rest: 'base64', what: 'the key' }],
  [
    TYPE.SSHFP,
    {
      shape: 'ALGORITHM FP-TYPE FINGERPRINT',
      fields: [
        ['key algorithm', 255],
        ['fingerprint type', 255],
      ],
      rest: 'hex',
      what: 'the fingerprint',
    },
  ],
]);

const NAPTR_FIELDS: readonly [string, number][] = [
  ['order', 65535],
  ['preference', 65535],
];

function fill(o: Out, type: number, t: readonly RdataToken[], name: NameResolver, err: (m: string) => void): boolean {
  const l = LAYOUTS.get(type);
  if (l) {
    const n = l.fields.length;
    return count(t, n + 1, l.shape, err, true) && numbers(o, t, l.fields, err) && encoded(o, t.slice(n), l.rest, l.what, err);
  }
  switch (type) {
    case TYPE.HINFO:
      return count(t, 2, '"CPU" "OS"', err) && charString(o, t[0]!, err) && charString(o, t[1]!, err);
    case TYPE.RP:
      return count(t, 2, 'MBOX-DNAME TXT-DNAME', err) && wireName(o, t[0]!.text, name) && wireName(o, t[1]!.text, name);
    case TYPE.DNAME:
      return count(t, 1, 'a target name', err) && wireName(o, t[0]!.text, name);
    case TYPE.NAPTR:
      return (
        count(t, 6, 'ORDER PREFERENCE "FLAGS" "SERVICES" "REGEXP" REPLACEMENT', err) &&
        numbers(o, t, NAPTR_FIELDS, err) &&
        [2, 3, 4].every((i) => charString(o, t[i]!, err)) &&
        wireName(o, t[5]!.text, name)
      );
    case TYPE.SPF:
      return count(t, 1, 'one or more "strings"', err, true) && t.every((x) => charString(o, x, err));
    case TYPE.URI:
      return uri(o, t, err);
    case TYPE.LOC:
      return loc(o, t, err);
    case TYPE.SVCB:
    case TYPE.HTTPS:
      return svcb(o, t, name, err);
    default:
      return fillMore(o, type, t, name, err);
  }
}

function uri(o: Out, t: readonly RdataToken[], err: (m: string) => void): boolean {
  if (
    !count(t, 3, 'PRIORITY WEIGHT "TARGET"', err) ||
    !numbers(
      o,
      t,
      [
        ['priority', 65535],
        ['weight', 65535],
      ],
      err,
    )
  )
    return false;
  const b = unescapeOctets(t[2]!.text);
  if (b === undefined || b.length === 0) {
    err('the URI target is a non-empty quoted string');
    return false;
  }
  o.bytes(b);
  return true;
}

// --- LOC (RFC 1876) ------------------------------------------------------

/** A decimal with up to `places` fractional digits, scaled to an integer; undefined when not one. */
function scaled(s: string, places: number): number | undefined {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m || (m[3] ?? '').length > places) return undefined;
  const v = Number(m[2]) * 10 ** places + Number((m[3] ?? '').padEnd(places, '0') || '0');
  return m[1] ? -v : v;
}

/** RFC 1876's size and precision octet from centimetres: mantissa and power of ten, truncated as BIND and NSD do. */
function precision(cm: number): number {
  let e = 0;
  while (e < 9 && cm >= 10 ** (e + 1)) e++;
  return (Math.min(9, Math.floor(cm / 10 ** e)) << 4) | e;
}

/** `D [M [S.sss]] H` from `t[at]`: the angle in thousandths of a second east/north of the 2^31 origin, and the next index. */
function angle(t: readonly RdataToken[], at: number, hemis: string, maxDeg: number): { v: number; next: number } | undefined {
  const parts: string[] = [];
  let i = at;
  while (i < t.length && parts.length < 3 && !hemis.includes(t[i]!.text.toUpperCase())) parts.push(t[i++]!.text);
  const h = t[i]?.text.toUpperCase();
  if (h === undefined || h.length !== 1 || !hemis.includes(h) || parts.length === 0) return undefined;
  const d = num(parts[0], maxDeg),
    m = parts[1] === undefined ? 0 : num(parts[1], 59),
    s = parts[2] === undefined ? 0 : scaled(parts[2], 3);
  if (d === undefined || m === undefined || s === undefined || s < 0 || s >= 60000) return undefined;
  const ms = d * 3_600_000 + m * 60_000 + s;
  if (ms > maxDeg * 3_600_000) return undefined;
  return { v: h === hemis[0] ? 2 ** 31 + ms : 2 ** 31 - ms, next: i + 1 };
}

function meters(s: string | undefined, min: number, max: number): number | undefined {
  if (s === undefined) return undefined;
  const cm = scaled(s.replace(/[mM]$/, ''), 2);
  return cm !== undefined && cm >= min && cm <= max ? cm : undefined;
}

function loc(o: Out, t: readonly RdataToken[], err: (m: string) => void): boolean {
  const shape = 'D [M [S]] N|S D [M [S]] E|W ALT[m] [SIZE[m] [HP[m] [VP[m]]]] (RFC 1876)';
  const lat = angle(t, 0, 'NS', 90);
  const lon = lat ? angle(t, lat.next, 'EW', 180) : undefined;
  if (!lat || !lon) {
    err(`LOC is ${shape}`);
    return false;
  }
  const rest = t.slice(lon.next).map((x) => x.text);
  const alt = meters(rest[0], -10_000_000, 4_284_967_295);
  const sizes = [rest[1] ?? '1', rest[2] ?? '10000', rest[3] ?? '10'].map((x) => meters(x, 0, 9_000_000_000));
  if (alt === undefined || rest.length > 4 || sizes.some((x) => x === undefined)) {
    err(`LOC altitude and sizes are metres (altitude -100000.00 to 42849672.95, sizes 0 to 90000000.00): ${shape}`);
    return false;
  }
  o.u8(0);
  for (const cm of sizes) o.u8(precision(cm!));
  o.u32(lat.v);
  o.u32(lon.v);
  o.u32(alt + 10_000_000);
  return true;
}

// --- SVCB and HTTPS (RFC 9460) --------------------------------------------

const SVC_KEYS: Record<string, number> = {
  mandatory: 0,
  alpn: 1,
  'no-default-alpn': 2,
  port: 3,
  ipv4hint: 4,
  ech: 5,
  ipv6hint: 6,
};

const KEY_NAMES = Object.fromEntries(Object.entries(SVC_KEYS).map(([k, v]) => [v, k])) as Record<number, string>;

function svcKey(s: string): number | undefined {
  const k = SVC_KEYS[s.toLowerCase()];
  if (k !== undefined) return k;
  const m = /^key(\d{1,5})$/i.exec(s);
  return m && Number(m[1]) <= 65535 ? Number(m[1]) : undefined;
}

/**
 * A value-list (RFC 9460 A.1) from a value already unescaped as a
 * character-string: items separated by commas, a backslash taking the next
 * octet literally (so `alpn="f\\\\oo\\,bar"` is the one id `f\oo,bar`).
 */
function valueList(b: readonly number[]): number[][] | undefined {
  const items: number[][] = [[]];
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0x2c) items.push([]);
    else if (c === 0x5c && i + 1 < b.length) items.at(-1)!.push(b[++i]!);
    else items.at(-1)!.push(c);
  }
  return items.some((x) => x.length === 0) ? undefined : items;
}

function svcValue(key: number, raw: string | undefined, err: (m: string) => void): number[] | undefined {
  // The value is a character-string first (RFC 9460 A.1): its escapes are undone before any list is split.
  const octets = raw === undefined ? undefined : unescapeOctets(raw);
  if (raw !== undefined && octets === undefined) {
    err(`key${key}'s value has a \\DDD over 255`);
    return undefined;
  }
  const value = octets && String.fromCharCode(...octets);
  const need = (): boolean => {
    if (value !== undefined && value !== '') return true;
    err(`SvcParam ${KEY_NAMES[key] ?? `key${key}`} needs a value`);
    return false;
  };
  const list = (parse: (s: string) => number[] | undefined, what: string): number[] | undefined => {
    if (!need()) return undefined;
    const out: number[] = [];
    for (const item of value!.split(',')) {
      const b = parse(item);
      if (!b) {
        err(`'${item}' is not ${what}`);
        return undefined;
      }
      out.push(...b);
    }
    return out;
  };
  switch (key) {
    case 0: {
      // Sent in increasing order (RFC 9460 §8), whatever order the file lists them in.
      const keys = list((s) => {
        const k = svcKey(s);
        return k === undefined || k === 0 ? undefined : [k];
      }, 'a SvcParam key other than mandatory');
      return keys?.sort((a, b) => a - b).flatMap((k) => [k >>> 8, k & 0xff]);
    }
    case 1: {
      const items = need() ? valueList(octets!) : undefined;
      if (!items || items.some((x) => x.length > 255)) {
        if (items) err('an alpn id is at most 255 octets');
        else if (value) err(`alpn '${value}' is a comma-separated list of protocol ids`);
        return undefined;
      }
      return items.flatMap((x) => [x.length, ...x]);
    }
    case 2:
      if (value !== undefined) err('no-default-alpn takes no value');
      return value === undefined ? [] : undefined;
    case 3: {
      if (!need()) return undefined;
      const p = num(value, 65535);
      if (p === undefined) err('port is a number 0-65535');
      return p === undefined ? undefined : [p >>> 8, p & 0xff];
    }
    case 4:
      return list((s) => {
        const a = parseIpv4Address(s);
        if (a === undefined) return undefined;
        const b = new Uint8Array(4);
        put32(b, 0, a);
        return [...b];
      }, 'an IPv4 address');
    case 5: {
      if (!need()) return undefined;
      const b = base64Bytes(value!);
      if (!b) err('ech is base64');
      return b;
    }
    case 6:
      return list((s) => {
        const b = parseIpv6(s);
        return b ? [...b] : undefined;
      }, 'an IPv6 address');
    default:
      return octets ?? [];
  }
}

/** Joins `key=` and the quoted value after it into one parameter text. */
function svcParams(t: readonly RdataToken[]): { key: string; value: string | undefined }[] {
  const out: { key: string; value: string | undefined }[] = [];
  for (let i = 0; i < t.length; i++) {
    const x = t[i]!.text;
    const eq = x.indexOf('=');
    if (eq < 0) {
      out.push({ key: x, value: undefined });
      continue;
    }
    let value = x.slice(eq + 1);
    if (value === '' && t[i + 1]?.quoted) value = t[++i]!.text;
    out.push({ key: x.slice(0, eq), value });
  }
  return out;
}

function svcb(o: Out, t: readonly RdataToken[], name: NameResolver, err: (m: string) => void): boolean {
  if (!count(t, 2, 'PRIORITY TARGET [KEY=VALUE ...]', err, true) || !numbers(o, t, [['priority', 65535]], err)) return false;
  if (!wireName(o, t[1]!.text, name)) return false;
  const params = new Map<number, number[]>();
  for (const p of svcParams(t.slice(2))) {
    const key = svcKey(p.key);
    if (key === undefined) {
      err(`unknown SvcParam key '${p.key}'; use mandatory, alpn, no-default-alpn, port, ipv4hint, ech, ipv6hint or keyNNNNN`);
      return false;
    }
    if (key === 65535) {
      err('key65535 is reserved (RFC 9460 §14.3.2)');
      return false;
    }
    if (params.has(key)) {
      err(`SvcParam ${p.key} appears twice`);
      return false;
    }
    const v = svcValue(key, p.value, err);
    if (!v) return false;
    if (v.length > 65535) {
      err(`SvcParam ${p.key} is over 65535 octets`);
      return false;
    }
    params.set(key, v);
  }
  const mandatory = params.get(0) ?? [];
  for (let i = 0; i + 1 < mandatory.length; i += 2) {
    const k = (mandatory[i]! << 8) | mandatory[i + 1]!;
    if (!params.has(k)) {
      err(`mandatory lists ${KEY_NAMES[k] ?? `key${k}`}, which the record does not have (RFC 9460 §8)`);
      return false;
    }
  }
  for (const key of [...params.keys()].sort((a, b) => a - b)) {
    const v = params.get(key)!;
    o.u16(key);
    o.u16(v.length);
    o.bytes(v);
  }
  return true;
}

/** For tests and logs: a wire RDATA's octets as lower-case hex. */
export function hex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

// --- wire → presentation ----------------------------------------------------

/** Standard base64 with padding. */
export function toBase64(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i]! << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    s += B64[(n >>> 18) & 63]! + B64[(n >>> 12) & 63]!;
    s += i + 1 < b.length ? B64[(n >>> 6) & 63]! : '=';
    s += i + 2 < b.length ? B64[n & 63]! : '=';
  }
  return s;
}

function hexText(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s.toUpperCase();
}

/** A character-string's text, quoted, with `"` and `\` escaped and other non-printables as `\DDD`. */
function quoted(b: Uint8Array): string {
  let s = '"';
  for (const c of b) {
    if (c === 0x22 || c === 0x5c) s += '\\' + String.fromCharCode(c);
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += '\\' + String(c).padStart(3, '0');
  }
  return s + '"';
}

/** Reads wire RDATA field by field; every read past the end makes `ok` false. */
class In {
  at = 0;
  ok = true;
  readonly b: Uint8Array;
  constructor(b: Uint8Array) {
    this.b = b;
  }
  u8(): number {
    if (this.at + 1 > this.b.length) this.ok = false;
    return this.b[this.at++] ?? 0;
  }
  u16(): number {
    return (this.u8() << 8) | this.u8();
  }
  u32(): number {
    return this.u16() * 65536 + this.u16();
  }
  rest(): Uint8Array {
    const r = this.b.subarray(this.at);
    this.at = this.b.length;
    return r;
  }
  cs(): string {
    const l = this.u8();
    if (this.at + l > this.b.length) this.ok = false;
    const r = this.b.subarray(this.at, this.at + l);
    this.at += l;
    return quoted(r);
  }
  name(): string {
    const labels: Uint8Array[] = [];
    for (let l = this.u8(); this.ok && l !== 0; l = this.u8()) {
      if (l > 63 || this.at + l > this.b.length) this.ok = false;
      labels.push(this.b.subarray(this.at, this.at + l));
      this.at += l;
    }
    return labelsToName(labels);
  }
}

function locAngle(v: number, hemis: string): string {
  const d = v - 2 ** 31;
  const a = Math.abs(d);
  const ms = a % 1000,
    s = Math.floor(a / 1000) % 60,
    m = Math.floor(a / 60000) % 60,
    deg = Math.floor(a / 3600000);
  return `${deg} ${m} ${s}.${String(ms).padStart(3, '0')} ${d < 0 ? hemis[1] : hemis[0]}`;
}

function cmText(cm: number): string {
  const neg = cm < 0 ? '-' : '';
  const a = Math.abs(cm);
  return `${neg}${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}m`;
}

function locText(r: In): string | undefined {
  if (r.u8() !== 0) return undefined;
  const sizes = [r.u8(), r.u8(), r.u8()].map((x) => (x >> 4) * 10 ** (x & 15));
  const lat = r.u32(),
    lon = r.u32(),
    alt = r.u32() - 10_000_000;
  return `${locAngle(lat, 'NS')} ${locAngle(lon, 'EW')} ${[alt, ...sizes].map(cmText).join(' ')}`;
}

/** A SvcParam value's text (RFC 9460 Appendix A): a quoted character-string, list items escaped within it. */
function svcText(key: number, v: Uint8Array): string | undefined {
  const r = new In(v);
  const items: string[] = [];
  switch (key) {
    case 0:
      while (r.ok && r.at < v.length) {
        const k = r.u16();
        items.push(KEY_NAMES[k] ?? `key${k}`);
      }
      break;
    case 1:
      while (r.ok && r.at < v.length) {
        const l = r.u8();
        const id = v.subarray(r.at, r.at + l);
        r.at += l;
        if (r.at > v.length) return undefined;
        items.push(String.fromCharCode(...id).replace(/[,\\]/g, (c) => `\\${c}`));
      }
      break;
    case 2:
      return v.length === 0 ? '' : undefined;
    case 3:
      items.push(String(r.u16()));
      break;
    case 4:
      while (r.ok && r.at < v.length) items.push([r.u8(), r.u8(), r.u8(), r.u8()].join('.'));
      break;
    case 5:
      items.push(toBase64(r.rest()));
      break;
    case 6:
      for (; r.at + 16 <= v.length; r.at += 16) items.push(formatIpv6(v.subarray(r.at, r.at + 16)));
      if (r.at !== v.length) return undefined;
      break;
    default:
      return quoted(v);
  }
  if (!r.ok || r.at !== v.length) return undefined;
  const text = items.join(',');
  return quoted(Uint8Array.from(text, (c) => c.charCodeAt(0)));
}

function svcbText(r: In): string | undefined {
  const out = [String(r.u16()), r.name()];
  while (r.ok && r.at < r.b.length) {
    const key = r.u16(),
      len = r.u16();
    if (r.at + len > r.b.length) return undefined;
    const value = svcText(key, r.b.subarray(r.at, r.at + len));
    r.at += len;
    if (value === undefined) return undefined;
    const k = KEY_NAMES[key] ?? `key${key}`;
    out.push(key === 2 ? k : `${k}=${value}`);
  }
  return out.join(' ');
}

function fields(type: number, r: In): string | undefined {
  switch (type) {
    case TYPE.HINFO:
      return `${r.cs()} ${r.cs()}`;
    case TYPE.RP:
      return `${r.name()} ${r.name()}`;
    case TYPE.DNAME:
      return r.name();
    case TYPE.NAPTR:
      return [r.u16(), r.u16(), r.cs(), r.cs(), r.cs(), r.name()].join(' ');
    case TYPE.SPF: {
      const s: string[] = [];
      while (r.ok && r.at < r.b.length) s.push(r.cs());
      return s.length ? s.join(' ') : undefined;
    }
    case TYPE.URI:
      return `${r.u16()} ${r.u16()} ${quoted(r.rest())}`;
    case TYPE.LOC:
      return locText(r);
    case TYPE.SVCB:
    case TYPE.HTTPS:
      return svcbText(r);
    default: {
      const l = LAYOUTS.get(type);
      if (!l) return fieldsMore(type, r);
      const nums = l.fields.map(([, max]) => (max === 255 ? r.u8() : r.u16()));
      const rest = r.rest();
      return [...nums, l.rest === 'hex' ? hexText(rest) : toBase64(rest)].join(' ');
    }
  }
}

/**
 * The presentation text of RDATA of the types `presentationToWire` reads,
 * as NSD and kdig print them; undefined when the octets are malformed for
 * the type (then RFC 3597's `\# LEN HEX` is the honest form).
 */
export function wireToPresentation(type: number, b: Uint8Array): string | undefined {
  const r = new In(b);
  const s = fields(type, r);
  return s !== undefined && r.ok && r.at === b.length ? s : undefined;
}
