/**
 * Fuzz targets above the wire: the HTTP/1.1 parser and server on a
 * connection (pipelined, delivered whole, byte by byte, or in random
 * pieces), DNS zone files and the authority answering any query, the DHCP
 * server, the boot-argument parser, the service and manifest checks, and
 * the image reader.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { HttpParser, type HttpLimits } from '../../src/http/parser.ts';
import { HttpServer, type HttpStream } from '../../src/http/server.ts';
import { parseZone } from '../../src/net/dns/zone.ts';
import { Authority, Zone } from '../../src/net/dns/authority.ts';
import { DhcpServer } from '../../src/net/dhcp/server.ts';
import { decodeDhcp, encodeDns, makeQuery, TYPE } from '../../src/wire/index.ts';
import { parseBootArgs, helpText } from '../../src/runtime/args.ts';
import { param, service } from '../../src/runtime/config.ts';
import { checkManifest, type Manifest } from '../../src/devices/index.ts';
import { readImage, writeImage, type ImageManifest } from '../../src/build/image.ts';
import { DHCP_SEEDS } from './wire-targets.ts';
import { joinRecords, records } from './mutate.ts';
import type { Target } from './target.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const latin1 = (b: Uint8Array): string => String.fromCharCode(...b);
const utf8 = (b: Uint8Array): string => new TextDecoder().decode(b);

/** The pieces one input arrives in: its first byte picks whole, byte by byte, or cuts at its own bytes' values. */
function pieces(b: Uint8Array): Uint8Array[] {
  const mode = (b[0] ?? 0) % 3;
  const rest = b.subarray(1);
  if (mode === 0) return [rest];
  if (mode === 1) return Array.from(rest, (_, i) => rest.subarray(i, i + 1));
  const out: Uint8Array[] = [];
  for (let at = 0; at < rest.length; ) {
    const n = 1 + (rest[at]! % 17);
    out.push(rest.subarray(at, at + n));
    at += n;
  }
  return out;
}

const LIMITS: HttpLimits = { requestLine: 200, headerBytes: 400, headerCount: 8, body: 600 };
const HTTP_SEEDS = [
  'GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /b?x=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
  'POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.0\r\n\r\n',
  'POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\nHEAD / HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nab',
];

/** Every message the parser gives for the pieces, up to its first error. */
function parseAll(mode: 'request' | 'response', parts: readonly Uint8Array[]): string[] {
  const p = new HttpParser(mode, LIMITS);
  const out: string[] = [];
  const drain = (): boolean => {
    for (let r = p.next(); r !== undefined; r = p.next()) {
      out.push(JSON.stringify(r, (_k, v) => (v instanceof Uint8Array ? latin1(v) : v)));
      if ('error' in r) return false;
    }
    // Whatever is held waits for more: never more than one head and one body within the limits.
    const bound = LIMITS.requestLine + LIMITS.headerBytes + LIMITS.body + 64;
    assert.ok(p.buffered <= bound, `the parser holds ${p.buffered} bytes (bound ${bound})`);
    return true;
  };
  for (const part of parts) {
    p.push(part);
    if (!drain()) return out;
  }
  p.finish();
  drain();
  return out;
}

const httpParser: Target = {
  name: 'http-parser',
  maxLen: 4000,
  seeds: () => HTTP_SEEDS.flatMap((s) => [0, 1, 2].map((m) => Uint8Array.of(m, ...enc(s)))),
  run(b) {
    for (const mode of ['request', 'response'] as const) {
      const whole = parseAll(mode, [b.subarray(1)]);
      assert.deepEqual(parseAll(mode, pieces(b)), whole, 'the same messages however the bytes arrive');
    }
  },
};

function fakeStream(): { s: HttpStream; out: string[]; closed: boolean[] } {
  const out: string[] = [];
  const closed: boolean[] = [];
  const s: HttpStream = {
    remote: '192.0.2.7',
    remotePort: 4321,
    onData: undefined,
    onEnd: undefined,
    onDrain: undefined,
    onClose: undefined,
    write: (d) => {
      out.push(latin1(d));
      return d.length;
    },
    end: () => {
      closed.push(true);
    },
    destroy: () => {
      closed.push(true);
      s.onClose?.('reset');
    },
    pause: () => {},
    resume: () => {},
  };
  return { s, out, closed };
}

