/**
 * Test helper: what an unprivileged process must read, in a place it can
 * reach wherever the checkout lives. A clone in a mode-700 home cannot be
 * entered by any other account, so a test that runs `bin/fata` as nobody,
 * or a server whose workers run as www-data, works on a copy in a fresh
 * mode-755 directory under os.tmpdir(), removed when the test is done.
 * Copies are world-readable (executables world-executable) whatever the
 * owner's umask was; node_modules is hard-linked where it already is and
 * the file system allows, which makes the copy cheap (the engine alone is
 * 120 MB), and copied otherwise.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Mode a world-readable copy of a file of mode `mode` gets: readable by all, executable by all if it was by its owner. */
const readableMode = (mode: number): number => (mode & 0o777) | 0o444 | (mode & 0o100 ? 0o111 : 0);

/**
 * Copies tree `src` to `dst` (which must not exist) world-readable, directories 0755, with the files'
 * modification times (servers derive Last-Modified and ETag from them). `link` says which files may be
 * hard-linked instead of copied (only ones already world-readable are); `skip` leaves entries out.
 */
export function readableCopy(
  src: string,
  dst: string,
  opts: { link?: (path: string) => boolean; skip?: (path: string) => boolean } = {},
): void {
  mkdirSync(dst);
  chmodSync(dst, 0o755);
  for (const e of readdirSync(src, { withFileTypes: true })) {
    const s = join(src, e.name),
      d = join(dst, e.name);
    if (opts.skip?.(s)) continue;
    if (e.isDirectory()) {
      readableCopy(s, d, opts);
    } else if (e.isSymbolicLink()) {
      symlinkSync(readlinkSync(s), d); // node_modules/.bin's links are relative: they point into the copy.
    } else if (e.isFile()) {
      const st = statSync(s);
      const mode = readableMode(st.mode);
      if (opts.link?.(s) && (st.mode & 0o777) === mode) {
        try {
          linkSync(s, d);
          continue;
        } catch {
          /* another file system, or links refused: copy */
        }
      }
      copyFileSync(s, d);
      chmodSync(d, mode);
      utimesSync(d, st.atime, st.mtime);
    }
  }
}

/** A fresh empty mode-755 directory under os.tmpdir(). */
export function readableTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

export interface RunnableCheckout {
  /** The copy's root: bin/fata, src, examples, node_modules as in the checkout. */
  readonly root: string;
  /** Its `fata` command (package.json's bin). */
  readonly fata: string;
  /** Removes the copy. */
  remove(): void;
}

/**
 * A copy of the checkout that account `uid` can run `bin/fata` from: sources, examples and
 * node_modules (engine, esbuild), without .git, build outputs (out/, dist/, .fata/) or the host
 * bundle cache, whose records name the checkout's own paths. The copy's CLI bundle is then made by
 * the caller (root) with `fata --help`, as a checkout's is on first use, so `uid` runs the CLI the
 * way it runs from a checkout root has used.
 */
export function runnableCheckout(uid: number): RunnableCheckout {
  const base = readableTempDir('fata-checkout-');
  const remove = (): void => rmSync(base, { recursive: true, force: true });
  try {
    const root = join(base, 'fata');
    const under = (p: string, dir: string): boolean => !relative(join(ROOT, dir), p).startsWith('..');
    readableCopy(ROOT, root, {
      skip: (p) =>
        under(p, '.git') || under(p, 'out') || under(p, 'node_modules/.cache') || (!under(p, 'node_modules') && /\/(dist|\.fata)$/.test(p)),
      link: (p) => under(p, 'node_modules'),
    });
    const fata = join(root, 'bin', 'fata');
    const warm = spawnSync(fata, ['--help'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    if (warm.status !== 0) throw new Error(`'fata --help' in the copy failed (${warm.status}): ${warm.stderr}`);
    const reach = spawnSync(fata, ['--help'], { cwd: root, encoding: 'utf8', timeout: 120_000, uid, gid: uid });
    if (reach.status !== 0)
      throw new Error(
        `uid ${uid} cannot run the copy of the checkout in ${base} (is TMPDIR reachable by it?): ${reach.stderr ?? reach.error}`,
      );
    return { root, fata, remove };
  } catch (e) {
    remove();
    throw e;
  }
}
