/**
 * Static files, called as a handler: every response's status, fields and
 * body exactly; content types; the ETag's form; conditional requests
 * (RFC 9110 §13: If-None-Match over If-Modified-Since, weak comparison);
 * single byte ranges with If-Range and 416 (RFC 9110 §14); precompressed
 * variants by Accept-Encoding (RFC 9110 §12.5.3); and request targets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { HttpRequest } from './parser.ts';
import { CONTENT_TYPES, contentType, httpDate, safePath, type StaticFiles, type StaticOptions, staticSite } from './static.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array | undefined): string => (b === undefined ? '<none>' : new TextDecoder().decode(b));

function request(target: string, headers: [string, string][] = [], method = 'GET'): HttpRequest {
  return {
    method,
    target,
    version: '1.1',
    headers: headers.map(([k, v]) => [k.toLowerCase(), v] as const),
    body: new Uint8Array(0),
    keepAlive: true,
  };
}

const MODIFIED = Date.UTC(2026, 0, 1, 12, 30, 15, 750);
const LAST_MODIFIED = 'Thu, 01 Jan 2026 12:30:15 GMT';
const TEXT = 'text/plain; charset=utf-8';

const FILES = new Map<string, Uint8Array>([
  ['/index.html', enc('<h1>home</h1>')],
  ['/docs/index.html', enc('<h1>docs</h1>')],
  ['/404.html', enc('<h1>nope</h1>')],
  ['/big.txt', enc('0123456789'.repeat(100))],
  ['/app.js', enc('let a = 1;')],
  ['/plain.css', enc('a{}')],
  ['/font.woff2', enc('WOFF2')],
]);
const VARIANTS = new Map<string, Uint8Array>([
  ['/app.js br', enc('BROTLI')],
  ['/app.js gzip', enc('GZIPPED')],
  ['/big.txt gzip', enc('GZ-BIG')],
  ['/font.woff2 br', enc('BR-FONT')],
]);

function site(
  opts: Partial<StaticOptions> = {},
  files: StaticFiles = { get: (p) => FILES.get(p), variant: (p, e) => VARIANTS.get(`${p} ${e}`) },
) {
  return staticSite(files, { modifiedMs: MODIFIED, ...opts });
}

/** FNV-1a, 32 bits: the first half of every ETag. */
function fnv1a32(b: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const x of b) h = Math.imul(h ^ x, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

const etagOf = (res: { headers?: readonly (readonly [string, string])[] }): string => res.headers!.find(([k]) => k === 'ETag')![1];

test('content types by extension, case-insensitive; octet-stream without a known extension', () => {
  const want: Record<string, string> = {
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
  assert.deepEqual(CONTENT_TYPES, want);
  for (const [ext, type] of Object.entries(want)) {
    assert.equal(contentType(`/dir/file.${ext}`), type, ext);
    assert.equal(contentType(`/FILE.${ext.toUpperCase()}`), type, ext);
  }
  for (const path of ['/README', '/a.tar.gz', '/file.', '/x.html/readme', '/.d/json', 'html', '/a.exe'])
    assert.equal(contentType(path), 'application/octet-stream', path);
  assert.equal(contentType('/a.b.json'), 'application/json');
});

test('a file: 200 with exactly these fields, Last-Modified to the second, the extra fields last', () => {
  const res = site()(request('/plain.css'));
  const etag = etagOf(res);
  assert.deepEqual(res, {
    status: 200,
    headers: [
      ['Content-Type', 'text/css; charset=utf-8'],
      ['Last-Modified', LAST_MODIFIED],
      ['ETag', etag],
      ['Accept-Ranges', 'bytes'],
    ],
    body: FILES.get('/plain.css'),
  });
  assert.equal(httpDate(MODIFIED), 'Thu, 01 Jan 2026 12:30:15 GMT');
  const extra: [string, string][] = [
    ['Strict-Transport-Security', 'max-age=63072000'],
    ['Cache-Control', 'no-cache'],
  ];
  const withExtra = site({ headers: extra })(request('/'));
  assert.deepEqual(withExtra.headers!.slice(-2), extra);
  assert.equal(withExtra.headers![0]![1], 'text/html; charset=utf-8');
  assert.equal(str(withExtra.body), '<h1>home</h1>');
  // A file with precompressed variants says the answer varies with Accept-Encoding, whichever is chosen.
  const js = site()(request('/app.js'));
  assert.deepEqual(js.headers!.slice(4), [['Vary', 'Accept-Encoding']]);
  assert.equal(str(js.body), 'let a = 1;');
});

test('the ETag: a strong tag of 16 hex digits, FNV-1a of the bytes first, the same for the same bytes only', () => {
  // FNV-1a 32-bit test vectors (Fowler, Noll, Vo): "" 811c9dc5, "a" e40c292c, "foobar" bf9cf968.
  assert.deepEqual([enc(''), enc('a'), enc('foobar')].map(fnv1a32), ['811c9dc5', 'e40c292c', 'bf9cf968']);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), (a, b) => {
      const tag = (body: Uint8Array): string => etagOf(site({}, { get: (p) => (p === '/f' ? body : undefined) })(request('/f')));
      const ta = tag(a);
      assert.match(ta, /^"[0-9a-f]{16}"$/);
      assert.equal(ta.slice(1, 9), fnv1a32(a));
      assert.equal(tag(Uint8Array.from(a)), ta, 'same bytes, same tag');
      if (str(a) !== str(b) || a.length !== b.length) assert.notEqual(tag(b), ta);
    }),
    { numRuns: 100 },
  );
  // Bytes whose hashes start with zero digits keep all 16 digits.
  for (const s of ['', 'a', 'foobar', '\x00', 'b', 'c', 'x'.repeat(33)])
    assert.match(etagOf(site({}, { get: () => enc(s) })(request('/f'))), /^"[0-9a-f]{16}"$/);
  const same = site();
  assert.equal(etagOf(same(request('/big.txt'))), etagOf(same(request('/big.txt'))));
  assert.notEqual(etagOf(same(request('/big.txt'))), etagOf(same(request('/index.html'))));
});