/** Serves the pieces on one connection; returns what the server wrote. */
function serveAll(parts: readonly Uint8Array[]): string {
  const t = { now: 0n };
  const srv = new HttpServer(
    (req) => ({ status: 200, headers: [['X-Len', String(req.body.length)]], body: enc(`${req.method} ${req.target}`) }),
    { now: () => t.now, date: () => 'Mon, 30 Nov 2026 12:00:00 GMT', limits: LIMITS },
  );
  const c = fakeStream();
  srv.accept(c.s);
  // What a connection holds after each piece: never more than one message within the limits still arriving, and
  // nothing waiting to be sent (this stream takes every write), unless the server paused reading.
  const bound = LIMITS.requestLine + LIMITS.headerBytes + LIMITS.body + 64;
  const conns = (srv as unknown as { conns: Set<{ parser: HttpParser; outBytes: number; paused: boolean }> }).conns;
  for (const p of parts) {
    c.s.onData?.(p);
    for (const k of conns) {
      assert.ok(k.parser.buffered <= bound + (k.paused ? p.length : 0), `the server holds ${k.parser.buffered} bytes of requests`);
      assert.equal(k.outBytes, 0, 'bytes wait to be sent on a stream that takes every write');
    }
    t.now += 1_000_000n;
    srv.sweep();
  }
  c.s.onEnd?.();
  t.now += 120_000_000_000n;
  srv.sweep();
  assert.equal(srv.size, 0, 'the connection is gone after the client ended and the deadlines passed');
  const all = c.out.join('');
  assert.ok(all === '' || all.startsWith('HTTP/1.'), 'only HTTP responses are written');
  return all;
}

const httpServer: Target = {
  name: 'http-server',
  maxLen: 4000,
  seeds: httpParser.seeds,
  run(b) {
    // Handlers answer synchronously here, so the bytes written cannot depend on how the request arrived.
    assert.equal(serveAll(pieces(b)), serveAll([b.subarray(1)]), 'the same responses however the bytes arrive');
  },
};

const ZONE_TEXTS = ['example.test.zone', 'types.test.zone'].map((f) =>
  readFileSync(new URL(`../../examples/dns-server/zones/${f}`, import.meta.url), 'utf8'),
);

const dnsZone: Target = {
  name: 'dns-zone',
  maxLen: 8000,
  seeds: () => [
    ...ZONE_TEXTS.map(enc),
    enc('$ORIGIN a.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n  NS ns\nns A 192.0.2.1\n* TXT "x;y" ( "z" )\nc CAA 0 issue "ca.example"\n'),
  ],
  run(b) {
    const z = parseZone(utf8(b), 'example.test.');
    for (const e of z.errors) assert.ok(e.line >= 1 && typeof e.message === 'string' && e.message.length > 0);
    // A record the parser accepts is one the server can send.
    for (const rr of z.records) encodeDns({ ...makeQuery(1, rr.name, rr.type), qr: true, answers: [rr] });
    const zone = Zone.parse('example.test.', utf8(b));
    if ('errors' in zone) return;
    const a = new Authority([zone]);
    for (const rr of z.records.slice(0, 8)) {
      a.answer(encodeDns(makeQuery(2, rr.name, rr.type)), { transport: 'udp' });
      a.answer(encodeDns(makeQuery(3, rr.name, TYPE.ANY)), { transport: 'tcp' });
    }
    a.answer(encodeDns(makeQuery(4, 'example.test.', TYPE.AXFR)), { transport: 'tcp', allowAxfr: true });
  },
};

let authority: Authority | undefined;
const dnsServer: Target = {
  name: 'dns-server',
  maxLen: 1500,
  seeds: () => [
    encodeDns(makeQuery(1, 'www.example.test.', TYPE.A, { rd: true })),
    encodeDns(makeQuery(2, 'example.test.', TYPE.AXFR)),
    encodeDns(makeQuery(3, 'x.dname.types.test.', TYPE.A, { udpSize: 1232 })),
  ],
  run(b) {
    if (!authority) {
      const zs = [Zone.parse('example.test.', ZONE_TEXTS[0]!), Zone.parse('types.test.', ZONE_TEXTS[1]!)];
      authority = new Authority(zs.map((z) => (z instanceof Zone ? z : assert.fail(z.errors.join('; ')))));
    }
    for (const transport of ['udp', 'tcp'] as const) {
      for (const r of authority.answer(b, { transport, allowAxfr: true })) {
        if (transport === 'udp') assert.ok(r.length <= 65535 && r.length >= 12, `an answer of ${r.length} bytes`);
      }
    }
  },
};

const dhcpServer: Target = {
  name: 'dhcp-server',
  maxLen: 4000,
  seeds: () => [joinRecords(DHCP_SEEDS), ...DHCP_SEEDS.map((s) => joinRecords([s]))],
  run(b) {
    const first = 0x0a000064,
      last = 0x0a000067;
    const srv = new DhcpServer({ address: 0x0a000001, prefixLen: 24, poolFirst: first, poolLast: last, router: 0x0a000001 });
    let now = 1_000_000;
    for (const rec of records(b)) {
      const m = decodeDhcp(rec);
      now += (rec[0] ?? 0) * 1000;
      if (typeof m === 'string') continue;
      const before = { ...srv.counters };
      const reply = srv.handle(m, now);
      // Every message is answered, or counted as ignored with its reason, or is a DECLINE or RELEASE (no answer due).
      const moved = (k: keyof typeof before): number => srv.counters[k] - before[k];
      const quiet = moved('declines') + moved('releases');
      if (reply) assert.equal(moved('ignored'), 0, 'answered and counted as ignored');
      else assert.ok(moved('ignored') === 1 || (moved('ignored') === 0 && quiet === 1), `no answer and not counted as ignored once`);
      const y = reply?.message.yiaddr ?? 0;
      assert.ok(y === 0 || (y >= first && y <= last), `an address outside the pool: ${y.toString(16)}`);
      assert.ok(srv.leases().length <= last - first + 1, 'no more leases than addresses');
    }
  },
};

