/**
 * What loading the spt bootstrap bundle costs the engine beyond its own
 * work (src/host/bundle-cache.mjs, src/targets/node/libc.ts): built-ins
 * imported by name are not copied export by export, and koffi's native
 * module is opened without `require`'s resolver. Both ran enough of the
 * engine's JavaScript during boot to have V8 optimize it, which brought
 * the optimizing compilers' code into every sealed engine (docs/profiling.md,
 * "Boot: what the engine touches").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error -- plain JavaScript on purpose (see the file); typed by its JSDoc.
import { hostEntry } from './bundle-cache.mjs';

test('the spt bootstrap bundle: built-ins are not copied at each import, koffi is opened without require', async () => {
  const bootstrap = await (hostEntry as (n: string) => Promise<string>)('bootstrap');
  assert.match(bootstrap, /\.cjs$/, 'the bootstrap is bundled (CommonJS)');
  const dir = mkdtempSync(join(tmpdir(), 'fata-bundle-'));
  try {
    const probe = join(dir, 'probe.cjs');
    writeFileSync(
      probe,
      `let n = 0;
const define = Object.defineProperty;
Object.defineProperty = function (...a) { n++; return define.apply(this, a); };
process.on('exit', () => require('node:fs').writeSync(1, JSON.stringify({
  defined: n,
  required: Object.keys(require('node:module')._cache).filter((k) => k.endsWith('.node')),
  mapped: require('node:fs').readFileSync('/proc/self/maps', 'utf8').includes('koffi.node'),
})));`,
    );
    // A malformed launch spec ends the bootstrap early, after all of its imports have run (koffi's load among them).
    const r = spawnSync(process.execPath, ['-r', probe, bootstrap, '{}'], { encoding: 'utf8' });
    assert.match(r.stderr, /malformed launch spec/, r.stderr);
    const got = JSON.parse(r.stdout) as { defined: number; required: string[]; mapped: boolean };
    assert.ok(got.mapped, 'koffi is loaded');
    assert.deepEqual(got.required, [], 'native modules loaded through require');
    // esbuild's copy of every export (node:fs's hundred, at each of its seven imports) made about 1,150.
    assert.ok(got.defined < 250, `${got.defined} properties defined while the bootstrap's modules loaded`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