test('405 for other methods, 400 for an unsafe path, each exactly', () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'get']) {
    assert.deepEqual(site()(request('/', [], method)), {
      status: 405,
      headers: [
        ['Allow', 'GET, HEAD'],
        ['Content-Type', TEXT],
      ],
      body: enc('method not allowed\n'),
    });
  }
  assert.equal(site()(request('/', [], 'HEAD')).status, 200);
  for (const target of ['/../secret', '/%2e%2e/x', 'index.html', '/%zz', '/a%5cb'])
    assert.deepEqual(site()(request(target)), { status: 400, headers: [['Content-Type', TEXT]], body: enc('bad path\n') }, target);
});

test('a folder: its index.html, and a redirect to add the slash that keeps the query', () => {
  assert.equal(str(site()(request('/docs/')).body), '<h1>docs</h1>');
  assert.deepEqual(site()(request('/docs')), {
    status: 301,
    headers: [
      ['Location', '/docs/'],
      ['Content-Type', TEXT],
    ],
    body: enc('moved\n'),
  });
  assert.equal(site()(request('/docs?a=1&b=%20')).headers![0]![1], '/docs/?a=1&b=%20');
  assert.equal(site()(request('/docs#frag')).headers![0]![1], '/docs/');
});

test('a missing file: the 404 page as HTML, the option naming another page, or plain text', () => {
  assert.deepEqual(site()(request('/missing?x')), {
    status: 404,
    headers: [['Content-Type', 'text/html; charset=utf-8']],
    body: FILES.get('/404.html'),
  });
  assert.deepEqual(site({ notFound: '/docs/index.html' })(request('/missing')).body, FILES.get('/docs/index.html'));
  const bare = site({}, { get: (p) => (p === '/a.txt' ? enc('a') : undefined) });
  assert.deepEqual(bare(request('/missing')), { status: 404, headers: [['Content-Type', TEXT]], body: enc('not found\n') });
  // No variant() at all: files are served as they are, without Vary.
  const a = bare(request('/a.txt', [['Accept-Encoding', 'br, gzip']]));
  assert.equal(a.status, 200);
  assert.ok(!a.headers!.some(([k]) => k === 'Vary' || k === 'Content-Encoding'));
});

