/**
 * The website's content from a git remote (`--remote=URL[#branch]`): a
 * shallow clone of one branch over smart HTTP or HTTPS by isomorphic-git,
 * its objects kept in memory (the engine has no files), read out into a
 * path → bytes map with gzip and brotli variants made at load, as
 * `fata build` makes them for htdocs/. Each fetch builds a whole new site
 * or fails; the caller swaps it in with one assignment.
 */
import { clone, readBlob, readCommit, readTree, resolveRef, type GitHttpRequest, type GitHttpResponse } from 'isomorphic-git';
import {
  type ClientResponse,
  HttpClient,
  header,
  type HttpHandler,
  type HttpRequest,
  type HttpResponse,
  type StaticFiles,
} from 'fata/http';
import { tlsClientStream } from 'fata/tls';
import type { Logger, NetStack, TcpStream } from 'fata';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { brotliCompress, constants as zlib, gzip } from 'node:zlib';
import { promisify } from 'node:util';

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);
/** The text `fata build` precompresses (src/build/build.ts), for the same variants from git. */
const COMPRESSIBLE = /\.(html?|css|m?js|json|svg|txt|xml|md|map|webmanifest|csv|ico|wasm)$/i;

/** One commit's files, ready to serve. */
export interface GitSite extends StaticFiles {
  readonly commit: string;
  readonly files: number;
  readonly bytes: number;
  /** The commit's committer date: Last-Modified of every file. */
  readonly modifiedMs: number;
}

/** `URL#branch` → the two; no `#` means the remote's default branch. */
export function parseRemote(remote: string): { url: string; branch: string | undefined } {
  const hash = remote.indexOf('#');
  const url = hash < 0 ? remote : remote.slice(0, hash);
  const branch = hash < 0 ? undefined : remote.slice(hash + 1) || undefined;
  if (!/^https?:\/\/[^/]+/i.test(url))
    throw new Error(`--remote=${remote}: give an http:// or https:// git URL, with #branch if not the default`);
  return { url, branch };
}

const fsError = (code: string, path: string): Error => Object.assign(new Error(`${code}: ${path}`), { code });

type MemNode = { readonly kind: 'dir'; readonly children: Set<string> } | { readonly kind: 'file'; data: Uint8Array };

/** The promise file system isomorphic-git needs, in memory: one per fetch, dropped with it. */
export class MemoryFs {
  private readonly nodes = new Map<string, MemNode>([['/', { kind: 'dir', children: new Set() }]]);
  /** Bytes held by files now. */
  size = 0;

  private static norm(p: string): string {
    const parts = p.split('/').filter((s) => s && s !== '.');
    return `/${parts.join('/')}`;
  }
  private static split(p: string): [string, string] {
    const i = p.lastIndexOf('/');
    return [i <= 0 ? '/' : p.slice(0, i), p.slice(i + 1)];
  }
  private dir(p: string): Set<string> {
    const n = this.nodes.get(p);
    if (!n) throw fsError('ENOENT', p);
    if (n.kind !== 'dir') throw fsError('ENOTDIR', p);
    return n.children;
  }

  async readFile(path: string, opts?: string | { encoding?: string }): Promise<Uint8Array | string> {
    const p = MemoryFs.norm(path);
    const n = this.nodes.get(p);
    if (!n) throw fsError('ENOENT', p);
    if (n.kind !== 'file') throw fsError('EISDIR', p);
    const encoding = typeof opts === 'string' ? opts : opts?.encoding;
    return encoding ? new TextDecoder().decode(n.data) : Buffer.from(n.data.buffer, n.data.byteOffset, n.data.byteLength);
  }
  async writeFile(path: string, data: Uint8Array | string): Promise<void> {
    const p = MemoryFs.norm(path);
    const [parent, name] = MemoryFs.split(p);
    const children = this.dir(parent);
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    const old = this.nodes.get(p);
    if (old?.kind === 'dir') throw fsError('EISDIR', p);
    this.size += bytes.length - (old?.kind === 'file' ? old.data.length : 0);
    this.nodes.set(p, { kind: 'file', data: bytes });
    children.add(name);
  }
  async unlink(path: string): Promise<void> {
    const p = MemoryFs.norm(path);
    const n = this.nodes.get(p);
    if (!n) throw fsError('ENOENT', p);
    if (n.kind !== 'file') throw fsError('EISDIR', p);
    this.size -= n.data.length;
    this.nodes.delete(p);
    const [parent, name] = MemoryFs.split(p);
    this.dir(parent).delete(name);
  }
  async mkdir(path: string): Promise<void> {
    const p = MemoryFs.norm(path);
    if (this.nodes.has(p)) throw fsError('EEXIST', p);
    const [parent, name] = MemoryFs.split(p);
    this.dir(parent).add(name);
    this.nodes.set(p, { kind: 'dir', children: new Set() });
  }
  async rmdir(path: string): Promise<void> {
    const p = MemoryFs.norm(path);
    if (this.dir(p).size) throw fsError('ENOTEMPTY', p);
    if (p === '/') throw fsError('EBUSY', p);
    this.nodes.delete(p);
    const [parent, name] = MemoryFs.split(p);
    this.dir(parent).delete(name);
  }
  async readdir(path: string): Promise<string[]> {
    return [...this.dir(MemoryFs.norm(path))].sort();
  }
  async stat(path: string): Promise<object> {
    const p = MemoryFs.norm(path);
    const n = this.nodes.get(p);
    if (!n) throw fsError('ENOENT', p);
    const file = n.kind === 'file';
    const t = 0;
    return {
      type: file ? 'file' : 'dir',
      mode: file ? 0o100644 : 0o40755,
      size: file ? n.data.length : 0,
      ino: 0,
      dev: 0,
      uid: 0,
      gid: 0,
      mtimeMs: t,
      ctimeMs: t,
      mtimeSeconds: 0,
      mtimeNanoseconds: 0,
      ctimeSeconds: 0,
      ctimeNanoseconds: 0,
      isFile: () => file,
      isDirectory: () => !file,
      isSymbolicLink: () => false,
    };
  }
  lstat(path: string): Promise<object> {
    return this.stat(path);
  }
  async readlink(path: string): Promise<string> {
    throw fsError('EINVAL', path);
  }
  async symlink(_target: string, path: string): Promise<void> {
    throw fsError('EPERM', path);
  }
}

