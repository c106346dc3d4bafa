/**
 * The static website unikernel: htdocs/ built into the image, served over
 * HTTP/1.1 and HTTPS (node:tls over Fata's TCP) by src/http's lean server,
 * with an access log line per request on the console.
 */
import type { BlockDevice, Context, DevicesOf, Main, NetStack, ParamsOf } from 'fata';
import {
  HttpServer,
  httpDate,
  safePath,
  staticSite,
  type HttpHandler,
  type HttpResponse,
  type HttpServerOptions,
  type StaticFiles,
} from 'fata/http';
import { tlsCertificate, tlsServerStream, type TlsCertificate } from 'fata/tls';
import { TcpDuplex } from 'fata/duplex';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type config from './config.ts';
// ACME (pkijs, asn1js: half the image) and --remote (isomorphic-git) are imported when their flags ask for them: the
// bundle keeps them, but evaluating them was most of every boot's evaluation (docs/profiling.md, Create latency).
import type { AcmeClient, AcmeStore } from './acme.ts';
import { type RenewalStats, type WebsiteMetrics, withMetrics } from './metrics.ts';
import type { GitSite } from './git.ts';

const DAY_MS = 86_400_000;

/** The same handler behind node:http, over the Duplex adapter: what bench/http.ts compares the lean server with. */
function nodeHttpServer(handler: HttpHandler): Server {
  // Asked for here, not imported: node:http's modules cost every boot about 1-3 ms of CPU, and only --http-server=node uses it.
  const { createServer } = process.getBuiltinModule('node:http');
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const headers: [string, string][] = [];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i]!.toLowerCase(), req.rawHeaders[i + 1]!]);
    const answer = handler(
      {
        method: req.method ?? 'GET',
        target: req.url ?? '/',
        version: req.httpVersion === '1.0' ? '1.0' : '1.1',
        headers,
        body: new Uint8Array(0),
        keepAlive: true,
      },
      { remote: req.socket.remoteAddress ?? '', remotePort: req.socket.remotePort ?? 0 },
    );
    const send = (r: HttpResponse): void => {
      res.writeHead(r.status, Object.fromEntries(r.headers ?? []));
      res.end(req.method === 'HEAD' ? undefined : r.body);
    };
    if ('then' in answer) answer.then(send, () => send({ status: 500 }));
    else send(answer);
  });
}

/**
 * The content: htdocs/ from the image, or a git branch (--remote) that the pull hook fetches again and swaps in whole;
 * a request already answered keeps the bytes of the site it was answered from. The handlers for HTTP and HTTPS.
 */
async function content(
  devices: DevicesOf<typeof config>,
  params: ParamsOf<typeof config>,
  ctx: Context,
  hsts: [string, string][],
): Promise<{ plain: HttpHandler; secure: HttpHandler; files: () => number }> {
  const { htdocs, service: net } = devices;
  const siteOf = (files: StaticFiles, modifiedMs: number): { plain: HttpHandler; secure: HttpHandler } => {
    const p = staticSite(files, { modifiedMs });
    return { plain: p, secure: hsts.length ? staticSite(files, { modifiedMs, headers: hsts }) : p };
  };
  let site = siteOf(htdocs, htdocs.modifiedMs);
  let hook: HttpHandler | undefined;
  let git: GitSite | undefined;
  let pullPath = '';
  if (params.remote) {
    const [{ parseRemote, remoteHead }, { fetchSite, PULL_PATH, pullHook }] = await Promise.all([import('fata/git'), import('./git.ts')]);
    pullPath = PULL_PATH;
    const { url, branch } = parseRemote(params.remote);
    const maxBytes = params['max-content'] * 1024 * 1024;
    const ca = params['remote-ca'] || undefined;
    const load = async (): Promise<GitSite> => {
      // A pull when the branch has not moved costs one ref advertisement and no objects. When the remote cannot be
      // asked, the fetch below fails too and says why.
      const head = git && (await remoteHead(net, url, branch, ca).catch(() => undefined));
      if (git && head === git.commit) {
        ctx.log.info('content-unchanged', { commit: git.commit, remote: params.remote });
        return git;
      }
      const s = await fetchSite(net, url, branch, maxBytes, ca, git);
      git = s;
      site = siteOf(s, s.modifiedMs);
      ctx.log.info('content', { commit: s.commit, files: s.files, bytes: s.bytes, remote: params.remote });
      return s;
    };
    await load();
    hook = pullHook(params['hook-secret'].trim(), load, () => git!, ctx.log);
  }
  const route =
    (which: 'plain' | 'secure'): HttpHandler =>
    (req, from) =>
      hook && safePath(req.target) === pullPath ? hook(req, from) : site[which](req, from);
  const plain = route('plain');
  const secure = route('secure');
  return { plain, secure, files: () => (git ? git.files : htdocs.list().length) };
}