test('If-None-Match: 304 with the same fields and no body for a match, weak comparison, * for any; 200 otherwise', () => {
  const s = site({ headers: [['Cache-Control', 'no-cache']] });
  const full = s(request('/big.txt'));
  const etag = etagOf(full);
  const inm = (v: string, more: [string, string][] = []) => s(request('/big.txt', [['If-None-Match', v], ...more]));
  for (const v of [etag, `W/${etag}`, `"x", ${etag}`, `"x",${etag} , "y"`, '*'])
    assert.deepEqual(inm(v), { status: 304, headers: full.headers }, v);
  for (const v of ['"x"', etag.slice(0, -2) + '"', `"W/${etag.slice(1)}`, `${etag}x`, '"*"', `w/${etag}`])
    assert.equal(inm(v).status, 200, v);
  // If-None-Match is evaluated instead of If-Modified-Since, never both (RFC 9110 §13.2.2).
  assert.equal(inm('"x"', [['If-Modified-Since', LAST_MODIFIED]]).status, 200);
});

test('If-Modified-Since: 304 only for exactly the Last-Modified second; a later, earlier or bad date gets the file', () => {
  const s = site();
  const full = s(request('/big.txt'));
  const ims = (v: string) => s(request('/big.txt', [['If-Modified-Since', v]]));
  assert.deepEqual(ims(LAST_MODIFIED), { status: 304, headers: full.headers });
  assert.equal(ims('Thursday, 01-Jan-26 12:30:15 GMT').status, 304, 'the obsolete RFC 850 form of the same date');
  for (const v of ['Thu, 01 Jan 2026 12:30:16 GMT', 'Thu, 01 Jan 2026 12:30:14 GMT', 'yesterday', ''])
    assert.deepEqual(ims(v).status, 200, v);
});

test('Range: one byte range, its Content-Range and bytes; several or malformed ranges get the whole file (RFC 9110 §14.1.2)', () => {
  const s = site({ headers: [['X-Extra', '1']] });
  const body = FILES.get('/big.txt')!;
  const range = (v: string, more: [string, string][] = []) => s(request('/big.txt', [['Range', v], ...more]));
  const cases: [string, number, number][] = [
    ['bytes=10-14', 10, 14],
    ['bytes=0-0', 0, 0],
    ['bytes=5-5', 5, 5],
    ['bytes=990-', 990, 999],
    ['bytes=999-', 999, 999],
    ['bytes=990-5000', 990, 999],
    ['bytes=-3', 997, 999],
    ['bytes=-1000', 0, 999],
    ['bytes=-5000', 0, 999],
    ['bytes=0-999', 0, 999],
  ];
  for (const [v, from, to] of cases) {
    const r = range(v);
    assert.equal(r.status, 206, v);
    assert.deepEqual(r.headers!.slice(-2), [
      ['X-Extra', '1'],
      ['Content-Range', `bytes ${from}-${to}/1000`],
    ]);
    assert.deepEqual(r.body, body.subarray(from, to + 1), v);
  }
  for (const v of ['bytes=0-1,5-6', 'bytes=5-3', 'bytes=-', 'bytes=abc', 'xbytes=0-1', 'items=0-1', 'bytes=0-1x', 'bytes 0-1']) {
    const r = range(v);
    assert.equal(r.status, 200, v);
    assert.deepEqual(r.body, body, v);
    assert.ok(!r.headers!.some(([k]) => k === 'Content-Range'), v);
  }
  for (const v of ['bytes=1000-', 'bytes=5000-6000', 'bytes=-0'])
    assert.deepEqual(
      range(v),
      {
        status: 416,
        headers: [
          ['Content-Range', 'bytes */1000'],
          ['Content-Type', TEXT],
        ],
        body: enc('range not satisfiable\n'),
      },
      v,
    );
  // A range addresses the file's own bytes: no compressed variant, though the client takes one.
  const r = range('bytes=0-3', [['Accept-Encoding', 'gzip']]);
  assert.equal(str(r.body), '0123');
  assert.ok(!r.headers!.some(([k]) => k === 'Content-Encoding'));
  assert.ok(r.headers!.some(([k, v]) => k === 'Vary' && v === 'Accept-Encoding'));
  // A conditional GET that matches wins over the range.
  assert.equal(range('bytes=0-3', [['If-None-Match', etagOf(s(request('/big.txt')))]]).status, 304);
});

