/**
 * Static files from an image's assets, served the way nginx serves a
 * folder: index.html for directories (and a redirect to add the slash),
 * content types by extension, strong ETags and Last-Modified with
 * conditional GET (RFC 9110 §13), single byte ranges with If-Range
 * (RFC 9110 §14), gzip/brotli variants precompressed at build time chosen
 * by Accept-Encoding, and a custom 404 page.
 */
import { header, type HttpRequest } from './parser.ts';
import type { HttpResponse } from './server.ts';

export interface StaticFiles {
  get(path: string): Uint8Array | undefined;
  /** A precompressed variant made at build time (`br`, `gzip`). */
  variant?(path: string, encoding: 'br' | 'gzip'): Uint8Array | undefined;
}

export interface StaticOptions {
  /** Last-Modified of every file (ms since the epoch; from the build, so builds stay reproducible: SOURCE_DATE_EPOCH or a content-derived date). */
  readonly modifiedMs: number;
  /** Served with status 404 when a path is missing (default `/404.html` if present). */
  readonly notFound?: string;
  /** Extra headers on every 2xx/304 response (HSTS, cache policy). */
  readonly headers?: readonly (readonly [string, string])[];
}

export const CONTENT_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  json: 'application/json',
  txt: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  xml: 'application/xml',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  ico: 'image/x-icon',
  woff: 'font/woff',
  woff2: 'font/woff2',
  pdf: 'application/pdf',
  wasm: 'application/wasm',
  webmanifest: 'application/manifest+json',
  map: 'application/json',
  csv: 'text/csv; charset=utf-8',
};

export function contentType(path: string): string {
  const dot = path.lastIndexOf('.');
  return (dot > path.lastIndexOf('/') && CONTENT_TYPES[path.slice(dot + 1).toLowerCase()]) || 'application/octet-stream';
}

/** 64-bit FNV-1a of the bytes as 16 hex digits: an ETag that changes when the content does. */
function fnv64(b: Uint8Array): string {
  let h1 = 0x811c9dc5 | 0,
    h2 = 0xcbf29ce4 | 0;
  for (let i = 0; i < b.length; i++) {
    h1 = Math.imul(h1 ^ b[i]!, 0x01000193);
    h2 = Math.imul(h2 ^ b[i]! ^ (h1 >>> 24), 0x01000193);
  }
  return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
}

