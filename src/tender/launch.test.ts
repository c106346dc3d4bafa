import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error -- plain JavaScript on purpose (see the file); typed by its JSDoc.
import { hostEntry } from '../host/bundle-cache.mjs';
import { ensureNativeTender } from '../host/native.ts';
import { FATA_ROOT } from '../host/paths.ts';
import { buildService } from '../build/build.ts';
import { encodeLaunchSpec, parseLaunchSpec, type LaunchSpec } from './launch.ts';
import { MAGLEV_AFTER } from './run.ts';

const spec: LaunchSpec = {
  image: '/srv/x.fata',
  nets: [{ name: 'service', fd: 3, mac: '02:00:00:00:00:02', mtu: 1500 }],
  blocks: [{ name: 'storage', fd: 4 }],
  bootArgs: ['--ipv4=10.0.0.2/24', 'a "quoted" \\ arg', 'ünï'],
  native: false,
  user: 'fata',
  memMb: 96,
  cgroup: '/sys/fs/cgroup/fata/x-1',
  impair: new Map([['service', { seed: 7, faults: { loss: 0.01, delayNs: 20_000_000n, jitterNs: 123n } }]]),
};

test('launch spec: what the JavaScript tender encodes, the bootstrap decodes, bigints included', () => {
  assert.deepEqual(parseLaunchSpec(encodeLaunchSpec(spec)), spec);
  assert.deepEqual(parseLaunchSpec(encodeLaunchSpec({ ...spec, cgroup: undefined, impair: new Map() })), {
    ...spec,
    cgroup: undefined,
    impair: new Map(),
  });
});

test('launch spec: every field is checked before anything trusts it', () => {
  const base = JSON.parse(encodeLaunchSpec(spec)) as Record<string, unknown>;
  const broken: [string, Record<string, unknown>][] = [
    ['image', { image: 'relative.fata' }],
    ['nets', { nets: [{ name: 'service', fd: 1, mac: 'x', mtu: 1500 }] }],
    ['nets', { nets: [{ name: 'no-dash', fd: 3, mac: 'x', mtu: 1500 }] }],
    ['blocks', { blocks: [{ name: 'storage', fd: 'four' }] }],
    ['bootArgs', { bootArgs: [1] }],
    ['native', { native: 'yes' }],
    ['user', { user: 0 }],
    ['memMb', { memMb: 8 }],
    ['cgroup', { cgroup: '/etc' }],
    ['impair.service.delayNs', { impair: { service: { seed: 1, faults: { delayNs: 5 } } } }],
    ['impair.service.loss', { impair: { service: { seed: 1, faults: { loss: -1 } } } }],
  ];
  for (const [what, patch] of broken) {
    const r = parseLaunchSpec(JSON.stringify({ ...base, ...patch }));
    assert.equal(typeof r, 'string', what);
    assert.match(r as string, new RegExp(`\\(${what.replace(/\./g, '\\.')}\\)`), what);
  }
  assert.match(parseLaunchSpec(undefined) as string, /started by `fata run`/);
  assert.match(parseLaunchSpec('[]') as string, /not an object/);
});

const nativeSkip = process.arch !== 'x64' ? 'the native tender is x86_64 only' : false;

test('launch spec: what the native tender (spt-tender.c) actually writes decodes to what its flags said', {
  skip: nativeSkip,
}, async () => {
  const tender = ensureNativeTender();
  assert.ok('path' in tender, `the native tender was not built: ${'error' in tender ? tender.error : ''}`);
  const bootstrap = await (hostEntry as (n: string) => Promise<string>)('bootstrap');
  const dir = mkdtempSync(join(tmpdir(), 'fata-launch-'));
  try {
    const { path: image } = await buildService(join(FATA_ROOT, 'examples/block-test'), { target: 'spt', say: () => {} });
    const disk = join(dir, 'disk.img');
    writeFileSync(disk, '');
    truncateSync(disk, 1 << 20);
    // The engine the tender execs is this script: it keeps its last argument, the spec.
    const out = join(dir, 'spec.json');
    const engine = join(dir, 'engine');
    const argsOut = join(dir, 'args');
    writeFileSync(engine, `#!/bin/sh\nfor a; do last=$a; done\nprintf '%s' "$last" > '${out}'\nprintf '%s\\n' "$@" > '${argsOut}'\n`);
    chmodSync(engine, 0o755);
    const args = ['--', 'a "quoted" \\ arg', 'ünï', 'tab\there', '\u0001ctl'];
    const r = spawnSync(
      tender.path,
      [engine, bootstrap, join(FATA_ROOT, 'bin/fata.mjs'), 'run', '--mem=100', '--user=nobody', `--block:storage=${disk}`, image, ...args],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    // The engine's flags, before the bootstrap: the JavaScript tender's (run.ts) and --mem's V8 heap limit.
    const engineArgs = readFileSync(argsOut, 'utf8').split('\n');
    assert.deepEqual(engineArgs.slice(0, engineArgs.indexOf(bootstrap)), [
      '--max-semi-space-size=4',
      MAGLEV_AFTER,
      '--max-old-space-size=100',
    ]);
    const got = parseLaunchSpec(readFileSync(out, 'utf8'));
    assert.notEqual(typeof got, 'string', got as string);
    assert.deepEqual(got, {
      image,
      nets: [],
      blocks: [{ name: 'storage', fd: 3 }],
      bootArgs: args,
      native: true,
      user: 'nobody',
      memMb: 100,
      cgroup: undefined,
      impair: new Map(),
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
