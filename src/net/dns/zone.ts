/**
 * Zone files in RFC 1035 §5 master format: `$ORIGIN`, `$TTL`, `@`,
 * relative names, a blank owner meaning the previous one, TTL and class in
 * either order, parentheses across lines, `;` comments, quoted strings with
 * `\X`/`\DDD` escapes, BIND's TTL units (`1h30m`), and RFC 3597's generic
 * `TYPE65534 \# 3 abcdef` for any type, and the presentation formats of
 * every type NSD loads (./rdata.ts: HINFO, RP, LOC, NAPTR, DNAME, DS,
 * SSHFP, DNSKEY, TLSA, SMIMEA, SVCB, HTTPS, SPF, URI, …). `$INCLUDE` is refused (an image
 * has no file system). Errors name the line and say what was expected.
 */
import {
  CLASS_IN,
  formatIpv6,
  labelsToName,
  nameToLabels,
  parseIpv6,
  TYPE,
  typeFromName,
  typeName,
  type DnsRecord,
  type RData,
} from '../../wire/dns.ts';
import { u32 } from '../../wire/bytes.ts';
import { formatIpv4Address, parseIpv4Address } from '../../wire/ipv4.ts';
import { PRESENTATION_TYPES, presentationToWire, unescapeOctets } from './rdata.ts';

export interface ZoneError {
  readonly line: number;
  readonly message: string;
}

export interface ParsedZone {
  readonly records: DnsRecord[];
  readonly errors: ZoneError[];
}

interface Token {
  readonly text: string;
  /** Quoted tokens are never names, numbers or `@`. */
  readonly quoted: boolean;
  readonly line: number;
}

/** Splits into logical entries (parentheses joined), each a token list; the first token is '' when the line started with blank space. */
function entries(text: string, errors: ZoneError[]): Token[][] {
  const out: Token[][] = [];
  let cur: Token[] = [];
  let depth = 0;
  let line = 1;
  /** The line of the outermost '(' still open. */
  let opened = 1;
  let startOfLine = true;
  let i = 0;
  const n = text.length;
  const endEntry = (): void => {
    if (cur.some((t) => t.text !== '' || t.quoted)) out.push(cur);
    cur = [];
  };
  while (i < n) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
      if (depth === 0) {
        endEntry();
        startOfLine = true;
      }
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      if (startOfLine && depth === 0 && cur.length === 0) cur.push({ text: '', quoted: false, line });
      startOfLine = false;
      i++;
      continue;
    }
    startOfLine = false;
    if (c === ';') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (c === '(') {
      if (depth === 0) opened = line;
      depth++;
      i++;
      continue;
    }
    if (c === ')') {
      if (depth === 0) errors.push({ line, message: "')' without a matching '('" });
      else depth--;
      i++;
      continue;
    }
    if (c === '"') {
      let s = '';
      i++;
      while (i < n && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < n) {
          s += text[i]! + text[i + 1]!;
          i += 2;
          continue;
        }
        if (text[i] === '\n') line++;
        s += text[i++]!;
      }
      if (i >= n) errors.push({ line, message: 'a quoted string is not closed' });
      i++;
      cur.push({ text: s, quoted: true, line });
      continue;
    }
    let s = '';
    while (i < n && !' \t\r\n;()"'.includes(text[i]!)) {
      if (text[i] === '\\' && i + 1 < n) {
        s += text[i]! + text[i + 1]!;
        i += 2;
        continue;
      }
      s += text[i++]!;
    }
    cur.push({ text: s, quoted: false, line });
  }
  if (depth !== 0) errors.push({ line: opened, message: "'(' is not closed before the end of the file" });
  endEntry();
  return out;
}

