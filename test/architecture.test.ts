/**
 * The rules of docs/architecture.md that a program can check: the portable
 * core imports nothing from node:* or any package, statically or
 * dynamically, and reads no ambient time or randomness; every folder
 * imports only the folders below it. Each rule fails when broken (a test
 * plants a violation in memory and checks the rule sees it), and a folder
 * that moves makes the test fail rather than pass on an empty scan.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const CORE = ['src/wire', 'src/net', 'src/http', 'src/storage', 'src/link', 'src/sim', 'src/devices'];

/**
 * Who may import whom, by folder (a folder may always import itself).
 * Inside an image: devices ← wire ← net, link ← sim ← http, storage ← runtime.
 * Host side: host is a leaf; targets implement the devices for one platform
 * (spt reuses node's); build makes images; the tender starts engines (and
 * holds the bootstrap, their first code); cli is the front door.
 */
export const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  'src/devices': [],
  'src/wire': ['src/devices'],
  'src/net': ['src/devices', 'src/wire'],
  'src/link': ['src/devices', 'src/wire'],
  'src/sim': ['src/devices', 'src/wire', 'src/link'],
  'src/http': ['src/devices', 'src/wire', 'src/net'],
  'src/storage': ['src/devices', 'src/wire'],
  'src/runtime': ['src/devices', 'src/wire', 'src/net', 'src/link', 'src/sim', 'src/http', 'src/storage'],
  'src/host': [],
  'src/targets/node': ['src/devices', 'src/host'],
  'src/targets/spt': ['src/devices', 'src/host', 'src/targets/node'],
  'src/build': ['src/devices', 'src/host', 'src/runtime'],
  // User-mode networking's gateway: Fata's stack on the host end of a socketpair, spliced to host sockets.
  'src/usernet': ['src/devices', 'src/wire', 'src/net', 'src/host', 'src/targets/node'],
  'src/tender': [
    'src/devices',
    'src/host',
    'src/targets/node',
    'src/targets/spt',
    'src/build',
    'src/runtime',
    'src/link',
    'src/sim',
    'src/usernet',
  ],
  // Host networks (fata net): bridges, nftables, Fata's DHCP server on the bridge; the CIDR arithmetic is wire's.
  'src/hostnet': ['src/host', 'src/wire'],
  // The daemon (fata daemon): supervises engines it starts through bin/fata run; checks images and devices as the tender does.
  'src/daemon': ['src/devices', 'src/host', 'src/targets/node', 'src/build', 'src/runtime', 'src/tender'],
  // The host policy (fata policy): one file checked as a whole, then the daemon converged to it through its protocol.
  'src/policy': ['src/devices', 'src/host', 'src/wire', 'src/build', 'src/runtime', 'src/tender', 'src/hostnet', 'src/daemon'],
  'src/cli': ['src/host', 'src/build', 'src/tender', 'src/runtime', 'src/hostnet', 'src/daemon', 'src/policy'],
  // The package's main entry (`import … from 'fata'`): the service API, re-exported.
  'src/index.ts': ['src/devices', 'src/net', 'src/runtime'],
};

