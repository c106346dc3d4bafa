/**
 * What `fata build` checks before an image exists, and what a run-time
 * error looks like after: the type check (a planted type error refuses the
 * build with its file and line; --no-typecheck builds it anyway), source
 * maps beside the image (an abort names main.ts and its line on both
 * targets, and the image's minified bundle once the map is gone; sealed,
 * console.log works and an uncaught error quotes main.ts's line), bare
 * built-in names in a package's require() (bundled as node: built-ins, and
 * loaded that way from images made before), and a built-in the seal
 * refuses, named at build time with the modules that pulled it in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileImage } from '../src/tender/load.ts';
import type { Image } from '../src/build/image.ts';

const ROOT = new URL('..', import.meta.url).pathname;

function fata(args: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(join(ROOT, 'bin', 'fata'), args, { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

/** A service folder under out/ (inside the package, so `from 'fata'` resolves as it does for a user); removed by the caller. */
function service(files: Record<string, string>): string {
  mkdirSync(join(ROOT, 'out'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, 'out', 'svc-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const CONFIG = `import { net, param, service } from 'fata';
export default service({
  name: 'checked',
  main: './main.ts',
  devices: { service: net() },
  params: { port: param.int(7, 'a port', { min: 1, max: 65535 }) },
});
`;
/** Line 6 names a device that does not exist; line 7 passes a string where a port number belongs. */
const MAIN_WITH_TYPE_ERRORS = `import type { Main } from 'fata';
import type config from './config.ts';

export const main: Main<typeof config> = async (devices, params, ctx) => {
  ctx.log.info('start', { port: params.port });
  await devices.servce.tcpListen(params.port, () => {});
  await devices.service.tcpListen('7', () => {});
};
`;
const MAIN_CORRECT = MAIN_WITH_TYPE_ERRORS.replace('devices.servce', 'devices.service').replace("tcpListen('7'", 'tcpListen(7');

test('a type error refuses the build with its file, line and column; --no-typecheck builds it; a correct service builds', () => {
  const dir = service({ 'config.ts': CONFIG, 'main.ts': MAIN_WITH_TYPE_ERRORS });
  const rel = dir.slice(ROOT.length);
  try {
    const bad = fata(['build', dir]);
    assert.equal(bad.status, 1, bad.err);
    assert.match(bad.err, /fata: error FATA_TYPE_ERROR: 2 type errors in .*; fix them, or build with --no-typecheck/);
    assert.match(bad.err, new RegExp(`${rel}/main\\.ts:6:17: error TS2551: Property 'servce' does not exist`));
    assert.match(
      bad.err,
      new RegExp(`${rel}/main\\.ts:7:35: error TS2345: Argument of type 'string' is not assignable to parameter of type 'number'`),
    );
    assert.equal(bad.out, '');
    assert.ok(!existsSync(join(dir, 'dist', 'checked.fata')), 'no image from a service with type errors');

    const skipped = fata(['build', '--no-typecheck', dir]);
    assert.equal(skipped.status, 0, skipped.err);
    assert.doesNotMatch(skipped.err, /type-checked/);
    assert.ok(existsSync(join(dir, 'dist', 'checked.fata')));

    writeFileSync(join(dir, 'main.ts'), MAIN_CORRECT);
    const good = fata(['build', dir]);
    assert.equal(good.status, 0, good.err);
    assert.match(good.err, /build: type-checked in \d+ ms/);
    // Nothing changed: the check that passed is remembered; a change to any file it read checks again.
    assert.match(fata(['build', dir]).err, /build: types unchanged since the last check/);
    writeFileSync(join(dir, 'main.ts'), MAIN_WITH_TYPE_ERRORS);
    assert.equal(fata(['build', dir]).status, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const THROWER_CONFIG = `import { service } from 'fata';
export default service({ name: 'thrower', main: './main.ts', devices: {}, params: {} });
`;
const THROWER_MAIN = `import type { Main } from 'fata';
import type config from './config.ts';

function explode(what: string): never {
  throw new Error(\`planted: \${what}\`);
}

export const main: Main<typeof config> = async (_devices, _params, ctx) => {
  ctx.log.info('about-to-throw');
  explode('main');
};
`;

test('an abort names the service file and line through the source map beside the image, on both targets', () => {
  const dir = service({ 'config.ts': THROWER_CONFIG, 'main.ts': THROWER_MAIN });
  try {
    for (const target of ['node', 'spt']) {
      const b = fata(['build', '-t', target, dir]);
      assert.equal(b.status, 0, b.err);
      const image = join(dir, 'dist', 'thrower.fata');
      assert.ok(existsSync(`${image}.map`), 'the map is written beside the image');
      assert.ok(!readFileSync(image, 'latin1').includes('sourceMappingURL'), 'the map is not in the image');
      const r = fata(['run', image]);
      assert.equal(r.status, 255, `${target}: ${r.out}${r.err}`);
      // explode() throws on line 5, column 9 of main.ts.
      assert.match(r.out + r.err, new RegExp(`event=abort error="planted: main" stack="at explode \\(${dir}/main\\.ts:5:9\\)"`), target);
      // Without its map, the same abort can only name the minified bundle.
      rmSync(`${image}.map`);
      const bare = fata(['run', image]);
      assert.equal(bare.status, 255);
      assert.doesNotMatch(bare.out + bare.err, /main\.ts:5/);
      assert.match(bare.out + bare.err, /stack="at \S+ \(\S*thrower\.fata:\d+:\d+\)"/);
    }
    // A map made for another bundle is not used (the wrong lines are worse than none).
    assert.equal(fata(['build', dir]).status, 0);
    const map = join(dir, 'dist', 'thrower.fata.map');
    const old = readFileSync(map);
    writeFileSync(
      join(dir, 'main.ts'),
      THROWER_MAIN.replace("ctx.log.info('about-to-throw');", "ctx.log.info('about-to-throw');\n  ctx.log.info('again');"),
    );
    assert.equal(fata(['build', dir]).status, 0);
    writeFileSync(map, old);
    assert.doesNotMatch(fata(['run', join(dir, 'dist', 'thrower.fata')]).out, /main\.ts:\d/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a package's require() of a bare built-in name loads that built-in, in the bundle and from an older image", () => {
  const dir = service({
    'config.ts': THROWER_CONFIG.replace("'thrower'", "'bare'"),
    // CommonJS as npm packages write it: bare names, no node: prefix.
    'lib.cjs':
      "const util = require('util');\nconst os = require('os');\nmodule.exports = () => util.format('%s:%d', typeof os.EOL, 42);\n",
    'main.ts': `import type { Main } from 'fata';
import type config from './config.ts';
import describe from './lib.cjs';

export const main: Main<typeof config> = (_devices, _params, ctx) => {
  ctx.log.info('loaded', { value: describe() });
  return 0;
};
`,
    'lib.d.cts': 'declare const describe: () => string;\nexport = describe;\n',
  });
  try {
    assert.equal(fata(['build', '-t', 'spt', dir]).status, 0);
    const bundle = readFileSync(join(dir, 'dist', 'bare.fata'), 'latin1');
    assert.match(bundle, /require\("node:util"\)/);
    assert.doesNotMatch(bundle, /require\("(util|os)"\)/);
    const r = fata(['run', join(dir, 'dist', 'bare.fata')]);
    assert.equal(r.status, 0, r.out + r.err);
    assert.match(r.out, /event=loaded value=string:42/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // An image bundled before built-ins were renamed asks for 'tty' and 'util' as they are.
  const old = 'exports.start = async () => (require("tty").isatty(-1) ? 1 : 0) + (typeof require("util").format === "function" ? 0 : 1);';
  const image: Image = {
    manifest: { type: 'fata.manifest', version: 1, name: 'old', target: 'node', net: 'none', devices: [], engine: '', params: {} },
    sha256: '',
    sections: new Map([['bundle', new TextEncoder().encode(old)]]),
  };
  const start = compileImage(image)();
  assert.equal(typeof start, 'function');
  // Anything that is not a built-in stays refused.
  const pkg: Image = { ...image, sections: new Map([['bundle', new TextEncoder().encode('require("express");')]]) };
  assert.throws(() => compileImage(pkg)(), /an image may only require Node built-ins, not 'express'/);
});

test('a built-in the seal refuses fails an spt build, naming the modules that pulled it in; a node build is warned', () => {
  const dir = service({
    'config.ts': THROWER_CONFIG.replace("'thrower'", "'spawner'"),
    'helper.ts': "import { execFileSync } from 'child_process';\nexport const whoami = (): string => String(execFileSync('id'));\n",
    'main.ts': `import type { Main } from 'fata';
import type config from './config.ts';
import { whoami } from './helper.ts';

export const main: Main<typeof config> = (_devices, _params, ctx) => {
  ctx.log.info('me', { id: whoami() });
  return 0;
};
`,
  });
  try {
    const spt = fata(['build', '-t', 'spt', dir]);
    assert.equal(spt.status, 1, spt.err);
    assert.match(spt.err, /fata: error FATA_UNSEALABLE: spawner imports a Node built-in that cannot work in a sealed unikernel/);
    assert.match(
      spt.err,
      /'child_process' \(it starts processes, and the seal allows no fork or exec\), pulled in by fata-entry\.ts → main\.ts → helper\.ts → child_process/,
    );
    assert.ok(!existsSync(join(dir, 'dist', 'spawner.fata')));
    const node = fata(['build', '-t', 'node', dir]);
    assert.equal(node.status, 0, node.err);
    assert.match(node.err, /build: warning: the spt target will refuse 'child_process'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sealed, console.log reaches the console, and an uncaught error quotes the line of main.ts that threw', () => {
  const dir = service({
    'config.ts': THROWER_CONFIG.replace("'thrower'", "'uncaught'"),
    'main.ts': `import type { Main } from 'fata';
import type config from './config.ts';

export const main: Main<typeof config> = () => {
  console.log('console.log works', { sealed: true });
  setTimeout(() => {
    throw new Error('thrown from a timer');
  }, 10);
  return new Promise<number>((done) => setTimeout(() => done(0), 2000));
};
`,
  });
  try {
    assert.equal(fata(['build', '-t', 'spt', dir]).status, 0);
    const r = fata(['run', join(dir, 'dist', 'uncaught.fata')]);
    assert.notEqual(r.status, 0);
    assert.match(r.out, /console\.log works \{ sealed: true \}/);
    // The line quoted is the one the error was made on, the caret under where (the frame's column, 7:11).
    assert.match(r.err, new RegExp(`${dir}/main\\.ts:7\\n    throw new Error\\('thrown from a timer'\\);\\n {10}\\^\\n\\nError: thrown`));
    assert.match(r.err, new RegExp(`at Timeout\\._onTimeout \\(${dir}/main\\.ts:7:11\\)`));
    assert.doesNotMatch(r.err, /Assertion failed|FATA_KILLED/, 'the engine exits as Node does, not through an abort');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a service that uses Node's globals is checked with Node's types: its real error, not a missing name", () => {
  const dir = service({
    'config.ts': THROWER_CONFIG.replace("'thrower'", "'globals'"),
    'main.ts': `import type { Main } from 'fata';
import type config from './config.ts';

export const main: Main<typeof config> = () => {
  const n: number = Buffer.from('x');
  return n;
};
`,
  });
  try {
    const r = fata(['build', dir]);
    assert.equal(r.status, 1);
    assert.match(r.err, /main\.ts:5:9: error TS2322: Type 'Buffer<ArrayBuffer>' is not assignable to type 'number'/);
    assert.doesNotMatch(r.err, /Cannot find name 'Buffer'/);
    writeFileSync(
      join(dir, 'main.ts'),
      "import type { Main } from 'fata';\nexport const main: Main<unknown> = () => Buffer.byteLength('x') - 1;\n",
    );
    assert.equal(fata(['build', dir]).status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a service that listens for uncaught errors itself decides: the source-mapped report does not end it', () => {
  const dir = service({
    'config.ts': THROWER_CONFIG.replace("'thrower'", "'survivor'"),
    'main.ts': `import type { Main } from 'fata';
import type config from './config.ts';

export const main: Main<typeof config> = () => {
  process.on('uncaughtException', (e) => console.log('handled:', e.message));
  setTimeout(() => {
    throw new Error('thrown from a timer');
  }, 10);
  return new Promise<number>((done) => setTimeout(() => (console.log('survived'), done(0)), 300));
};
`,
  });
  try {
    assert.equal(fata(['build', '-t', 'spt', dir]).status, 0);
    const r = fata(['run', join(dir, 'dist', 'survivor.fata')]);
    assert.equal(r.status, 0, r.out + r.err);
    assert.match(r.out, /handled: thrown from a timer\n[\s\S]*survived/);
    assert.doesNotMatch(r.err, /main\.ts:7/, 'no report: the service handled it');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