const TTL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** `3600`, `1h`, `1h30m`, `2w` → seconds; undefined when not a TTL. */
export function parseTtl(s: string): number | undefined {
  if (/^\d+$/.test(s)) return Number(s) <= 0x7fffffff ? Number(s) : undefined;
  const re = /(\d+)([smhdw])/giy;
  let total = 0,
    seen = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    total += Number(m[1]) * TTL_UNITS[m[2]!.toLowerCase()]!;
    seen += m[0].length;
  }
  return seen === s.length && seen > 0 && total <= 0x7fffffff ? total : undefined;
}

function u16ok(s: string | undefined): number | undefined {
  return s !== undefined && /^\d{1,5}$/.test(s) && Number(s) <= 0xffff ? Number(s) : undefined;
}
function u32ok(s: string | undefined): number | undefined {
  return s !== undefined && /^\d{1,10}$/.test(s) && Number(s) <= 0xffffffff ? Number(s) : undefined;
}

/**
 * Parses a zone file. `origin` is the starting `$ORIGIN` (absolute, with a
 * final dot); records are returned in file order with absolute owner names.
 */
export function parseZone(text: string, origin: string, defaultTtl = 3600): ParsedZone {
  const errors: ZoneError[] = [];
  const records: DnsRecord[] = [];
  let ttl: number | undefined;
  let lastOwner: string | undefined;
  let lastTtl: number | undefined;
  const absolute = (name: string, line: number): string | undefined => {
    let full: string;
    if (name === '@') full = origin;
    else if (name.endsWith('.') && !name.endsWith('\\.')) full = name;
    else full = origin === '.' ? `${name}.` : `${name}.${origin}`;
    const labels = nameToLabels(full);
    if (!labels) {
      errors.push({ line, message: `'${name}' is not a valid domain name (labels of 1-63 octets, 255 in all)` });
      return undefined;
    }
    return labelsToName(labels);
  };
  for (const e of entries(text, errors)) {
    const line = e[0]!.line;
    const first = e[0]!;
    if (!first.quoted && first.text.startsWith('$')) {
      const d = first.text.toUpperCase();
      if (d === '$ORIGIN') {
        const o = e[1] ? absoluteOrigin(e[1].text) : undefined;
        if (!o) errors.push({ line, message: '$ORIGIN needs an absolute name ending in a dot, like $ORIGIN example.com.' });
        else origin = o;
      } else if (d === '$TTL') {
        const t = e[1] ? parseTtl(e[1].text) : undefined;
        if (t === undefined) errors.push({ line, message: '$TTL needs a time like 3600 or 1h' });
        else ttl = t;
      } else if (d === '$INCLUDE') {
        errors.push({ line, message: '$INCLUDE is not supported: an image carries one file per zone; paste the included records in' });
      } else {
        errors.push({ line, message: `unknown directive ${first.text}; use $ORIGIN or $TTL` });
      }
      continue;
    }
    let owner: string | undefined;
    if (first.text === '' && !first.quoted) {
      owner = lastOwner;
      if (owner === undefined) {
        errors.push({ line, message: 'the first record has no owner name; start the line with a name or @' });
        continue;
      }
    } else {
      owner = absolute(first.text, line);
      if (owner === undefined) continue;
    }
    lastOwner = owner;
    // After the owner (or the blank that repeats it): TTL, class and type.
    const { rrTtl, cls, type, next } = rrFields(e, 1, line, errors);
    if (type === -1) continue;
    if (type === undefined) {
      errors.push({ line, message: `record for ${owner} has no type` });
      continue;
    }
    const rest = e.slice(next);
    const data = rdata(
      type,
      rest,
      (n) => absolute(n, line),
      (m) => errors.push({ line, message: `${owner} ${typeName(type)}: ${m}` }),
    );
    if (!data) continue;
    let finalTtl = rrTtl ?? ttl;
    if (finalTtl === undefined && type === TYPE.SOA && data.kind === 'SOA') finalTtl = data.minimum;
    finalTtl ??= lastTtl ?? defaultTtl;
    lastTtl = finalTtl;
    records.push({ name: owner, type, class: cls, ttl: finalTtl, data });
  }
  return { records, errors };
}