test('If-Range: the range only while the tag (strong) or the date still matches, else the whole file (RFC 9110 §13.1.5)', () => {
  const s = site();
  const etag = etagOf(s(request('/big.txt')));
  const ifRange = (v: string) =>
    s(
      request('/big.txt', [
        ['Range', 'bytes=0-1'],
        ['If-Range', v],
      ]),
    ).status;
  assert.equal(ifRange(etag), 206);
  assert.equal(ifRange(LAST_MODIFIED), 206);
  for (const v of ['"stale"', `W/${etag}`, 'Thu, 01 Jan 2026 12:30:16 GMT', etag.slice(1), 'junk']) assert.equal(ifRange(v), 200, v);
});

test('Accept-Encoding: brotli before gzip, only codings with q > 0, names case-insensitive, the variant with a tag of its own', () => {
  const s = site();
  const ae = (v: string | undefined) => {
    const r = s(request('/app.js', v === undefined ? [] : [['Accept-Encoding', v]]));
    return [str(r.body), r.headers!.find(([k]) => k === 'Content-Encoding')?.[1] ?? '-'];
  };
  const cases: [string | undefined, string, string][] = [
    [undefined, 'let a = 1;', '-'],
    ['', 'let a = 1;', '-'],
    ['gzip, deflate, br', 'BROTLI', 'br'],
    ['gzip', 'GZIPPED', 'gzip'],
    ['GZIP', 'GZIPPED', 'gzip'],
    [' deflate , Br ', 'BROTLI', 'br'],
    ['br;q=0, gzip;q=0.5', 'GZIPPED', 'gzip'],
    ['br ; q=0, gzip', 'GZIPPED', 'gzip'],
    ['br ;q=0.5, gzip', 'BROTLI', 'br'],
    ['br; q=0, gzip; q=0', 'let a = 1;', '-'],
    ['br;q=0.001', 'BROTLI', 'br'],
    ['br;q=1', 'BROTLI', 'br'],
    ['br;q=0.000', 'let a = 1;', '-'],
    ['deflate, identity', 'let a = 1;', '-'],
    ['brotli, xgzip', 'let a = 1;', '-'],
  ];
  for (const [v, body, coding] of cases) assert.deepEqual(ae(v), [body, coding], JSON.stringify(v));
  // Files with one variant only: gzip, or brotli; either way the answer varies with Accept-Encoding.
  assert.equal(str(s(request('/big.txt', [['Accept-Encoding', 'br, gzip']])).body), 'GZ-BIG');
  assert.equal(str(s(request('/font.woff2', [['Accept-Encoding', 'br, gzip']])).body), 'BR-FONT');
  for (const [path, v] of [
    ['/big.txt', 'br'],
    ['/font.woff2', 'gzip'],
  ] as const) {
    const r = s(request(path, [['Accept-Encoding', v]]));
    assert.deepEqual(r.body, FILES.get(path), `${path} for ${v}`);
    assert.deepEqual(r.headers!.slice(4), [['Vary', 'Accept-Encoding']], path);
  }
  const tags = ['', 'br', 'gzip'].map((v) => etagOf(s(request('/app.js', [['Accept-Encoding', v]]))));
  assert.match(tags[1]!, /^"[0-9a-f]{16}-br"$/);
  assert.match(tags[2]!, /^"[0-9a-f]{16}-gz"$/);
  assert.equal(tags[1]!.slice(1, 9), fnv1a32(enc('BROTLI')), 'the tag of the bytes sent');
  assert.equal(new Set(tags).size, 3);
  // The variant's own tag makes it not modified; the file's tag does not.
  assert.equal(
    s(
      request('/app.js', [
        ['Accept-Encoding', 'br'],
        ['If-None-Match', tags[1]!],
      ]),
    ).status,
    304,
  );
  assert.equal(
    s(
      request('/app.js', [
        ['Accept-Encoding', 'br'],
        ['If-None-Match', tags[0]!],
      ]),
    ).status,
    200,
  );
});