/**
 * An ACME client when --acme-directory is given (its answers need the HTTP port), with the account key and
 * certificate kept on `storeDev` when one is attached (`--block:store=FILE`).
 */
async function acmeClient(
  params: ParamsOf<typeof config>,
  ctx: Context,
  net: NetStack,
  storeDev: BlockDevice | undefined,
): Promise<Acme | undefined> {
  if (!params['acme-directory']) return undefined;
  const acme = await import('./acme.ts');
  const { AcmeClient, AcmeStore } = acme;
  const domains = params.domain
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean);
  if (!domains.length || !params['acme-email']) throw new Error('--acme-directory needs --domain=NAME[,NAME] and --acme-email=ADDRESS');
  if (params['http-port'] === 0) throw new Error('--acme-directory answers HTTP-01 challenges on the HTTP port: do not set --http-port=0');
  const store = storeDev ? new AcmeStore(storeDev, params['acme-directory'], domains, ctx.log) : undefined;
  const accountKeyPem = store?.accountKeyPem;
  const client = new AcmeClient({
    net,
    directory: params['acme-directory'],
    email: params['acme-email'],
    domains,
    ...(params['acme-ca'] ? { ca: params['acme-ca'] } : {}),
    ...(accountKeyPem ? { accountKeyPem } : {}),
    sleep: (ms) => ctx.sleep(ms),
  });
  return { client, store, module: acme };
}

/** The ACME client and store, and the module they come from (loaded only with --acme-directory: it is most of the image). */
interface Acme {
  readonly client: AcmeClient;
  readonly store: AcmeStore | undefined;
  readonly module: typeof import('./acme.ts');
}

/**
 * The HTTPS certificate, read at each new connection: from ACME (issued now, renewed in the background), else the
 * files named on the command line (param.file: their contents, read by the tender), else the image's own.
 */
async function certificates(
  devices: DevicesOf<typeof config>,
  params: ParamsOf<typeof config>,
  ctx: Context,
  acme: Acme | undefined,
  stats: RenewalStats | undefined,
): Promise<() => TlsCertificate> {
  const nowMs = (): number => Number(ctx.clock.wallNs() / 1_000_000n);
  if (acme)
    return acme.module.acmeCertificates(
      acme.client,
      { log: ctx.log, sleep: (ms) => ctx.sleep(ms), nowMs, ...(stats ? { stats } : {}) },
      acme.store,
    );
  const certPem = params['tls-cert'] || new TextDecoder().decode(devices.tls.get('/cert.pem'));
  const keyPem = params['tls-key'] || new TextDecoder().decode(devices.tls.get('/key.pem'));
  const cert = tlsCertificate(certPem, keyPem);
  const daysLeft = Math.floor((cert.validToMs - nowMs()) / DAY_MS);
  if (daysLeft < 30)
    ctx.log.warn('certificate-expiring', {
      subject: cert.subject,
      days_left: daysLeft,
      hint: 'renew it and rebuild, or pass --tls-cert/--tls-key',
    });
  return () => cert;
}

export const main: Main<typeof config> = (devices, params, ctx) => serve(devices, params, ctx, devices.store);