async function collect(body: AsyncIterableIterator<Uint8Array> | undefined): Promise<Uint8Array | undefined> {
  if (!body) return undefined;
  const parts: Uint8Array[] = [];
  for await (const p of body) parts.push(p);
  return Buffer.concat(parts);
}

async function* once(b: Uint8Array): AsyncIterableIterator<Uint8Array> {
  yield b;
}

/**
 * One HTTP/1.1 request over the service's own network: a TCP connection (and node:tls over it for https, the server's
 * certificate checked against `ca` (PEM) when given, else Node's CA store), `Connection: close`, the response body
 * refused beyond `maxBody` bytes.
 */
export async function httpRequest(
  net: NetStack,
  url: string,
  req: { method?: string; headers?: readonly (readonly [string, string])[]; body?: Uint8Array },
  opts: { ca?: string; maxBody?: number } = {},
): Promise<ClientResponse> {
  const u = new URL(url);
  const https = u.protocol === 'https:';
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const isIp = /^\d+\.\d+\.\d+\.\d+$/.test(host);
  const addr = isIp ? host : (await net.lookup(host, { family: 4 }))[0];
  if (!addr) throw new Error(`${host}: no IPv4 address`);
  const tcp = await net.tcpConnect(addr, Number(u.port || (https ? 443 : 80)));
  let tlsError: Error | undefined;
  const stream: TcpStream = https
    ? tlsClientStream(tcp, host, {
        ...(opts.ca ? { ca: opts.ca } : {}),
        onError: (e) => {
          tlsError = e;
        },
      })
    : tcp;
  const client = new HttpClient(stream, { body: opts.maxBody ?? 16 << 20 });
  const headers = (req.headers ?? []).filter(([k]) => !/^(host|connection|content-length)$/i.test(k));
  try {
    return await client.request({
      method: req.method ?? 'GET',
      path: `${u.pathname}${u.search}`,
      host: u.host,
      headers: [...headers, ['Connection', 'close']],
      ...(req.body ? { body: req.body } : {}),
    });
  } catch (e) {
    throw tlsError ?? e;
  } finally {
    client.close();
  }
}

/** isomorphic-git's HTTP client: `httpRequest` per request. */
export function gitHttp(net: NetStack, maxBody: number, ca?: string): { request: (r: GitHttpRequest) => Promise<GitHttpResponse> } {
  return {
    async request(r) {
      const method = r.method ?? 'GET';
      const body = await collect(r.body);
      const res = await httpRequest(
        net,
        r.url,
        { method, headers: Object.entries(r.headers ?? {}), ...(body ? { body } : {}) },
        {
          maxBody,
          ...(ca ? { ca } : {}),
        },
      );
      return {
        url: r.url,
        method,
        statusCode: res.status,
        statusMessage: res.reason,
        headers: Object.fromEntries(res.headers),
        body: once(res.body),
      };
    },
  };
}

/** A fetch refused or failed; `message` says why, for the log and the hook's answer. */
export class FetchError extends Error {}

async function variantsOf(path: string, b: Uint8Array, into: Map<string, Uint8Array>): Promise<number> {
  if (!COMPRESSIBLE.test(path) || b.length < 256) return 0;
  let n = 0;
  const gz = await gzipAsync(b, { level: 9 });
  if (gz.length < b.length * 0.9) {
    into.set(`gzip:${path}`, gz);
    n += gz.length;
  }
  const br = await brotliAsync(b, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: b.length } });
  if (br.length < b.length * 0.9) {
    into.set(`br:${path}`, br);
    n += br.length;
  }
  return n;
}

/**
 * Clones `branch` of `url` (depth 1) into a fresh in-memory repository and reads its tree: a whole site, or a
 * FetchError (unreachable, refused, not a git remote, no such branch, over `maxBytes` of files).
 */
