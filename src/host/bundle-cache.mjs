// @ts-check
/**
 * Host-side code (the `fata` command, the spt bootstrap) runs from esbuild
 * bundles of its TypeScript sources, kept in node_modules/.cache/fata and
 * rebuilt when any source's SHA-256 changes. A bundle starts in half the
 * time and without the engine's type stripper (about 17 MB of RSS), which
 * matters for boot time and for the sealed engine's memory. Plain
 * JavaScript on purpose: loading it must not need the stripper either.
 * Where the cache cannot be written, the TypeScript entry is used as is.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/* global __FATA_ROOT__ */
// Bundled (into the cached CLI), this file's own URL is the cache's: the bundler defines the root instead.
const ROOT = typeof __FATA_ROOT__ === 'string' ? __FATA_ROOT__ : resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CACHE = join(ROOT, 'node_modules', '.cache', 'fata');
/** @type {Record<string, string>} */
const ENTRIES = { cli: 'src/cli/fata.ts', bootstrap: 'src/targets/spt/bootstrap.ts' };

/** @param {string} file */
function sha(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * Path of an up-to-date bundle for `name`, building it if needed; the
 * TypeScript entry when no bundle can be kept.
 * @param {'cli' | 'bootstrap'} name
 * @returns {Promise<string>}
 */
export async function hostEntry(name) {
  const entry = join(ROOT, ENTRIES[name]);
  const out = join(CACHE, `${name}.mjs`);
  const manifest = join(CACHE, `${name}.json`);
  try {
    const m = JSON.parse(readFileSync(manifest, 'utf8'));
    if (m.root === ROOT && m.engine === process.version &&
      Object.entries(m.inputs).every(([f, h]) => sha(join(ROOT, f)) === h)) return out;
  } catch { /* no cache yet, or stale: build below */ }
  try {
    const esbuild = await import('esbuild');
    const r = await esbuild.build({
      entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node24', packages: 'external',
      define: { __FATA_ROOT__: JSON.stringify(ROOT) }, metafile: true, write: false, logLevel: 'silent', absWorkingDir: ROOT,
    });
    /** @type {Record<string, string>} */
    const inputs = {};
    for (const f of Object.keys(r.metafile.inputs)) inputs[relative(ROOT, resolve(ROOT, f))] = sha(resolve(ROOT, f));
    mkdirSync(CACHE, { recursive: true });
    const tmp = `${out}.${process.pid}.tmp`;
    writeFileSync(tmp, r.outputFiles[0].contents);
    renameSync(tmp, out);
    writeFileSync(`${manifest}.${process.pid}.tmp`, JSON.stringify({ root: ROOT, engine: process.version, inputs }));
    renameSync(`${manifest}.${process.pid}.tmp`, manifest);
    return out;
  } catch {
    return entry;
  }
}
