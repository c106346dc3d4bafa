/**
 * The web console (`fata daemon --http=127.0.0.1:PORT`): the page of ./web-page.ts and a small JSON API over the
 * daemon's own requests (Daemon.call), so that the page can do nothing the protocol cannot. Every /api request
 * needs the token kept in STATE/http-token (made once, mode 0600, printed at start) as `Authorization: Bearer`
 * (or `?token=` for the console's event stream, which a browser cannot give a header), and a Host header that
 * names the address listened on (a DNS-rebinding page cannot reach it by another name).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { FataError } from '../host/errors.ts';
import type { CreateSpec } from './protocol.ts';
import type { ConsoleLine } from './ring.ts';
import type { Cancel, Daemon } from './server.ts';
import { writeAtomic } from './state.ts';
import type { UnikernelStats } from './stats.ts';
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from './web-page.ts';

const MAX_BODY = 64 << 10;

/** The console's token: the one in the state dir, or a new one kept there. */
export function loadToken(stateDir: string): string {
  const path = join(stateDir, 'http-token');
  if (existsSync(path)) {
    const t = readFileSync(path, 'utf8').trim();
    if (/^[0-9a-f]{64}$/.test(t)) return t;
  }
  const t = randomBytes(32).toString('hex');
  writeAtomic(path, `${t}\n`, 0o600);
  return t;
}

/** `127.0.0.1:8090`, `[::1]:8090` → host and port. */
export function parseListen(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([0-9.]+|localhost)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) return undefined;
  return { host: m[1] ?? m[2]!, port };
}

function sameToken(given: string | null | undefined, token: string): boolean {
  const a = Buffer.from(given ?? ''),
    b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? JSON.stringify(body) : String(body);
  res.writeHead(status, {
    'content-type': `${type}; charset=utf-8`,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'self'; frame-ancestors 'none'",
  });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      try {
        resolve(chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {});
      } catch {
        reject(new FataError('FATA_PROTOCOL', 'the request body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

/**
 * The table's rows: list rows with CPU time and packets summed over taps, and block reads and writes summed over
 * block devices (the kernel's counts, as `fata stats` shows them; absent without block devices or counters).
 */
async function overview(d: Daemon): Promise<unknown[]> {
  const rows = (await d.call({ op: 'list' }, () => {}, [])) as { name: string }[];
  return Promise.all(
    rows.map(async (r) => {
      const s = (await d.call({ op: 'stats', name: r.name }, () => {}, [])) as UnikernelStats;
      const sum = (k: 'receivedPackets' | 'sentPackets'): number => s.nets.reduce((n, t) => n + (t[k] ?? 0), 0);
      const cpuMs = s.engine ? s.engine.cpuUserMs + s.engine.cpuSystemMs : undefined;
      const counted = s.blocks.length > 0 && s.blocks.every((b) => b.reads !== undefined);
      const blockSum = (k: 'reads' | 'writes'): number | undefined => (counted ? s.blocks.reduce((n, b) => n + (b[k] ?? 0), 0) : undefined);
      return {
        ...r,
        cpuMs,
        packetsIn: sum('receivedPackets'),
        packetsOut: sum('sentPackets'),
        blockReads: blockSum('reads'),
        blockWrites: blockSum('writes'),
        ...(s.blocksUnavailable ? { blocksUnavailable: s.blocksUnavailable } : {}),
      };
    }),
  );
}

/** The console as server-sent events: the kept lines, then each new one, then `gone` when it is destroyed. */
async function consoleEvents(d: Daemon, name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const cancels: Cancel[] = [];
  const event = (kind: string, data: unknown): void => {
    res.write(`event: ${kind}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const first = (await d.call(
    { op: 'console', name, lines: 500, follow: true },
    (e) => {
      if (e && typeof e === 'object' && 'gone' in e) {
        event('gone', {});
        res.end();
      } else event('line', e);
    },
    cancels,
  )) as { lines: ConsoleLine[] };
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  for (const l of first.lines) event('line', l);
  req.on('close', () => {
    for (const c of cancels) c();
  });
}

async function api(d: Daemon, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const [, , what, name = ''] = url.pathname.split('/').map(decodeURIComponent);
  if (req.method === 'GET' && what === 'overview') return send(res, 200, await overview(d));
  if (req.method === 'GET' && what === 'console') return consoleEvents(d, name, req, res);
  if (req.method === 'GET' && what === 'info') return send(res, 200, await d.call({ op: 'info', name }, () => {}, []));
  if (req.method !== 'POST') return send(res, 404, { code: 'FATA_NOT_FOUND', message: `no ${req.method} ${url.pathname}` });
  if (what === 'create') return send(res, 200, await d.call({ op: 'create', spec: (await readBody(req)) as CreateSpec }, () => {}, []));
  if (what === 'restart' || what === 'destroy') return send(res, 200, await d.call({ op: what, name }, () => {}, []));
  return send(res, 404, { code: 'FATA_NOT_FOUND', message: `no POST ${url.pathname}` });
}

function route(d: Daemon, token: string, authority: string, req: IncomingMessage, res: ServerResponse): Promise<void> | void {
  const url = new URL(req.url ?? '/', `http://${authority}`);
  if (req.headers.host !== authority)
    return send(res, 421, { code: 'FATA_HOST', message: `use the address the daemon listens on: http://${authority}/` });
  if (req.method === 'GET' && url.pathname === '/') return send(res, 200, PAGE_HTML, 'text/html');
  if (req.method === 'GET' && url.pathname === '/console.js') return send(res, 200, PAGE_JS, 'text/javascript');
  if (req.method === 'GET' && url.pathname === '/console.css') return send(res, 200, PAGE_CSS, 'text/css');
  if (!url.pathname.startsWith('/api/')) return send(res, 404, { code: 'FATA_NOT_FOUND', message: url.pathname });
  const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
  const given = bearer ?? (url.pathname.startsWith('/api/console/') ? url.searchParams.get('token') : undefined);
  if (!sameToken(given, token))
    return send(res, 401, { code: 'FATA_TOKEN', message: 'open the address with the token the daemon printed at start (…/#token=…)' });
  return api(d, req, res, url);
}

/** Serves the console on `host:port`; resolves once it listens. */
export async function startWeb(d: Daemon, listen: { host: string; port: number }, token: string): Promise<Server> {
  const authority = listen.host.includes(':') ? `[${listen.host}]:${listen.port}` : `${listen.host}:${listen.port}`;
  const server = createServer((req, res) => {
    Promise.resolve(route(d, token, authority, req, res)).catch((e: unknown) => {
      if (res.headersSent) return res.end();
      if (e instanceof FataError) return send(res, 400, { code: e.code, message: e.message });
      send(res, 500, { code: 'FATA_INTERNAL', message: String((e as Error)?.message ?? e) });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new FataError('FATA_HTTP', `cannot listen on ${authority} (${e.code ?? e.message}); choose another --http=HOST:PORT`)),
    );
    server.listen(listen.port, listen.host, () => resolve());
  });
  return server;
}