export async function fetchSite(net: NetStack, url: string, branch: string | undefined, maxBytes: number, ca?: string): Promise<GitSite> {
  const fs = new MemoryFs();
  const dir = '/repo';
  // The pack of a depth-1 clone is about the files' size compressed; a pack much larger than the limit cannot fit it.
  const http = gitHttp(net, maxBytes * 2 + (1 << 20), ca);
  try {
    await clone({ fs, http, dir, url, ...(branch ? { ref: branch } : {}), singleBranch: true, depth: 1, noCheckout: true, noTags: true });
  } catch (e) {
    throw new FetchError(`cannot fetch ${url}${branch ? `#${branch}` : ''}: ${(e as Error).message}`);
  }
  try {
    return await readSite(fs, dir, maxBytes, `${url}${branch ? `#${branch}` : ''}`);
  } catch (e) {
    throw e instanceof FetchError ? e : new FetchError(`cannot read what ${url} sent: ${(e as Error).message}`);
  }
}

async function readSite(fs: MemoryFs, dir: string, maxBytes: number, where: string): Promise<GitSite> {
  const oid = await resolveRef({ fs, dir, ref: 'HEAD' });
  const { commit } = await readCommit({ fs, dir, oid });
  const files = new Map<string, Uint8Array>();
  let bytes = 0;
  const walk = async (tree: string, prefix: string): Promise<void> => {
    const { tree: entries } = await readTree({ fs, dir, oid: tree });
    for (const e of entries) {
      if (e.type === 'tree') await walk(e.oid, `${prefix}/${e.path}`);
      else if (e.type === 'blob' && e.mode !== '120000') {
        const { blob } = await readBlob({ fs, dir, oid: e.oid });
        bytes += blob.length;
        if (bytes > maxBytes) {
          throw new FetchError(`${where} at ${oid.slice(0, 12)} holds more than --max-content (${maxBytes >> 20} MB) of files: refused`);
        }
        files.set(`${prefix}/${e.path}`, blob);
      }
    }
  };
  await walk(commit.tree, '');
  const variants = new Map<string, Uint8Array>();
  for (const [path, b] of files) await variantsOf(path, b, variants);
  return {
    commit: oid,
    files: files.size,
    bytes,
    modifiedMs: commit.committer.timestamp * 1000,
    get: (p) => files.get(p),
    variant: (p, enc) => variants.get(`${enc}:${p}`),
  };
}

/** Where the pull hook listens, on HTTP and HTTPS alike. */
export const PULL_PATH = '/.well-known/fata/pull';

const plainText = (status: number, msg: string, headers: [string, string][] = []): HttpResponse => ({
  status,
  headers: [['Content-Type', 'text/plain; charset=utf-8'], ...headers],
  body: new TextEncoder().encode(`${msg}\n`),
});
const digest = (s: string | Uint8Array): Buffer => createHash('sha256').update(s).digest();

/** The secret as a Bearer token, or the body signed with it as git forges sign webhooks (X-Hub-Signature-256). */
function authorized(req: HttpRequest, secret: string): boolean {
  const auth = header(req, 'authorization');
  const bearer = auth?.match(/^Bearer\s+(\S+)$/i)?.[1];
  // Compared as SHA-256 digests: equal lengths for timingSafeEqual, and no early exit on a prefix.
  if (bearer !== undefined) return timingSafeEqual(digest(bearer), digest(secret));
  const sig = header(req, 'x-hub-signature-256')?.match(/^sha256=([0-9a-f]{64})$/i)?.[1];
  if (sig === undefined) return false;
  const want = createHmac('sha256', secret).update(req.body).digest('hex');
  return timingSafeEqual(digest(sig.toLowerCase()), digest(want));
}

/**
 * POST PULL_PATH: fetches the branch again through `pull` (which swaps the site in when it resolves) and answers when
 * done: 200 with the commit served, 502 with why the fetch failed (the old site stays), 401 without the secret, 403
 * when no secret was configured. Pulls run one after another, each after every push that came before its request.
 */
export function pullHook(secret: string, pull: () => Promise<GitSite>, current: () => GitSite, log: Logger): HttpHandler {
  let chain: Promise<unknown> = Promise.resolve();
  return async (req) => {
    if (req.method !== 'POST') return plainText(405, 'POST only', [['Allow', 'POST']]);
    if (!secret) return plainText(403, 'the pull hook is off: start the website with --hook-secret=FILE');
    if (!authorized(req, secret)) return plainText(401, 'wrong or missing secret', [['WWW-Authenticate', 'Bearer']]);
    const before = current().commit;
    const run = chain.then(pull);
    chain = run.catch(() => undefined);
    try {
      const site = await run;
      return plainText(200, `${site.commit === before ? 'unchanged at' : 'updated to'} ${site.commit}`);
    } catch (e) {
      const reason = (e as Error).message;
      log.warn('pull-failed', { reason, serving: current().commit });
      return plainText(502, `pull failed, still serving ${current().commit}: ${reason}`);
    }
  };
}