/** RFC 9110 §5.6.7 IMF-fixdate (what `Date.toUTCString` writes). */
export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** Decodes and normalises a request target to an absolute path, or undefined if it is unsafe or malformed. */
export function safePath(target: string): string | undefined {
  const q = target.search(/[?#]/);
  let raw = q < 0 ? target : target.slice(0, q);
  if (/^https?:\/\//i.test(raw)) raw = raw.replace(/^https?:\/\/[^/]*/i, '') || '/';
  if (!raw.startsWith('/')) return undefined;
  let path: string;
  try {
    path = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  if (path.includes('\0') || path.includes('\\')) return undefined;
  const out: string[] = [];
  for (const seg of path.split('/').slice(1)) {
    if (seg === '..') {
      if (out.length === 0) return undefined;
      out.pop();
    } else if (seg !== '.') out.push(seg);
  }
  return '/' + out.join('/');
}

/** Whether the client takes `coding` (q > 0) per Accept-Encoding (RFC 9110 §12.5.3). */
function accepts(ae: string | undefined, coding: string): boolean {
  if (!ae) return false;
  for (const part of ae.split(',')) {
    const [name, ...params] = part.trim().split(';');
    if (name!.trim().toLowerCase() !== coding) continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

type Range = { start: number; end: number } | 'unsatisfiable' | undefined;

/** One `bytes=` range (RFC 9110 §14.1.2); several ranges are answered with the whole file, as the RFC allows. */
function parseRange(h: string, size: number): Range {
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

function etagMatches(list: string, etag: string): boolean {
  if (list.trim() === '*') return true;
  const strip = (t: string): string => t.trim().replace(/^W\//, '');
  return list.split(',').some((t) => strip(t) === strip(etag));
}

/** If-Match (RFC 9110 §13.1.1): strong comparison, so a weak tag never matches; `*` matches the file. */
function strongMatch(list: string, etag: string): boolean {
  if (list === '*') return true;
  return list.split(',').some((t) => t.trim() === etag);
}

/** An HTTP-date field in whole seconds since the epoch; undefined if absent or invalid (RFC 9110 §13.1.3, §13.1.4: ignored). */
function seconds(date: string | undefined): number | undefined {
  const t = date === undefined ? NaN : Date.parse(date);
  return Number.isNaN(t) ? undefined : Math.floor(t / 1000);
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A compressed variant's ETag differs from the file's: the same tag must mean the same bytes. */
const ETAG_SUFFIX = { br: '-br', gzip: '-gz' } as const;

/** The answer for a path with no file: to the folder, when it has an index (query kept), else the not-found page. */
function noFile(files: StaticFiles, path: string, target: string, notFoundPath: string): HttpResponse {
  if (!path.endsWith('/') && files.get(`${path}/index.html`)) {
    const q = target.indexOf('?');
    return {
      status: 301,
      headers: [
        ['Location', `${path}/${q < 0 ? '' : target.slice(q)}`],
        ['Content-Type', 'text/plain; charset=utf-8'],
      ],
      body: text('moved\n'),
    };
  }
  const page = files.get(notFoundPath);
  return {
    status: 404,
    headers: [['Content-Type', page ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8']],
    body: page ?? text('not found\n'),
  };
}

/** A handler that serves `files`. */
export function staticSite(files: StaticFiles, opts: StaticOptions): (req: HttpRequest) => HttpResponse {
  const lastModified = httpDate(Math.floor(opts.modifiedMs / 1000) * 1000);
  const modifiedS = Math.floor(opts.modifiedMs / 1000);
  const etags = new Map<Uint8Array, string>();
  const etagOf = (b: Uint8Array, suffix: string): string => {
    let t = etags.get(b);
    if (t === undefined) {
      t = `"${fnv64(b)}${suffix}"`;
      etags.set(b, t);
    }
    return t;
  };
  const extra = opts.headers ?? [];
  const notFoundPath = opts.notFound ?? '/404.html';

  return (req) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return {
        status: 405,
        headers: [
          ['Allow', 'GET, HEAD'],
          ['Content-Type', 'text/plain; charset=utf-8'],
        ],
        body: text('method not allowed\n'),
      };
    }
    const path = safePath(req.target);
    if (path === undefined) return { status: 400, headers: [['Content-Type', 'text/plain; charset=utf-8']], body: text('bad path\n') };
    const file = path.endsWith('/') ? `${path}index.html` : path;
    let body = files.get(file);
    if (body === undefined) return noFile(files, path, req.target, notFoundPath);
    const type = contentType(file);
    const range = header(req, 'range');
    // Pick the representation: a precompressed variant unless a range was asked for (ranges address the file's own bytes).
    let encoding: 'br' | 'gzip' | undefined;
    const br = files.variant?.(file, 'br'),
      gz = files.variant?.(file, 'gzip');
    const hasVariants = br !== undefined || gz !== undefined;
    if (range === undefined && hasVariants) {
      const ae = header(req, 'accept-encoding');
      if (br && accepts(ae, 'br')) {
        body = br;
        encoding = 'br';
      } else if (gz && accepts(ae, 'gzip')) {
        body = gz;
        encoding = 'gzip';
      }
    }
    const etag = etagOf(body, encoding ? ETAG_SUFFIX[encoding] : '');
    const headers: (readonly [string, string])[] = [
      ['Content-Type', type],
      ['Last-Modified', lastModified],
      ['ETag', etag],
      ['Accept-Ranges', 'bytes'],
    ];
    if (hasVariants) headers.push(['Vary', 'Accept-Encoding']);
    if (encoding) headers.push(['Content-Encoding', encoding]);
    headers.push(...extra);
    // Conditional requests (RFC 9110 §13.2.2), in its order: If-Match (strong comparison), else If-Unmodified-Since,
    // failing with 412; then If-None-Match, else If-Modified-Since, with 304. A date matches only this exact date, as
    // nginx does for If-Modified-Since by default (`if_modified_since exact`): the build's date may be derived from the
    // content (src/build/build.ts), and then an earlier or later date proves nothing; a client sends back the
    // Last-Modified it was given, and any other date gets the file (or, unmodified not being proven, 412).
    const im = header(req, 'if-match');
    const ius = seconds(header(req, 'if-unmodified-since'));
    if (im !== undefined ? !strongMatch(im, etag) : ius !== undefined && ius !== modifiedS) {
      return { status: 412, headers: [['Content-Type', 'text/plain; charset=utf-8']], body: text('precondition failed\n') };
    }
    const inm = header(req, 'if-none-match');
    if (inm !== undefined) {
      if (etagMatches(inm, etag)) return { status: 304, headers };
    } else if (seconds(header(req, 'if-modified-since')) === modifiedS) return { status: 304, headers };
    if (range !== undefined && body !== undefined) {
      const ifRange = header(req, 'if-range');
      const rangeOk =
        ifRange === undefined || (ifRange.startsWith('"') || ifRange.startsWith('W/') ? ifRange === etag : ifRange === lastModified);
      const r = rangeOk ? parseRange(range, body.length) : undefined;
      if (r === 'unsatisfiable') {
        return {
          status: 416,
          headers: [
            ['Content-Range', `bytes */${body.length}`],
            ['Content-Type', 'text/plain; charset=utf-8'],
          ],
          body: text('range not satisfiable\n'),
        };
      }
      if (r) {
        headers.push(['Content-Range', `bytes ${r.start}-${r.end}/${body.length}`]);
        return { status: 206, headers, body: body.subarray(r.start, r.end + 1) };
      }
    }
    return { status: 200, headers, body };
  };
}
