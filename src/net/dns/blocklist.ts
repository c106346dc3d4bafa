/**
 * A blocklist of domain names for a filtering resolver (what Pi-hole and
 * MirageOS's Mirage Hole do): hosts files (`0.0.0.0 ads.example.com`) and
 * plain domain lists (`ads.example.com`, one a line), `#` comments, any mix.
 * A name is blocked when it or any domain above it is listed.
 *
 * Made for a million entries: names are never made into strings. Each is
 * hashed straight from the file's bytes into an open-addressing table of
 * two independent 32-bit hashes (64 bits: for a million entries the chance
 * that an unlisted name collides with one is about 1 in 10^13), 16 bytes a
 * slot at most half full, so a million names cost 16-32 MB whatever their
 * length, and load in one pass over the bytes.
 */

export interface BlocklistLoad {
  /** Names added (duplicates counted once). */
  readonly entries: number;
  /** Lines that were neither comments, blank, a hosts line nor a domain. */
  readonly badLines: number;
  /** The first few bad lines, as `NAME:LINE: text`, for the log. */
  readonly examples: readonly string[];
}

/** Names hosts files map to themselves; never blocked, even when listed. */
const LOCAL_NAMES = new Set([
  'localhost',
  'localhost.localdomain',
  'local',
  'broadcasthost',
  'ip6-localhost',
  'ip6-loopback',
  'ip6-localnet',
  'ip6-mcastprefix',
  'ip6-allnodes',
  'ip6-allrouters',
  'ip6-allhosts',
  '0.0.0.0',
]);

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const SEED2 = 0x9747b28c;

/** Lower-cases an ASCII letter code. */
const lower = (c: number): number => (c >= 0x41 && c <= 0x5a ? c | 0x20 : c);

/** Second hash: a multiply-xorshift, independent of FNV-1a. */
function mix2(h: number, c: number): number {
  h = Math.imul(h ^ c, 0x5bd1e995);
  return h ^ (h >>> 15);
}

