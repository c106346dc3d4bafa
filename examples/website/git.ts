/**
 * The website's content from a git remote (`--remote=URL[#branch]`): the
 * branch's files as `fetchTree` (fata/git) reads them from a shallow clone,
 * with gzip and brotli variants made at load, as `fata build` makes them
 * for htdocs/; and the pull hook. Each fetch builds a whole new site or
 * fails; the caller swaps it in with one assignment.
 */
import { type HttpHandler, header, type HttpRequest, type HttpResponse, type StaticFiles } from 'fata/http';
import { fetchTree, type GitTree } from 'fata/git';
import type { Logger, NetStack } from 'fata';
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
  /** What it was read from, with its repository: the next fetch asks only for what is new. */
  readonly tree: GitTree;
}

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
 * The branch as a whole site (`fetchTree` of fata/git, then the compressed variants), or a FetchError (unreachable,
 * refused, not a git remote, no such branch, over `maxBytes` of files). Given the site it replaces, only the objects
 * that are new since are fetched (into the repository that site kept).
 */
export async function fetchSite(
  net: NetStack,
  url: string,
  branch: string | undefined,
  maxBytes: number,
  ca?: string,
  previous?: GitSite,
): Promise<GitSite> {
  const tree = await fetchTree(net, url, branch, { maxBytes, ca, limitName: '--max-content', keep: true }, previous?.tree);
  const variants = new Map<string, Uint8Array>();
  for (const [path, b] of tree.files) await variantsOf(path, b, variants);
  return {
    commit: tree.commit,
    files: tree.files.size,
    bytes: tree.bytes,
    modifiedMs: tree.committedMs,
    tree,
    get: (p) => tree.files.get(p),
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
