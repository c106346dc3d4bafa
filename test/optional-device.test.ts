/**
 * Optional block devices (`block({ optional: true })`, `"optional": true` in the manifest): both tenders start
 * the image without `--block:NAME=FILE` and `main` sees `undefined`; attached, the device works as any other.
 * Sealed (spt), the engine gets no descriptor for an absent device: the service finds none it may pwrite,
 * while an attached device gives it exactly one. The device check the tenders, the daemon and the policy
 * share (src/tender/check.ts) still refuses a required block device left out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkDevices } from '../src/tender/check.ts';
import type { Image } from '../src/build/image.ts';

const FATA = new URL('../bin/fata.mjs', import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;
const FIXTURE = 'test/fixtures/optional-block';
const sptSkip = process.arch !== 'x64' ? `the spt allow-list is for x86_64; this is ${process.arch}` : false;

function fata(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [FATA, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

function withDisk(f: (disk: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'fata-optional-'));
  try {
    const disk = join(dir, 'store.img');
    writeFileSync(disk, '');
    truncateSync(disk, 64 << 10);
    f(disk);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the manifest says which block device is optional; the device check lets only that one be left out', () => {
  const built = fata(['build', '-t', 'node', FIXTURE]);
  assert.equal(built.status, 0, built.out);
  const head = readFileSync(join(ROOT, FIXTURE, 'dist/optional-block.fata'), 'latin1').split('\n')[1]!;
  assert.deepEqual(JSON.parse(head).manifest.devices, [{ name: 'store', type: 'block', optional: true }]);
  const image = (devices: Image['manifest']['devices']) => ({ manifest: { devices, net: 'none' } }) as unknown as Image;
  const none = { nets: new Map(), blocks: new Map() };
  checkDevices(image([{ name: 'store', type: 'block', optional: true }]), none);
  assert.throws(() => checkDevices(image([{ name: 'store', type: 'block' }]), none), /block device 'store' is declared but not attached/);
  assert.throws(
    () => checkDevices(image([{ name: 'store', type: 'block', optional: false }]), none),
    /block device 'store' is declared but not attached/,
  );
  assert.throws(
    () => checkDevices(image([{ name: 'store', type: 'block', optional: true }]), { nets: new Map(), blocks: new Map([['other', 1]]) }),
    /--block:other attaches a device the image does not declare/,
  );
});

for (const target of ['node', 'spt'] as const) {
  test(`${target}: an optional block device left out is undefined in main; attached, it reads and writes`, {
    skip: target === 'spt' && sptSkip,
  }, () => {
    const absent = fata(['run', '-t', target, FIXTURE, ...(target === 'spt' ? ['--probe'] : [])]);
    assert.equal(absent.status, 0, absent.out);
    assert.match(absent.out, /event=device-absent device=store type=block/);
    assert.match(absent.out, /event=store-absent/);
    if (target === 'spt') assert.match(absent.out, /event=probe writable=none/, 'no block descriptor is allowed when none is attached');
    withDisk((disk) => {
      const present = fata(['run', '-t', target, `--block:store=${disk}`, FIXTURE, ...(target === 'spt' ? ['--probe'] : [])]);
      assert.equal(present.status, 0, present.out);
      assert.doesNotMatch(present.out, /device-absent/);
      assert.match(present.out, /event=store-present capacity=65536 write=ok read=ok same=true/);
      if (target === 'spt') assert.match(present.out, /event=probe writable=\d+\n/, 'exactly the attached block file is writable');
      assert.equal(readFileSync(disk)[0], 0x5a, 'the write reached the file');
    });
  });
}
