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
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/* global __FATA_ROOT__ */
// Bundled (into the cached CLI), this file's own URL is the cache's: the bundler defines the root instead.
const ROOT = typeof __FATA_ROOT__ === 'string' ? __FATA_ROOT__ : resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CACHE = join(ROOT, 'node_modules', '.cache', 'fata');
/** @type {Record<string, string>} */
const ENTRIES = { cli: 'src/cli/fata.ts', bootstrap: 'src/tender/bootstrap.ts' };

/** How bundles are made here: a change to the esbuild options below must change it, so old bundles are rebuilt. */
const RECIPE = 8;

/** @type {typeof import('node:crypto').createHash | undefined} */
let createHash;
/** @param {string} file */
async function sha(file) {
  createHash ??= (await import('node:crypto')).createHash; // Loaded only when a stamp differs.
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * Size and mtime of a file: when both match what the cache recorded, the file is taken as unchanged
 * without reading it (hashing every source on each start cost tens of milliseconds of boot time).
 * @param {string} file
 */
function stamp(file) {
  const st = statSync(file);
  return `${st.size}:${st.mtimeMs}`;
}

/**
 * Built-in modules as CommonJS values, and the costly ones loaded when first used rather than when
 * imported. An ES import of a built-in builds its ES facade, which reads every export and so runs
 * every lazy getter; and `node:crypto` cost each sealed engine about 3.4 ms and 4 MiB of resident
 * memory, imported by modules whose hashing the engine does not use (it hashes through
 * src/targets/node/native-crypto.ts). In the ES bundle (the CLI) a built-in is
 * `process.getBuiltinModule(id)`; in the CommonJS one (the bootstrap) it is left to `require`, which
 * esbuild then reads property by property where a named import is used. esbuild copies every export
 * of a CommonJS module into an object of getters at each ES import of it (`__toESM`): with node:fs
 * imported by seven modules that copying ran often enough during boot to be optimized, which loaded
 * V8's optimizing compilers' code into the sealed engine (docs/profiling.md, "Boot: what the engine
 * touches"); a named import of an external `require` is not copied. One in `LAZY` is an object whose
 * prototype has a getter per export name (listed now, at bundle time, without reading them), loading
 * the module on the first read; it has no own properties, so that there is nothing to copy either.
 * @param {boolean} cjs
 * @returns {import('esbuild').Plugin}
 */
const LAZY = new Set(['node:crypto']);
const lazyBuiltins = (cjs) => ({
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) =>
      cjs && !LAZY.has(args.path) ? { path: args.path, external: true } : { path: args.path, namespace: 'lazy-builtin' },
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => {
      const id = JSON.stringify(args.path);
      if (!LAZY.has(args.path)) return { contents: `module.exports = process.getBuiltinModule(${id});`, loader: 'js' };
      const names = JSON.stringify(Object.keys(process.getBuiltinModule(args.path)));
      return {
        contents: `let m; const load = () => (m ??= process.getBuiltinModule(${id}));
const exportsOf = {};
for (const k of ${names}) Object.defineProperty(exportsOf, k, { enumerable: true, get: () => load()[k] });
module.exports = Object.create(exportsOf);`,
        loader: 'js',
      };
    });
  },
});

/**
 * Path of an up-to-date bundle for `name`, building it if needed; the
 * TypeScript entry when no bundle can be kept.
 * @param {'cli' | 'bootstrap'} name
 * @returns {Promise<string>}
 */
export async function hostEntry(name) {
  const entry = join(ROOT, ENTRIES[name]);
  // The bootstrap is CommonJS: an ES entry costs each sealed engine about 1.3 ms of CPU and 1 MiB of resident
  // memory for the engine's ES module loader (measured on empty entries). The CLI stays an ES module.
  const cjs = name === 'bootstrap';
  const out = join(CACHE, `${name}.${cjs ? 'cjs' : 'mjs'}`);
  const manifest = join(CACHE, `${name}.json`);
  try {
    const m = JSON.parse(readFileSync(manifest, 'utf8'));
    if (m.root === ROOT && m.engine === process.version && m.recipe === RECIPE) {
      let fresh = true,
        restamp = false;
      for (const [f, h] of Object.entries(m.inputs)) {
        if (m.stamps?.[f] === stamp(join(ROOT, f))) continue;
        if ((await sha(join(ROOT, f))) !== h) {
          fresh = false;
          break;
        }
        restamp = true;
      }
      if (fresh && restamp) {
        // Touched but unchanged (a checkout): record the new stamps, and make the bundle newer than
        // its sources again, which is how bin/fata's fast path judges it fresh.
        m.stamps = Object.fromEntries(Object.keys(m.inputs).map((f) => [f, stamp(join(ROOT, f))]));
        writeFileSync(manifest, JSON.stringify(m));
        const now = new Date();
        utimesSync(out, now, now);
      }
      const list = join(CACHE, `${name}.inputs`);
      if (fresh && !existsSync(list))
        writeFileSync(
          list,
          Object.keys(m.inputs)
            .map((f) => join(ROOT, f))
            .join('\n') + '\n',
        );
      if (fresh) return out;
    }
  } catch {
    /* no cache yet, or stale: build below */
  }
  try {
    const esbuild = await import('esbuild');
    const r = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: cjs ? 'cjs' : 'esm',
      target: 'node24',
      packages: 'external',
      define: { __FATA_ROOT__: JSON.stringify(ROOT), ...(cjs ? { 'import.meta.url': '__fataModule.url' } : {}) },
      // The file URL only when asked for: node:url's pathToFileURL touched 2.2 MiB of the engine at every boot.
      ...(cjs
        ? {
            banner: {
              js: `'use strict';\nconst __fataModule = { get url() { return require('node:url').pathToFileURL(__filename).href; } };`,
            },
          }
        : {}),
      // The bootstrap without its whitespace and with shorter syntax (names kept, for stacks): the engine parses it at
      // every boot, and 73 KB took about a quarter longer to compile than 53 (docs/profiling.md, "Boot: what the engine touches").
      ...(cjs ? { minifyWhitespace: true, minifySyntax: true } : {}),
      plugins: typeof process.getBuiltinModule === 'function' ? [lazyBuiltins(cjs)] : [],
      metafile: true,
      write: false,
      logLevel: 'silent',
      absWorkingDir: ROOT,
    });
    /** @type {Record<string, string>} */
    const inputs = {};
    /** @type {Record<string, string>} */
    const stamps = {};
    for (const f of Object.keys(r.metafile.inputs)) {
      if (f.startsWith('lazy-builtin:')) continue;
      const rel = relative(ROOT, resolve(ROOT, f));
      inputs[rel] = await sha(resolve(ROOT, f));
      stamps[rel] = stamp(resolve(ROOT, f));
    }
    mkdirSync(CACHE, { recursive: true });
    const tmp = `${out}.${process.pid}.tmp`;
    writeFileSync(tmp, r.outputFiles[0].contents);
    renameSync(tmp, out);
    // The inputs as absolute paths, one per line: the native tender checks none is newer than the bundle.
    writeFileSync(
      join(CACHE, `${name}.inputs`),
      Object.keys(inputs)
        .map((f) => join(ROOT, f))
        .join('\n') + '\n',
    );
    writeFileSync(
      `${manifest}.${process.pid}.tmp`,
      JSON.stringify({ root: ROOT, engine: process.version, recipe: RECIPE, inputs, stamps }),
    );
    renameSync(`${manifest}.${process.pid}.tmp`, manifest);
    return out;
  } catch {
    return entry;
  }
}