function finish(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A name character as a domain list has them (letters, digits, `-`, `_`). */
const nameChar = (c: number): boolean =>
  (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f || (c >= 0x41 && c <= 0x5a);

export class Blocklist {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private mask: number;
  private count = 0;

  /** An empty list sized for about `expected` names (it grows when they are more). */
  constructor(expected = 0) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.hi = new Uint32Array(cap);
    this.lo = new Uint32Array(cap);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Bytes the table holds (for the log and the memory budget). */
  get bytes(): number {
    return this.hi.byteLength + this.lo.byteLength;
  }

  /**
   * Loads list files (hosts or domain format, any mix), sizing the table
   * once from the line count. Never throws on what the files hold.
   */
  static load(files: readonly { readonly name: string; readonly bytes: Uint8Array }[]): { list: Blocklist; load: BlocklistLoad } {
    let lines = 0;
    for (const f of files) for (let i = f.bytes.indexOf(0x0a); i >= 0; i = f.bytes.indexOf(0x0a, i + 1)) lines++;
    const list = new Blocklist(lines + files.length);
    let badLines = 0;
    const examples: string[] = [];
    for (const f of files) {
      list.addText(f.bytes, (line, at, end) => {
        badLines++;
        if (examples.length < 5)
          examples.push(`${f.name}:${line}: ${String.fromCharCode(...f.bytes.subarray(at, Math.min(end, at + 80)))}`);
      });
    }
    return { list, load: { entries: list.count, badLines, examples } };
  }

  /** Adds every name in `b` (stops at a line that starts with NUL: a padded tail). */
  addText(b: Uint8Array, bad: (line: number, at: number, end: number) => void = () => {}): void {
    let line = 0;
    for (let at = 0; at < b.length && b[at] !== 0; ) {
      let end = b.indexOf(0x0a, at);
      if (end < 0) end = b.length;
      line++;
      if (!this.addLine(b, at, end)) bad(line, at, end);
      at = end + 1;
    }
  }

  /** One line: false when it is neither blank, a comment, a hosts line nor a domain. */
  private addLine(b: Uint8Array, at: number, end: number): boolean {
    const s = skipSpace(b, at, end);
    if (s >= end || b[s] === 0x23) return true;
    const e = tokenEnd(b, s, end);
    let j = skipSpace(b, e, end);
    if (j >= end || b[j] === 0x23) return this.addName(b, s, e);
    if (!isAddressToken(b, s, e)) return false;
    let ok = true;
    while (j < end && b[j] !== 0x23) {
      const ts = j;
      j = tokenEnd(b, j, end);
      ok = this.addName(b, ts, j) && ok;
      j = skipSpace(b, j, end);
    }
    return ok;
  }

  /** Validates and hashes one name in a single pass (a leading `*.` and a final dot dropped); false when it is not a domain. */
  private addName(b: Uint8Array, s: number, e: number): boolean {
    if (e - s > 2 && b[s] === 0x2a && b[s + 1] === 0x2e) s += 2;
    if (e > s && b[e - 1] === 0x2e) e--;
    if (e - s === 0 || e - s > 253) return false;
    let label = 0,
      h1 = FNV_OFFSET,
      h2 = SEED2;
    for (let i = s; i < e; i++) {
      let c = b[i]!;
      if (c === 0x2e) {
        if (label === 0) return false;
        label = 0;
      } else if (nameChar(c) && ++label <= 63) c = lower(c);
      else return false;
      h1 = Math.imul(h1 ^ c, FNV_PRIME);
      h2 = mix2(h2, c);
    }
    if (label === 0) return false;
    this.insert(finish(h1), (finish(h2) | 1) >>> 0);
    return true;
  }

  private insert(hi: number, lo: number): void {
    if ((this.count + 1) * 2 > this.hi.length) this.grow();
    for (let i = hi & this.mask; ; i = (i + 1) & this.mask) {
      if (this.lo[i] === 0) {
        this.hi[i] = hi;
        this.lo[i] = lo;
        this.count++;
        return;
      }
      if (this.hi[i] === hi && this.lo[i] === lo) return;
    }
  }

  private grow(): void {
    const [hi, lo] = [this.hi, this.lo];
    this.hi = new Uint32Array(hi.length * 2);
    this.lo = new Uint32Array(lo.length * 2);
    this.mask = this.hi.length - 1;
    this.count = 0;
    for (let i = 0; i < hi.length; i++) if (lo[i] !== 0) this.insert(hi[i]!, lo[i]!);
  }

  private has(hi: number, lo: number): boolean {
    for (let i = hi & this.mask; ; i = (i + 1) & this.mask) {
      if (this.lo[i] === 0) return false;
      if (this.hi[i] === hi && this.lo[i] === lo) return true;
    }
  }

  /** Adds one domain given as text (`ads.example.com`, a final dot allowed); false when it is not a domain. */
  add(name: string): boolean {
    const b = Uint8Array.from(name, (c) => c.charCodeAt(0) & 0xff);
    return this.addName(b, 0, b.length);
  }

  /**
   * The listed domain that blocks `name` (presentation text, like a query's
   * `www.Ads.example.com.`): the name itself or the nearest domain above it;
   * undefined when none is listed.
   */
  match(name: string): string | undefined {
    if (this.count === 0) return undefined;
    const n = name.endsWith('.') ? name.slice(0, -1) : name;
    for (let start = 0; start < n.length; ) {
      let h1 = FNV_OFFSET,
        h2 = SEED2;
      for (let i = start; i < n.length; i++) {
        const c = lower(n.charCodeAt(i));
        h1 = Math.imul(h1 ^ c, FNV_PRIME);
        h2 = mix2(h2, c);
      }
      if (this.has(finish(h1), (finish(h2) | 1) >>> 0) && !LOCAL_NAMES.has(n.slice(start).toLowerCase())) return n.slice(start);
      const dot = n.indexOf('.', start);
      if (dot < 0) break;
      start = dot + 1;
    }
    return undefined;
  }
}

/**
 * An IPv4 or IPv6 address as hosts files start their lines with (digits, dots, hex and colons), an IPv6 one with a
 * zone after `%` (RFC 4007 §11: an interface name or number, as in the `fe80::1%lo0 localhost` of many lists).
 */
function isAddressToken(b: Uint8Array, s: number, e: number): boolean {
  let colon = false,
    dots = 0;
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if (c === 0x3a) colon = true;
    else if (c === 0x2e) dots++;
    else if (c === 0x25) return colon && i + 1 < e && isZone(b, i + 1, e);
    else if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46))) return false;
  }
  return colon || dots === 3;
}

/** An interface name or number: letters, digits, `.`, `-` and `_`. */
function isZone(b: Uint8Array, s: number, e: number): boolean {
  for (let i = s; i < e; i++) if (!(nameChar(b[i]!) || b[i] === 0x2e)) return false;
  return true;
}

const space = (c: number | undefined): boolean => c === 0x20 || c === 0x09 || c === 0x0d;

function skipSpace(b: Uint8Array, i: number, end: number): number {
  while (i < end && space(b[i])) i++;
  return i;
}

function tokenEnd(b: Uint8Array, i: number, end: number): number {
  while (i < end && !space(b[i]) && b[i] !== 0x23) i++;
  return i;
}