function sources(dir: string): string[] {
  if (statSync(join(ROOT, dir)).isFile()) return [dir];
  let out: string[] = [];
  for (const n of readdirSync(join(ROOT, dir))) {
    const p = join(dir, n);
    if (statSync(join(ROOT, p)).isDirectory()) out = out.concat(sources(p));
    else if (/\.(ts|mjs)$/.test(n) && !n.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/** Every module specifier a file names: static imports and re-exports, side-effect imports, import(), require(). */
export function specifiers(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  return [
    ...code.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g),
    ...code.matchAll(/(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g),
    ...code.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g),
    ...code.matchAll(/\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
}

/** The rule's folder that holds a file (the longest matching key of MAY_IMPORT), if any. */
function folderOf(file: string): string | undefined {
  return Object.keys(MAY_IMPORT)
    .filter((d) => file === d || file.startsWith(d + '/'))
    .sort((a, b) => b.length - a.length)[0];
}

export function layerViolations(file: string, text: string): string[] {
  const from = folderOf(file);
  if (!from) return [`${file} is in no folder of the layering (add it to MAY_IMPORT and docs/architecture.md)`];
  const bad: string[] = [];
  for (const spec of specifiers(text)) {
    if (!spec.startsWith('.')) continue;
    const target = relative(ROOT, resolve(ROOT, dirname(file), spec));
    const to = folderOf(target);
    if (to === from) continue;
    if (!to || !MAY_IMPORT[from]!.includes(to)) bad.push(`${file} imports ${spec} (${to ?? 'outside src'}), which ${from} may not`);
  }
  return bad;
}

const AMBIENT = [
  /Date\.now\(/,
  /new Date\(\s*\)/,
  /(?<!new )\bDate\(\s*\)/,
  /setTimeout\(/,
  /setInterval\(/,
  /setImmediate\(/,
  /Math\.random\(/,
  /performance\.now\(/,
  /crypto\.getRandomValues\(/,
  /crypto\.randomUUID\(/,
  /\bprocess\./,
  /\bglobalThis\./,
];

export function coreViolations(file: string, text: string): string[] {
  const bad: string[] = [];
  for (const spec of specifiers(text)) if (!spec.startsWith('.')) bad.push(`${file} imports ${spec}`);
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  for (const re of AMBIENT) if (re.test(code)) bad.push(`${file}: ${re}`);
  return bad;
}

test('every folder the rules name exists and has sources; every source is in a folder the rules name', () => {
  for (const d of Object.keys(MAY_IMPORT))
    assert.ok(existsSync(join(ROOT, d)) && sources(d).length > 0, `${d} is gone or empty: update MAY_IMPORT`);
  const everything = sources('src');
  assert.ok(everything.length > 50, 'the scan saw the sources');
  assert.deepEqual(
    everything.filter((f) => !folderOf(f)),
    [],
  );
});

test('the portable core imports nothing from node:* or any package, and reads no clock, timer or randomness of its own', () => {
  const bad = CORE.flatMap((d) => sources(d).flatMap((f) => coreViolations(f, readFileSync(join(ROOT, f), 'utf8'))));
  assert.deepEqual(bad, []);
});

test('imports go one way, folder by folder', () => {
  const bad = sources('src').flatMap((f) => layerViolations(f, readFileSync(join(ROOT, f), 'utf8')));
  assert.deepEqual(bad, []);
});

/** An example imports Fata as users do, through the package's exports ('fata', 'fata/http', …): never a path into src/. */
export function exampleViolations(file: string, text: string): string[] {
  return specifiers(text)
    .filter((spec) => spec.startsWith('.') && relative(ROOT, resolve(ROOT, dirname(file), spec)).startsWith('src/'))
    .map((spec) => `${file} imports ${spec}: import it from 'fata' or a 'fata/…' entry point (package.json exports)`);
}

test("examples import Fata through the package's exports, as a user's service does, never from src/ by path", () => {
  const files = sources('examples');
  assert.ok(files.length > 10, 'the scan saw the examples');
  assert.deepEqual(
    files.flatMap((f) => exampleViolations(f, readFileSync(join(ROOT, f), 'utf8'))),
    [],
  );
});

test('the rules see what they forbid (planted violations)', () => {
  const core = 'src/net/x.ts';
  for (const planted of [
    "import { x } from 'node:fs';",
    "import 'node:fs';",
    "const fs = await import('node:fs');",
    "const f = require('fs');",
    "export { y } from 'koffi';",
    'const t = new Date();',
    'const n = Date.now();',
    'crypto.getRandomValues(b);',
    'setTimeout(f, 1);',
    'const r = Math.random();',
    'const e = process.env;',
  ])
    assert.equal(coreViolations(core, planted).length, 1, planted);
  assert.deepEqual(coreViolations(core, "// Date.now() is not called here\nimport { a } from './a.ts';"), []);
  assert.deepEqual(coreViolations(core, 'const s = new Date(ms).toUTCString();'), [], 'formatting a given time reads no clock');
  assert.equal(layerViolations('src/wire/x.ts', "import { Stack } from '../net/stack.ts';").length, 1, 'wire → net');
  assert.equal(layerViolations('src/targets/spt/x.ts', "import { run } from '../../tender/run.ts';").length, 1, 'targets → tender');
  assert.equal(
    layerViolations('src/targets/node/x.ts', "import type { T } from '../../runtime/types.ts';").length,
    1,
    'targets → runtime (types too)',
  );
  assert.equal(
    layerViolations('src/runtime/x.ts', "const m = await import('../tender/run.ts');").length,
    1,
    'runtime → tender, dynamically',
  );
  assert.equal(layerViolations('src/devices/x.ts', "import '../wire/ipv4.ts';").length, 1, 'devices → anything');
  assert.equal(layerViolations('src/newfolder/x.ts', '').length, 1, 'a folder outside the rules');
  assert.deepEqual(layerViolations('src/tender/x.ts', "import { seal } from '../targets/spt/seccomp.ts';"), []);
  assert.equal(
    exampleViolations('examples/x/main.ts', "import type { Main } from '../../src/runtime/config.ts';").length,
    1,
    'example → src',
  );
  assert.deepEqual(exampleViolations('examples/x/main.ts', "import { service } from 'fata';\nimport c from './config.ts';"), []);
});