test('safePath: the path of an origin-form or absolute-form target, decoded and normalised, or undefined', () => {
  const cases: [string, string | undefined][] = [
    ['/', '/'],
    ['/a/b/', '/a/b/'],
    ['/a/./b/../c', '/a/c'],
    ['/a/b/..', '/a'],
    ['/a//b', '/a//b'],
    ['/a%2Fb', '/a/b'],
    ['/x?y=/../..', '/x'],
    ['/x#/../..', '/x'],
    ['?x', undefined],
    ['#x', undefined],
    ['', undefined],
    ['/a/../..', undefined],
    ['/a\\b', undefined],
    ['/a%5Cb', undefined],
    ['/a%00b', undefined],
    ['http://example.org/x/y?q', '/x/y'],
    ['HTTPS://example.org', '/'],
    ['http://example.org?q', '/'],
    ['http:/x', undefined],
    ['/http://example.org/x', '/http://example.org/x'],
  ];
  for (const [target, want] of cases) assert.equal(safePath(target), want, target);
});

test('If-Match and If-Unmodified-Since: 412 unless the tag (strong) or the exact date matches, evaluated before the rest (RFC 9110 §13.2.2)', () => {
  const s = site();
  const etag = etagOf(s(request('/big.txt')));
  const failed = { status: 412, headers: [['Content-Type', TEXT]], body: enc('precondition failed\n') };
  const get = (h: [string, string][]) => s(request('/big.txt', h));
  for (const v of [etag, '*', `"x", ${etag}`, `"x",${etag} , "y"`]) assert.equal(get([['If-Match', v]]).status, 200, v);
  for (const v of ['"x"', `W/${etag}`, `${etag}x`, '"*"', `"x", W/${etag}`]) assert.deepEqual(get([['If-Match', v]]), failed, v);
  assert.equal(get([['If-Unmodified-Since', LAST_MODIFIED]]).status, 200);
  for (const v of ['Thu, 01 Jan 2026 12:30:14 GMT', 'Thu, 01 Jan 2026 12:30:16 GMT'])
    assert.deepEqual(get([['If-Unmodified-Since', v]]), failed, v);
  assert.equal(get([['If-Unmodified-Since', 'not a date']]).status, 200, 'an invalid date is ignored');
  // If-Match, when present, is evaluated instead of If-Unmodified-Since.
  assert.equal(
    get([
      ['If-Match', etag],
      ['If-Unmodified-Since', 'Thu, 01 Jan 2026 12:30:14 GMT'],
    ]).status,
    200,
  );
  assert.deepEqual(
    get([
      ['If-Match', '"x"'],
      ['If-Unmodified-Since', LAST_MODIFIED],
    ]),
    failed,
  );
  // Before If-None-Match and Range: a failed precondition is 412 whatever they say; a passed one lets them act.
  assert.deepEqual(
    get([
      ['If-Match', '"x"'],
      ['If-None-Match', etag],
    ]),
    failed,
  );
  assert.equal(
    get([
      ['If-Match', etag],
      ['If-None-Match', etag],
    ]).status,
    304,
  );
  assert.equal(
    get([
      ['If-Match', etag],
      ['Range', 'bytes=0-1'],
    ]).status,
    206,
  );
  assert.deepEqual(
    get([
      ['If-Unmodified-Since', 'Thu, 01 Jan 2026 12:30:16 GMT'],
      ['Range', 'bytes=0-1'],
    ]),
    failed,
  );
  // A missing file is 404 whatever the preconditions (RFC 9110 §13.2.1).
  assert.equal(s(request('/missing', [['If-Match', '"x"']])).status, 404);
});