const SCHEMA = {
  port: param.int(80, 'port', { min: 1, max: 65535 }),
  name: param.string('x', 'a name'),
  verbose: param.bool(false, 'talk'),
  key: param.file('a key'),
};

const bootArgs: Target = {
  name: 'boot-args',
  maxLen: 1000,
  seeds: () =>
    [
      '--ipv4=10.0.0.2/24\0--ipv4-gateway=10.0.0.1\0--port=8080\0--no-verbose',
      '-l\0debug\0--name\0hello\0--dns=1.1.1.1,8.8.8.8\0--key=/k',
      '--help\0--verbose\0--port\0-1\0--\0x',
    ].map(enc),
  run(b) {
    const argv = utf8(b).split('\0');
    const r = parseBootArgs(argv, SCHEMA);
    if ('error' in r) {
      assert.ok(typeof r.error === 'string' && r.error.length > 0);
      return;
    }
    const port = r.params.port as number;
    assert.ok(Number.isInteger(port) && port >= 1 && port <= 65535, `--port gave ${port}`);
    assert.ok(r.ipv4 === undefined || (r.ipv4.prefixLen >= 0 && r.ipv4.prefixLen <= 32));
    helpText('svc', SCHEMA, true);
  },
};

const manifest: Target = {
  name: 'manifest',
  maxLen: 2000,
  seeds: () => [
    enc('{"type":"fata.manifest","version":1,"devices":[{"name":"service","type":"net"},{"name":"storage","type":"block"}]}'),
    enc('{"name":"svc","main":"main.ts","devices":{"service":{"type":"net"}},"params":{"port":{"kind":"int","default":1}}}'),
  ],
  run(b) {
    let v: unknown;
    try {
      v = JSON.parse(utf8(b));
    } catch {
      return;
    }
    const r = checkManifest(v as Manifest);
    assert.ok(r === 'ok' || typeof r === 'string');
    // service() takes a typed config (the compiler checks its shape); the names in it are what it checks at run time.
    const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
    const names = (x: unknown): string[] => (typeof x === 'object' && x !== null ? Object.keys(x) : []);
    const config = {
      name: typeof o.name === 'string' ? o.name : String(o.name),
      main: 'main.ts',
      devices: Object.fromEntries(names(o.devices).map((d) => [d, { type: 'net' as const }])),
      params: Object.fromEntries(names(o.params).map((p) => [p, param.int(1, 'p')])),
    };
    try {
      service(config);
    } catch (e) {
      // A refused config is an Error whose message names what to change.
      assert.ok(e instanceof Error && !(e instanceof TypeError) && e.message.length > 0, `service() threw ${String(e)}`);
    }
  },
};

const IMAGE_MANIFEST: ImageManifest = {
  type: 'fata.manifest',
  version: 1,
  devices: [{ name: 'service', type: 'net' }],
  name: 'svc',
  target: 'node',
  net: 'direct',
  engine: 'node v24.21.0',
  params: { port: param.int(80, 'port') },
};

/** The image with its first line's hash made right again (a forger can always do that). */
function rehash(b: Uint8Array): Uint8Array {
  const nl = b.indexOf(10);
  if (nl < 0) return b;
  const m = /^FATA1 [0-9a-f]{64} (\d+)$/.exec(latin1(b.subarray(0, nl)));
  if (!m) return b;
  const rest = b.subarray(nl + 1);
  const first = enc(`FATA1 ${createHash('sha256').update(rest).digest('hex')} ${m[1]}\n`);
  return Uint8Array.from([...first, ...rest]);
}

const image: Target = {
  name: 'image',
  maxLen: 4000,
  seeds: () => [
    writeImage(IMAGE_MANIFEST, [
      ['bundle', enc('export function start() {}')],
      ['asset:www:/index.html', enc('<p>hi</p>')],
    ]),
  ],
  run(b) {
    for (const bytes of [b, rehash(b)]) {
      const r = readImage(bytes, 'fuzz.fata');
      if ('error' in r) {
        assert.ok(r.error.startsWith('fuzz.fata '), r.error);
        continue;
      }
      assert.ok(r.sections.has('bundle'));
      assert.equal(checkManifest(r.manifest), 'ok');
    }
  },
};

export const APP_TARGETS: Target[] = [httpParser, httpServer, dnsZone, dnsServer, dhcpServer, bootArgs, manifest, image];