/**
 * A record's TTL, class and type fields from `from`, TTL and class in either order; `next` is the first RDATA field.
 * The type is undefined when none came, -1 when an error was reported.
 */
function rrFields(
  e: Token[],
  from: number,
  line: number,
  errors: ZoneError[],
): { rrTtl: number | undefined; cls: number; type: number | undefined; next: number } {
  let rrTtl: number | undefined;
  let cls = CLASS_IN;
  let type: number | undefined;
  let i = from;
  for (; i < e.length && type === undefined; i++) {
    const t = e[i]!.text;
    const asTtl = e[i]!.quoted ? undefined : parseTtl(t);
    if (asTtl !== undefined && rrTtl === undefined) {
      rrTtl = asTtl;
      continue;
    }
    const up = t.toUpperCase();
    if (up === 'IN') {
      cls = CLASS_IN;
      continue;
    }
    if (up === 'CH' || up === 'HS' || up === 'CS') {
      errors.push({ line, message: `class ${t} is not served; only IN` });
      type = -1;
      break;
    }
    type = typeFromName(t);
    if (type === undefined) {
      errors.push({ line, message: `unknown record type '${t}'; use a type name or TYPEnnn with \\# RDATA (RFC 3597)` });
      type = -1;
    } else if (type === TYPE.OPT || type === TYPE.AXFR || type === TYPE.IXFR || type === TYPE.ANY) {
      errors.push({ line, message: `${t} is a query type or a pseudo-record, not something a zone holds` });
      type = -1;
    }
  }
  return { rrTtl, cls, type, next: i };
}

function absoluteOrigin(s: string): string | undefined {
  if (!s.endsWith('.')) return undefined;
  const l = nameToLabels(s);
  return l ? labelsToName(l) : undefined;
}

