/**
 * TSIG (RFC 8945): transaction signatures with shared keys, on any DNS
 * message as encoded bytes. Signing appends a TSIG record; verifying finds
 * it (it must be the last record), strips it and checks key, MAC and time
 * in RFC 8945 §5.2's order. The keyed hash is a parameter (`Hmac`): the
 * core has no crypto of its own, a runtime passes its platform's (Node's
 * `createHmac`). Time is a parameter too, in seconds since the epoch.
 * Untrusted bytes never throw: verification returns a result.
 */
import { put16, put32, u16, u32 } from '../../wire/bytes.ts';
import { canonicalName, nameToLabels, rcodeName, type DnsMessage } from '../../wire/dns.ts';
import { base64Bytes } from './rdata.ts';

export const TYPE_TSIG = 250;
const CLASS_ANY = 255;
/** RFC 8945 §3: RCODE 9 in the header, the detail in the TSIG record's Error field. */
export const RCODE_NOTAUTH = 9;
export const TSIG_ERROR = { NOERROR: 0, BADSIG: 16, BADKEY: 17, BADTIME: 18, BADTRUNC: 22 } as const;
/** RFC 8945 §10: 300 seconds is the recommended fudge. */
export const TSIG_FUDGE = 300;

/** Hash functions an `Hmac` must implement, by Node's names for them. */
export type TsigHash = 'md5' | 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';
/** HMAC(key, data) with `hash` (RFC 2104); synchronous, as Node's `createHmac(hash, key).update(data).digest()`. */
export type Hmac = (hash: TsigHash, key: Uint8Array, data: Uint8Array) => Uint8Array;

/** RFC 8945 §6's algorithm names (canonical, with the final dot) and their hashes' output sizes. */
export const TSIG_ALGORITHMS: Readonly<Record<string, { readonly hash: TsigHash; readonly size: number }>> = {
  'hmac-md5.sig-alg.reg.int.': { hash: 'md5', size: 16 },
  'hmac-sha1.': { hash: 'sha1', size: 20 },
  'hmac-sha224.': { hash: 'sha224', size: 28 },
  'hmac-sha256.': { hash: 'sha256', size: 32 },
  'hmac-sha384.': { hash: 'sha384', size: 48 },
  'hmac-sha512.': { hash: 'sha512', size: 64 },
};

export interface TsigKey {
  /** Canonical (lower case, final dot). */
  readonly name: string;
  /** Canonical algorithm name, a key of TSIG_ALGORITHMS. */
  readonly algorithm: string;
  readonly secret: Uint8Array;
}

/** Short names as kdig and BIND write them (`hmac-sha256`) → the algorithm's domain name. */
const ALGORITHM_ALIASES: Readonly<Record<string, string>> = {
  'hmac-md5': 'hmac-md5.sig-alg.reg.int.',
  'hmac-sha1': 'hmac-sha1.',
  'hmac-sha224': 'hmac-sha224.',
  'hmac-sha256': 'hmac-sha256.',
  'hmac-sha384': 'hmac-sha384.',
  'hmac-sha512': 'hmac-sha512.',
};

/**
 * A key in kdig's `-y` form, `[ALGORITHM:]NAME:BASE64SECRET` (algorithm
 * hmac-sha256 when left out). Returns an error sentence for an operator.
 */
export function parseTsigKey(spec: string): TsigKey | { readonly error: string } {
  const parts = spec.trim().split(':');
  if (parts.length === 2) parts.unshift('hmac-sha256');
  const how = 'write a TSIG key as [ALGORITHM:]NAME:BASE64SECRET, e.g. hmac-sha256:xfr-key:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==';
  if (parts.length !== 3) return { error: `'${spec}' is not a key: ${how}` };
  const [alg, name, secret] = parts as [string, string, string];
  const a = alg.toLowerCase();
  const fq = a.endsWith('.') ? a : `${a}.`;
  const algorithm = ALGORITHM_ALIASES[a] ?? (fq in TSIG_ALGORITHMS ? fq : undefined);
  if (!algorithm) return { error: `unknown TSIG algorithm '${alg}': use one of ${Object.keys(ALGORITHM_ALIASES).join(', ')}` };
  const full = name.endsWith('.') ? name : `${name}.`;
  if (name === '' || !nameToLabels(full)) return { error: `TSIG key name '${name}' is not a domain name: ${how}` };
  const bytes = base64Bytes(secret);
  if (!bytes || bytes.length === 0) return { error: `the secret of TSIG key '${name}' is not base64: ${how}` };
  return { name: canonicalName(full), algorithm, secret: Uint8Array.from(bytes) };
}