/** The website; `store`, when attached, is where the ACME account key and certificate outlive a restart. */
export async function serve(
  devices: DevicesOf<typeof config>,
  params: ParamsOf<typeof config>,
  ctx: Context,
  store: BlockDevice | undefined,
): Promise<void> {
  const { service: net } = devices;
  const httpPort = params['http-port'],
    httpsPort = params['https-port'];
  if (!httpPort && !httpsPort) throw new Error('both --http-port and --https-port are 0: nothing to serve');
  const hsts: [string, string][] = params.hsts > 0 ? [['Strict-Transport-Security', `max-age=${params.hsts}`]] : [];
  const site = await content(devices, params, ctx, hsts);
  const { files } = site;
  const acme = await acmeClient(params, ctx, net, store);
  // --metrics: the certificate's expiry once there is one, the renewal counts with ACME, responses by status.
  let cert: (() => TlsCertificate) | undefined;
  const metrics: WebsiteMetrics | undefined = params.metrics
    ? {
        certificate: () => (cert ? { validToMs: cert().validToMs, source: acme ? 'acme' : 'files' } : undefined),
        ...(acme ? { renewals: { renewals: 0, failures: 0, failing: 0 } } : {}),
        responses: new Map(),
      }
    : undefined;
  const plain = metrics ? withMetrics(metrics, site.plain) : site.plain;
  const secure = metrics ? withMetrics(metrics, site.secure) : site.secure;

  let dateS = -1n,
    dateText = '';
  const opts: HttpServerOptions = {
    now: () => ctx.clock.monotonicNs(),
    date: () => {
      const s = ctx.clock.wallNs() / 1_000_000_000n;
      if (s !== dateS) {
        dateS = s;
        dateText = httpDate(Number(s) * 1000);
      }
      return dateText;
    },
    server: 'fata',
    headerTimeoutMs: params['header-timeout'] * 1000,
    idleTimeoutMs: params['idle-timeout'] * 1000,
    onAccess:
      params['access-log'] || metrics
        ? (e) => {
            if (metrics) metrics.responses.set(e.status, (metrics.responses.get(e.status) ?? 0) + 1);
            if (params['access-log'])
              ctx.log.info('access', {
                remote: e.remote,
                method: e.method,
                target: e.target,
                status: e.status,
                bytes: e.bytes,
                ua: e.userAgent,
              });
          }
        : undefined,
    onError: (e) => ctx.log.error('handler-failed', { error: (e as Error).message }),
  };

  const servers: HttpServer[] = [];
  if (httpPort) {
    const toHttps: HttpHandler = (req) => {
      const host = (req.headers.find(([k]) => k === 'host')?.[1] ?? net.ipv4?.split('/')[0] ?? 'localhost').replace(/:\d+$/, '');
      const location = `https://${host}${httpsPort === 443 ? '' : `:${httpsPort}`}${req.target.startsWith('/') ? req.target : '/'}`;
      return {
        status: 301,
        headers: [
          ['Location', location],
          ['Content-Type', 'text/plain; charset=utf-8'],
        ],
        body: new TextEncoder().encode(`moved to ${location}\n`),
      };
    };
    const base = params['redirect-https'] && httpsPort ? toHttps : plain;
    const handler = acme ? acme.module.withChallenges(acme.client, base) : base;
    if (params['http-server'] === 'node') {
      const nodeServer = nodeHttpServer(handler);
      await net.tcpListen(httpPort, (s) => nodeServer.emit('connection', new TcpDuplex(s)));
    } else {
      const http = new HttpServer(handler, opts);
      servers.push(http);
      await net.tcpListen(httpPort, (s) => http.accept(s));
    }
  }
  if (httpsPort) {
    const current = await certificates(devices, params, ctx, acme, metrics?.renewals);
    cert = current;
    const https = new HttpServer(secure, opts);
    servers.push(https);
    // current() at each connection: a renewed certificate reaches new handshakes; established connections keep theirs.
    await net.tcpListen(httpsPort, (s) =>
      https.accept(tlsServerStream(s, current(), (e) => ctx.log.debug('tls-failed', { remote: s.remote, error: e.message }))),
    );
  }
  const where = net.ipv4?.split('/')[0] ?? '127.0.0.1';
  ctx.log.info('serving', {
    files: files(),
    http: httpPort ? `http://${where}:${httpPort}/` : 'off',
    https: httpsPort ? `https://${where}:${httpsPort}/` : 'off',
  });
  for (;;) {
    await ctx.sleep(1000);
    for (const s of servers) s.sweep();
  }
}