/** RFC 3597's generic form, `\\# LENGTH HEX`: any type's data as octets (an A record's four are read as its address). */
function genericRdata(type: number, texts: string[], err: (m: string) => void): RData | undefined {
  const len = Number(texts[1]);
  const hex = texts.slice(2).join('');
  if (!Number.isInteger(len) || len > 0xffff || !/^([0-9a-fA-F]{2})*$/.test(hex) || hex.length !== len * 2) {
    err('generic RDATA is \\# LENGTH HEX, with LENGTH octets of hex');
    return undefined;
  }
  const bytes = new Uint8Array(len);
  for (let i = 0; i < len; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  if (type === TYPE.A && len === 4) return { kind: 'A', address: formatIpv4Address(u32(bytes, 0)) };
  return { kind: 'raw', bytes };
}

function rdata(type: number, t: Token[], name: (s: string) => string | undefined, err: (m: string) => void): RData | undefined {
  const texts = t.map((x) => x.text);
  const need = (n: number, shape: string): boolean => {
    if (t.length === n) return true;
    err(`expected ${shape}, got ${t.length} field${t.length === 1 ? '' : 's'}`);
    return false;
  };
  if (texts[0] === '\\#' && !t[0]!.quoted) return genericRdata(type, texts, err);
  if (PRESENTATION_TYPES.has(type)) {
    const bytes = presentationToWire(type, t, name, err);
    return bytes && { kind: 'raw', bytes };
  }
  switch (type) {
    case TYPE.A: {
      if (!need(1, 'an IPv4 address')) return undefined;
      const a = parseIpv4Address(texts[0]!);
      if (a === undefined) {
        err(`'${texts[0]}' is not an IPv4 address`);
        return undefined;
      }
      return { kind: 'A', address: formatIpv4Address(a) };
    }
    case TYPE.AAAA: {
      if (!need(1, 'an IPv6 address')) return undefined;
      const b = parseIpv6(texts[0]!);
      if (!b) {
        err(`'${texts[0]}' is not an IPv6 address`);
        return undefined;
      }
      return { kind: 'AAAA', address: formatIpv6(b) };
    }
    case TYPE.NS:
    case TYPE.CNAME:
    case TYPE.PTR: {
      if (!need(1, 'a domain name')) return undefined;
      const n = name(texts[0]!);
      return n === undefined ? undefined : { kind: typeName(type) as 'NS' | 'CNAME' | 'PTR', target: n };
    }
    case TYPE.MX: {
      if (!need(2, 'PREFERENCE EXCHANGE')) return undefined;
      const p = u16ok(texts[0]);
      const x = name(texts[1]!);
      if (p === undefined) {
        err('MX preference is a number 0-65535');
        return undefined;
      }
      return x === undefined ? undefined : { kind: 'MX', preference: p, exchange: x };
    }
    case TYPE.SOA: {
      if (!need(7, 'MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM')) return undefined;
      const mname = name(texts[0]!),
        rname = name(texts[1]!);
      const serial = u32ok(texts[2]);
      const times = texts.slice(3).map(parseTtl);
      if (serial === undefined || times.some((x) => x === undefined)) {
        err('SOA serial is a number and the four timers are times');
        return undefined;
      }
      if (mname === undefined || rname === undefined) return undefined;
      return { kind: 'SOA', mname, rname, serial, refresh: times[0]!, retry: times[1]!, expire: times[2]!, minimum: times[3]! };
    }
    case TYPE.TXT: {
      if (t.length === 0) {
        err('TXT needs at least one string');
        return undefined;
      }
      const strings: Uint8Array[] = [];
      for (const x of t) {
        const b = unescapeOctets(x.text);
        if (b === undefined) {
          err(`'${x.text.slice(0, 40)}' has a \\DDD over 255 (each is one octet, 000-255)`);
          return undefined;
        }
        strings.push(Uint8Array.from(b));
      }
      if (strings.some((s) => s.length > 255)) {
        err('each TXT string is at most 255 octets; split it into several quoted strings');
        return undefined;
      }
      if (strings.reduce((n, s) => n + 1 + s.length, 0) > 0xffff) {
        err('a TXT record is at most 65535 octets; split it into several records');
        return undefined;
      }
      return { kind: 'TXT', strings };
    }
    case TYPE.SRV: {
      if (!need(4, 'PRIORITY WEIGHT PORT TARGET')) return undefined;
      const [p, w, port] = [u16ok(texts[0]), u16ok(texts[1]), u16ok(texts[2])];
      const target = name(texts[3]!);
      if (p === undefined || w === undefined || port === undefined) {
        err('SRV priority, weight and port are numbers 0-65535');
        return undefined;
      }
      return target === undefined ? undefined : { kind: 'SRV', priority: p, weight: w, port, target };
    }
    case TYPE.CAA:
      return need(3, 'FLAGS TAG "VALUE"') ? caaRdata(texts, err) : undefined;
    default:
      err(`type ${typeName(type)} needs RFC 3597 generic RDATA: \\# LENGTH HEX`);
      return undefined;
  }
}

function caaRdata(texts: string[], err: (m: string) => void): RData | undefined {
  const flags = Number(texts[0]);
  if (!Number.isInteger(flags) || flags < 0 || flags > 255 || !/^[a-zA-Z0-9]{1,255}$/.test(texts[1]!)) {
    err('CAA is FLAGS (0-255) TAG (1-255 letters and digits) "VALUE"');
    return undefined;
  }
  const octets = unescapeOctets(texts[2]!);
  if (octets === undefined) {
    err(`'${texts[2]!.slice(0, 40)}' has a \\DDD over 255 (each is one octet, 000-255)`);
    return undefined;
  }
  const value = Uint8Array.from(octets);
  if (2 + texts[1]!.length + value.length > 0xffff) {
    err('a CAA record is at most 65535 octets');
    return undefined;
  }
  return { kind: 'CAA', flags, tag: texts[1]!, value };
}
