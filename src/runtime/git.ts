/**
 * Git for services: a branch of a remote repository fetched over smart HTTP
 * or HTTPS by isomorphic-git, through the service's own network (Fata's TCP,
 * node:tls over it), its objects kept in memory (the engine has no files).
 * `fetchTree` makes a depth-1 clone and reads the commit's files into a
 * path → bytes map (or, given the tree it read before, fetches only the
 * objects that are new since); `remoteHead` asks only which commit a branch is at. The
 * website (`--remote`) and the DNS primary (`--zones-remote`) use it.
 * `httpRequest` is the one-request HTTP(S) client under it.
 * @module fata/git
 */
import {
  clone,
  currentBranch,
  fetch as gitFetch,
  listServerRefs,
  readBlob,
  readCommit,
  readTree,
  resolveRef,
  writeRef,
  type GitHttpRequest,
  type GitHttpResponse,
} from 'isomorphic-git';
import { type ClientResponse, HttpClient } from '../http/index.ts';
import { tlsClientStream } from './tls.ts';
import type { NetStack, TcpStream } from './types.ts';

/** `URL#branch` → the two; no `#` means the remote's default branch. `flag` names the parameter in the error. */
export function parseRemote(remote: string, flag = '--remote'): { url: string; branch: string | undefined } {
  const hash = remote.indexOf('#');
  const url = hash < 0 ? remote : remote.slice(0, hash);
  const branch = hash < 0 ? undefined : remote.slice(hash + 1) || undefined;
  if (!/^https?:\/\/[^/]+/i.test(url))
    throw new Error(`${flag}=${remote}: give an http:// or https:// git URL, with #branch if not the default`);
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
      const sent = await collect(r.body);
      const body = sent && method === 'POST' && r.url.endsWith('/git-upload-pack') ? withThinPack(sent) : sent;
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

/**
 * An upload-pack request with `thin-pack` among the capabilities of its first `want` line (its pkt-line length
 * rewritten), and any other body as it is. isomorphic-git does not ask for thin packs, and git's upload-pack then
 * answers a depth-1 fetch into a shallow repository with every object of the new commit, the unchanged ones too
 * (3 MB for a one-line change, measured against git 2.39's http-backend; 862 bytes with the capability).
 * isomorphic-git resolves a thin pack's deltas against the objects it has (`getExternalRefDelta` in its fetch).
 */
export function withThinPack(body: Uint8Array): Uint8Array {
  if (body.length < 4) return body;
  const len = Number.parseInt(new TextDecoder().decode(body.subarray(0, 4)), 16);
  if (!Number.isInteger(len) || len < 9 || len > body.length) return body;
  const line = String.fromCharCode(...body.subarray(4, len));
  if (!line.startsWith('want ') || / thin-pack( |\n|$)/.test(line)) return body;
  const nl = line.endsWith('\n') ? '\n' : '';
  const next = `${nl ? line.slice(0, -1) : line} thin-pack${nl}`;
  const head = new TextEncoder().encode((next.length + 4).toString(16).padStart(4, '0'));
  const out = new Uint8Array(4 + next.length + body.length - len);
  out.set(head, 0);
  for (let i = 0; i < next.length; i++) out[4 + i] = next.charCodeAt(i);
  out.set(body.subarray(len), 4 + next.length);
  return out;
}

/** A fetch refused or failed; `message` says why, for the log and the hook's answer. */
export class FetchError extends Error {}

/** One commit's files. */
export interface GitTree {
  /** The commit's id (40 hex digits). */
  readonly commit: string;
  /** The commit's committer date, in ms since the epoch. */
  readonly committedMs: number;
  /** Path (starting with `/`) → bytes; blobs only (symbolic links and submodules left out). */
  readonly files: ReadonlyMap<string, Uint8Array>;
  readonly bytes: number;
  /** The in-memory repository it was read from, which the next `fetchTree` may fetch into (with `keep`). */
  readonly repo?: { readonly fs: MemoryFs; readonly dir: string };
}

const where = (url: string, branch: string | undefined): string => `${url}${branch ? `#${branch}` : ''}`;

export interface FetchOptions {
  /** Bytes of files the commit may hold; beyond it the fetch is a FetchError. */
  readonly maxBytes: number;
  /** PEM CA certificates an https remote's certificate must chain to (default: Node's CA store). */
  readonly ca?: string | undefined;
  /** The parameter that sets `maxBytes`, named in the error (default: 'the limit'). */
  readonly limitName?: string;
  /**
   * Keep the repository with the tree (`repo`), so that a later fetchTree given this tree as `previous` asks only for
   * the objects it lacks: the memory of the packed objects, for a pull that moves only what changed.
   */
  readonly keep?: boolean;
}

/**
 * Clones `branch` of `url` (depth 1; the remote's default branch when undefined) into a fresh in-memory repository and
 * reads its tree; or a FetchError (unreachable, refused, not a git remote, no such branch, over `maxBytes` of files).
 * Given `previous` (a tree read with `keep`), it first fetches into that repository instead, telling the remote the
 * commit it has (a depth-1 fetch with its `have`), so that only new objects travel; when that fails, or the
 * repository holds more than twice `maxBytes`, it clones afresh.
 */
export async function fetchTree(
  net: NetStack,
  url: string,
  branch: string | undefined,
  o: FetchOptions,
  previous?: GitTree,
): Promise<GitTree> {
  // The pack of a depth-1 clone is about the files' size compressed; a pack much larger than the limit cannot fit it.
  const http = gitHttp(net, o.maxBytes * 2 + (1 << 20), o.ca);
  const old = previous?.repo;
  if (old && old.fs.size <= o.maxBytes * 2) {
    let head: string | null = null;
    try {
      ({ fetchHead: head } = await gitFetch({
        ...old,
        http,
        url,
        ...(branch ? { ref: branch } : {}),
        singleBranch: true,
        depth: 1,
        tags: false,
      }));
    } catch {
      // A fresh clone below says why, if it fails too.
    }
    if (head) {
      try {
        // The local branch follows what was fetched: the next fetch names it as the commit it has (its `have`).
        const local = await currentBranch({ ...old, fullname: true });
        if (local) await writeRef({ ...old, ref: local, value: head, force: true });
        return await readTreeFiles(old.fs, old.dir, o, where(url, branch), head);
      } catch (e) {
        if (e instanceof FetchError) throw e;
      }
    }
  }
  const fs = new MemoryFs();
  const dir = '/repo';
  try {
    await clone({ fs, http, dir, url, ...(branch ? { ref: branch } : {}), singleBranch: true, depth: 1, noCheckout: true, noTags: true });
  } catch (e) {
    throw new FetchError(`cannot fetch ${where(url, branch)}: ${(e as Error).message}`);
  }
  try {
    return await readTreeFiles(fs, dir, o, where(url, branch), undefined);
  } catch (e) {
    throw e instanceof FetchError ? e : new FetchError(`cannot read what ${url} sent: ${(e as Error).message}`);
  }
}

async function readTreeFiles(fs: MemoryFs, dir: string, o: FetchOptions, at: string, commitOid: string | undefined): Promise<GitTree> {
  const oid = commitOid ?? (await resolveRef({ fs, dir, ref: 'HEAD' }));
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
        if (bytes > o.maxBytes) {
          throw new FetchError(
            `${at} at ${oid.slice(0, 12)} holds more than ${o.limitName ?? 'the limit'} (${o.maxBytes >> 20} MB) of files: refused`,
          );
        }
        files.set(`${prefix}/${e.path}`, blob);
      }
    }
  };
  await walk(commit.tree, '');
  return { commit: oid, committedMs: commit.committer.timestamp * 1000, files, bytes, ...(o.keep ? { repo: { fs, dir } } : {}) };
}

/**
 * The commit `branch` of `url` is at now (the remote's HEAD when undefined), asked with one ref advertisement and no
 * objects: a cheap check before `fetchTree`. A FetchError when the remote cannot be asked or has no such branch.
 */
export async function remoteHead(net: NetStack, url: string, branch: string | undefined, ca?: string): Promise<string> {
  let refs: Awaited<ReturnType<typeof listServerRefs>>;
  try {
    refs = await listServerRefs({ http: gitHttp(net, 1 << 20, ca), url, protocolVersion: 1, symrefs: true });
  } catch (e) {
    throw new FetchError(`cannot ask ${where(url, branch)}: ${(e as Error).message}`);
  }
  const want = branch ? `refs/heads/${branch}` : 'HEAD';
  const ref = refs.find((r) => r.ref === want);
  if (!ref) throw new FetchError(`${where(url, branch)}: the remote has no ${branch ? `branch ${branch}` : 'HEAD'}`);
  return ref.oid;
}
