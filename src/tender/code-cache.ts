/**
 * V8's code cache for an image's bundle, so that an engine starting an
 * image it has started before skips parsing the bundle (the website's
 * 785 KB: about 25 of a 90 ms boot here, 5 with the cache). Node's own
 * compile cache (`module.enableCompileCache`) does the work; this decides
 * where, and whether at all.
 *
 * Opt-in per folder: only for an image whose folder holds `.v8-cache/`,
 * a real folder (no symlink) owned by the engine's user at that moment
 * (root, before the privilege drop) with no access for anyone else. `fata
 * daemon` makes one in its images folder; an operator may make one beside
 * other images (`mkdir -m 700 DIR/.v8-cache`). Entries live in one
 * sub-folder per image SHA-256, so an entry only ever serves the very
 * bytes it was made from (Node's own key is the file name and a CRC-32).
 * The engine writes them (Node: a temporary file, then a rename) after
 * compiling and before it drops its privileges, from the code of an image
 * none of whose code has run yet; never after the seal, which refuses it.
 */
import { lstatSync, mkdirSync } from 'node:fs';
import { constants, enableCompileCache, flushCompileCache } from 'node:module';

export const CODE_CACHE_DIR = '.v8-cache';

/** The folder of `imagePath`'s code cache for the image with this SHA-256, or undefined when its folder has not opted in. */
export function codeCacheDir(imagePath: string, sha256: string, euid = process.geteuid?.() ?? -1): string | undefined {
  if (!/^[0-9a-f]{64}$/.test(sha256)) return undefined;
  // Not join(dirname(…)): path operations are kept off the boot path (./load.ts, compile).
  const slash = imagePath.lastIndexOf('/');
  const base = slash < 0 ? CODE_CACHE_DIR : `${imagePath.slice(0, slash + 1)}${CODE_CACHE_DIR}`;
  const ownOnly = (p: string): boolean => {
    try {
      const s = lstatSync(p);
      return s.isDirectory() && s.uid === euid && (s.mode & 0o077) === 0;
    } catch {
      return false;
    }
  };
  if (!ownOnly(base)) return undefined;
  const dir = `${base}/${sha256}`;
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch {
    /* there already (checked next) */
  }
  return ownOnly(dir) ? dir : undefined;
}

/**
 * Turns Node's compile cache on in `dir` (for what is compiled from now on) and returns the flush that writes
 * new entries; a cache Node cannot use costs nothing but the cache.
 */
export function enableCodeCache(dir: string | undefined): () => void {
  if (dir === undefined) return () => {};
  const r = enableCompileCache(dir);
  if (r.status !== constants.compileCacheStatus.ENABLED) return () => {};
  return () => {
    try {
      flushCompileCache();
    } catch {
      /* a cache that cannot be written is no cache */
    }
  };
}