/** The TSIG record's fields (RFC 8945 §4.2). */
export interface TsigRecord {
  readonly keyName: string;
  readonly algorithm: string;
  /** Seconds since the epoch (48 bits on the wire). */
  readonly timeSigned: number;
  readonly fudge: number;
  readonly mac: Uint8Array;
  readonly originalId: number;
  readonly error: number;
  readonly other: Uint8Array;
}

/** A name in canonical wire form: lower case, uncompressed (RFC 8945 §4.3.3). */
function canonicalWire(name: string): Uint8Array {
  const labels = nameToLabels(canonicalName(name));
  if (!labels) throw new RangeError(`'${name}' is not a domain name`);
  const out = new Uint8Array(labels.reduce((n, l) => n + l.length + 1, 1));
  let at = 0;
  for (const l of labels) {
    out[at++] = l.length;
    out.set(l, at);
    at += l.length;
  }
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function put48(b: Uint8Array, at: number, v: number): void {
  put16(b, at, Math.floor(v / 0x100000000) & 0xffff);
  put32(b, at + 2, v >>> 0);
}

/** MAC Size and MAC, as a request's (or a prior message's) MAC enters the next digest (RFC 8945 §4.3.1, §5.3.1). */
function macField(mac: Uint8Array): Uint8Array {
  const b = new Uint8Array(2 + mac.length);
  put16(b, 0, mac.length);
  b.set(mac, 2);
  return b;
}

/** RFC 8945 §4.3.3: the TSIG variables; with `timersOnly`, just Time Signed and Fudge (§5.3.1, later messages of a transfer). */
function variables(t: TsigRecord, timersOnly: boolean): Uint8Array {
  const timers = new Uint8Array(8);
  put48(timers, 0, t.timeSigned);
  put16(timers, 6, t.fudge);
  if (timersOnly) return timers;
  const fixed = new Uint8Array(6);
  put16(fixed, 0, CLASS_ANY);
  put32(fixed, 2, 0);
  const tail = new Uint8Array(4 + t.other.length);
  put16(tail, 0, t.error);
  put16(tail, 2, t.other.length);
  tail.set(t.other, 4);
  return concat([canonicalWire(t.keyName), fixed, canonicalWire(t.algorithm), timers, tail]);
}

/** The TSIG record as it goes on the wire: owner, type, class ANY, TTL 0, RDATA (names uncompressed, §4.2). */
function encodeRecord(t: TsigRecord): Uint8Array {
  const owner = canonicalWire(t.keyName);
  const alg = canonicalWire(t.algorithm);
  const rdlen = alg.length + 10 + t.mac.length + 6 + t.other.length;
  const b = new Uint8Array(owner.length + 10 + rdlen);
  b.set(owner, 0);
  let at = owner.length;
  put16(b, at, TYPE_TSIG);
  put16(b, at + 2, CLASS_ANY);
  put32(b, at + 4, 0);
  put16(b, at + 8, rdlen);
  at += 10;
  b.set(alg, at);
  at += alg.length;
  put48(b, at, t.timeSigned);
  put16(b, at + 6, t.fudge);
  put16(b, at + 8, t.mac.length);
  b.set(t.mac, at + 10);
  at += 10 + t.mac.length;
  put16(b, at, t.originalId);
  put16(b, at + 2, t.error);
  put16(b, at + 4, t.other.length);
  b.set(t.other, at + 6);
  return b;
}

/** Octets a TSIG record for `key` adds to a message (no Other Data): what to leave free under a size limit. */
export function tsigSize(key: TsigKey): number {
  return canonicalWire(key.name).length + 10 + canonicalWire(key.algorithm).length + 16 + TSIG_ALGORITHMS[key.algorithm]!.size;
}

/** `msg` with `t` appended as its last additional record and ARCOUNT one more. */
function appendRecord(msg: Uint8Array, t: TsigRecord): Uint8Array {
  const out = concat([msg, encodeRecord(t)]);
  put16(out, 10, u16(out, 10) + 1);
  return out;
}

export interface SignOptions {
  /** Seconds since the epoch. */
  readonly now: number;
  /** The request's MAC when signing a response (RFC 8945 §4.3.1); the prior message's with `timersOnly`. */
  readonly requestMac?: Uint8Array | undefined;
  /** A later message of a multi-message response: prior MAC, message, timers (§5.3.1). */
  readonly timersOnly?: boolean;
  readonly error?: number;
  readonly other?: Uint8Array;
  /** Time Signed when it must be the request's (a BADTIME answer, §5.2.3); `now` otherwise. */
  readonly timeSigned?: number;
}

/** Signs an encoded message with `key`; returns the signed bytes and the MAC (for the next message's digest). */
export function signMessage(
  msg: Uint8Array,
  key: TsigKey,
  hmac: Hmac,
  o: SignOptions,
): { readonly bytes: Uint8Array; readonly mac: Uint8Array } {
  const alg = TSIG_ALGORITHMS[key.algorithm];
  if (!alg) throw new RangeError(`unknown TSIG algorithm ${key.algorithm}`);
  const unsignedRecord: TsigRecord = {
    keyName: key.name,
    algorithm: key.algorithm,
    timeSigned: o.timeSigned ?? o.now,
    fudge: TSIG_FUDGE,
    mac: new Uint8Array(0),
    originalId: u16(msg, 0),
    error: o.error ?? 0,
    other: o.other ?? new Uint8Array(0),
  };
  const parts = [msg, variables(unsignedRecord, o.timersOnly ?? false)];
  if (o.requestMac) parts.unshift(macField(o.requestMac));
  const mac = hmac(alg.hash, key.secret, concat(parts));
  return { bytes: appendRecord(msg, { ...unsignedRecord, mac }), mac };
}

/** An error answer's TSIG without a MAC (BADKEY and BADSIG answers are unsigned, RFC 8945 §5.3.2). */
export function appendUnsignedTsig(msg: Uint8Array, request: TsigRecord, error: number): Uint8Array {
  return appendRecord(msg, { ...request, mac: new Uint8Array(0), originalId: u16(msg, 0), error, other: new Uint8Array(0) });
}

/** Skips a (possibly compressed) name in a message already decoded whole; -1 when it runs out. */
function skipName(b: Uint8Array, at: number): number {
  while (at < b.length) {
    const l = b[at]!;
    if (l === 0) return at + 1;
    if ((l & 0xc0) === 0xc0) return at + 2;
    at += 1 + l;
  }
  return -1;
}

/** Reads an uncompressed name inside RDATA (the algorithm name, §4.2 forbids compression). */
function readPlainName(b: Uint8Array, at: number, end: number): { name: string; at: number } | undefined {
  const labels: string[] = [];
  let total = 1;
  while (at < end) {
    const l = b[at]!;
    if (l === 0) return { name: labels.length ? `${labels.join('.')}.` : '.', at: at + 1 };
    if (l > 63 || at + 1 + l > end) return undefined;
    total += l + 1;
    if (total > 255) return undefined;
    let s = '';
    for (let i = at + 1; i <= at + l; i++) {
      const c = b[i]!;
      s += c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c ? String.fromCharCode(c) : `\\${String(c).padStart(3, '0')}`;
    }
    labels.push(s);
    at += 1 + l;
  }
  return undefined;
}

function parseRdata(keyName: string, b: Uint8Array, at: number, end: number): TsigRecord | undefined {
  const alg = readPlainName(b, at, end);
  if (!alg || alg.at + 10 > end) return undefined;
  let p = alg.at;
  const timeSigned = u16(b, p) * 0x100000000 + u32(b, p + 2);
  const fudge = u16(b, p + 6);
  const macSize = u16(b, p + 8);
  p += 10;
  if (p + macSize + 6 > end) return undefined;
  const mac = Uint8Array.from(b.subarray(p, p + macSize));
  p += macSize;
  const originalId = u16(b, p),
    error = u16(b, p + 2),
    otherLen = u16(b, p + 4);
  p += 6;
  if (p + otherLen !== end) return undefined;
  return {
    keyName: canonicalName(keyName),
    algorithm: canonicalName(alg.name),
    timeSigned,
    fudge,
    mac,
    originalId,
    error,
    other: Uint8Array.from(b.subarray(p, end)),
  };
}

/**
 * A decoded message's TSIG, split off its bytes: the record, and the
 * message as it was before signing (ARCOUNT one less, the Original ID
 * back in the header), which is what the MAC covers. 'none' when
 * unsigned; 'formerr' when a TSIG is not the single last record or is
 * malformed (RFC 8945 §5.1: FORMERR).
 */
export function splitTsig(
  bytes: Uint8Array,
  m: DnsMessage,
): { readonly record: TsigRecord; readonly unsigned: Uint8Array } | 'none' | 'formerr' {
  const inAdditional = m.additional.filter((r) => r.type === TYPE_TSIG).length;
  const elsewhere = m.answers.some((r) => r.type === TYPE_TSIG) || m.authority.some((r) => r.type === TYPE_TSIG);
  if (inAdditional === 0 && !elsewhere) return 'none';
  if (inAdditional !== 1 || elsewhere) return 'formerr';
  let at = 12;
  for (let i = u16(bytes, 4); i > 0; i--) {
    at = skipName(bytes, at);
    if (at < 0) return 'formerr';
    at += 4;
  }
  const records = u16(bytes, 6) + u16(bytes, 8) + u16(bytes, 10);
  let last = -1;
  let lastType = 0;
  let rdata = 0;
  for (let i = 0; i < records; i++) {
    last = at;
    at = skipName(bytes, at);
    if (at < 0 || at + 10 > bytes.length) return 'formerr';
    lastType = u16(bytes, at);
    rdata = at + 10;
    at = rdata + u16(bytes, at + 8);
  }
  if (lastType !== TYPE_TSIG || at !== bytes.length) return 'formerr';
  const rr = m.additional[m.additional.length - 1];
  if (!rr || rr.type !== TYPE_TSIG || u16(bytes, rdata - 8) !== CLASS_ANY || u32(bytes, rdata - 6) !== 0) return 'formerr';
  const record = parseRdata(rr.name, bytes, rdata, at);
  if (!record) return 'formerr';
  // A copy (a Buffer's slice would be a view): the header is rewritten below.
  const unsigned = Uint8Array.from(bytes.subarray(0, last));
  put16(unsigned, 0, record.originalId);
  put16(unsigned, 10, u16(unsigned, 10) - 1);
  return { record, unsigned };
}

export type TsigVerdict =
  | { readonly ok: true; readonly key: TsigKey; readonly record: TsigRecord }
  /** `key` is set when the error answer must be signed with it (BADTIME, BADTRUNC: §5.2.3, §5.2.4). */
  | { readonly ok: false; readonly error: number; readonly record: TsigRecord; readonly key?: TsigKey }
  | { readonly ok: false; readonly formerr: true };

export interface VerifyOptions {
  /** Seconds since the epoch. */
  readonly now: number;
  /** Verifying a response: the request's MAC (or, with `timersOnly`, the prior message's). */
  readonly requestMac?: Uint8Array | undefined;
  readonly timersOnly?: boolean;
}

/** Constant-time comparison of the first `n` octets. */
function sameOctets(a: Uint8Array, b: Uint8Array, n: number): boolean {
  let d = 0;
  for (let i = 0; i < n; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/**
 * RFC 8945 §5.2: the key is known with this algorithm (else BADKEY), the
 * MAC matches (else BADSIG; a MAC longer than the hash or shorter than
 * max(10, half the hash) is FORMERR, §5.2.2.1), the time is within the
 * fudge (else BADTIME), and the MAC is whole (else BADTRUNC: truncated
 * MACs are below this server's policy, §5.2.4).
 */
export function verifyTsig(
  split: { readonly record: TsigRecord; readonly unsigned: Uint8Array },
  keys: readonly TsigKey[],
  hmac: Hmac,
  o: VerifyOptions,
): TsigVerdict {
  const t = split.record;
  const key = keys.find((k) => k.name === t.keyName && k.algorithm === t.algorithm);
  const alg = TSIG_ALGORITHMS[t.algorithm];
  if (!key || !alg) return { ok: false, error: TSIG_ERROR.BADKEY, record: t };
  if (t.mac.length > alg.size || t.mac.length < Math.max(10, alg.size / 2)) return { ok: false, formerr: true };
  const parts = [split.unsigned, variables(t, o.timersOnly ?? false)];
  if (o.requestMac) parts.unshift(macField(o.requestMac));
  const want = hmac(alg.hash, key.secret, concat(parts));
  if (!sameOctets(want, t.mac, t.mac.length)) return { ok: false, error: TSIG_ERROR.BADSIG, record: t };
  if (Math.abs(o.now - t.timeSigned) > t.fudge) return { ok: false, error: TSIG_ERROR.BADTIME, record: t, key };
  if (t.mac.length < alg.size) return { ok: false, error: TSIG_ERROR.BADTRUNC, record: t, key };
  return { ok: true, key, record: t };
}

/** Other Data of a BADTIME answer: the server's time, 48 bits (RFC 8945 §5.2.3). */
export function timeOther(now: number): Uint8Array {
  const b = new Uint8Array(6);
  put48(b, 0, now);
  return b;
}

/** The names RFC 8945 gives TSIG's errors, for logs. */
export function tsigErrorName(e: number): string {
  for (const [k, v] of Object.entries(TSIG_ERROR)) if (v === e) return k;
  return `TSIG${e}`;
}

/**
 * A client's check of the answers to a request it signed (RFC 8945 §5.3.1,
 * §5.4): the first message must be signed over the request's MAC; in a
 * transfer, later messages may go unsigned, at most 99 in a row, and the
 * next signed one covers them all; the last must be signed (`done`).
 */
export class TsigResponseVerifier {
  private readonly key: TsigKey;
  private readonly hmac: Hmac;
  private prior: Uint8Array;
  private pending: Uint8Array[] = [];
  private count = 0;
  /** True when the last message fed was signed and verified. */
  lastSigned = false;

  constructor(key: TsigKey, hmac: Hmac, requestMac: Uint8Array) {
    this.key = key;
    this.hmac = hmac;
    this.prior = requestMac;
  }

  /** Checks the next answer; an error sentence when it must be dropped, and the exchange with it. */
  next(bytes: Uint8Array, m: DnsMessage, now: number): { readonly error: string } | undefined {
    const first = this.count++ === 0;
    const s = splitTsig(bytes, m);
    if (s === 'formerr') return { error: 'the answer has a malformed or misplaced TSIG' };
    if (s === 'none') {
      this.lastSigned = false;
      if (first) {
        const said = m.rcode === 0 ? '' : `; it says ${rcodeName(m.rcode)}`;
        return { error: `the answer is not signed (the request was, with ${this.key.name})${said}` };
      }
      if (this.pending.length >= 99) return { error: 'more than 99 transfer messages in a row without a TSIG (RFC 8945 §5.3.1)' };
      // An unsigned message enters the next digest as it is (its ARCOUNT unchanged, no TSIG to strip).
      this.pending.push(bytes);
      return undefined;
    }
    if (s.record.error !== 0) return { error: `the server answered TSIG error ${tsigErrorName(s.record.error)}` };
    const joined = { record: s.record, unsigned: concat([...this.pending, s.unsigned]) };
    const v = verifyTsig(joined, [this.key], this.hmac, { now, requestMac: this.prior, timersOnly: !first });
    if (!v.ok) return { error: `the answer's TSIG does not verify (${'formerr' in v ? 'FORMERR' : tsigErrorName(v.error)})` };
    this.prior = v.record.mac;
    this.pending = [];
    this.lastSigned = true;
    return undefined;
  }
}
