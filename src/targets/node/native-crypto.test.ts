/**
 * The sealed engine's SHA-256 and randomness without `node:crypto`
 * (./native-crypto.ts), and the bootstrap bundle's promise that importing
 * it loads no `node:crypto` (src/host/bundle-cache.mjs makes that module
 * lazy; the bootstrap hashes and draws randomness through native-crypto).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { fillRandom, sha256Hex } from './native-crypto.ts';
// @ts-expect-error -- plain JavaScript on purpose (see the file); typed by its JSDoc.
import { hostEntry } from '../../host/bundle-cache.mjs';

test('sha256Hex is SHA-256: equal to node:crypto at every block boundary and for a large buffer', () => {
  const data = new Uint8Array(300_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, data.length]) {
    const b = data.subarray(0, n);
    assert.equal(sha256Hex(b), createHash('sha256').update(b).digest('hex'), `length ${n}`);
  }
  // A view into a larger buffer is hashed from its own offset, not from the buffer's start.
  const view = data.subarray(7, 107);
  assert.equal(sha256Hex(view), createHash('sha256').update(view).digest('hex'));
});

test('fillRandom fills every byte of buffers of any size, and two fills differ', () => {
  for (const n of [1, 16, 300, 70_000]) {
    const a = new Uint8Array(n);
    const b = new Uint8Array(n);
    fillRandom(a);
    fillRandom(b);
    assert.notDeepEqual(a, b, `length ${n}`);
    if (n >= 300) {
      // Every byte written: the last 16 are not all still zero (a chance of 2^-128).
      assert.ok(
        a.subarray(n - 16).some((x) => x !== 0),
        `length ${n}: the tail was left unwritten`,
      );
      // 300 uniform bytes show about 177 of the 256 values; 70,000 show all of them.
      assert.ok(new Set(a).size > (n > 10_000 ? 255 : 120), `length ${n}: ${new Set(a).size} distinct byte values`);
    }
  }
  // A view is filled in place, and nothing around it is touched.
  const whole = new Uint8Array(64);
  fillRandom(whole.subarray(16, 48));
  assert.ok(whole.subarray(0, 16).every((x) => x === 0) && whole.subarray(48).every((x) => x === 0));
  assert.ok(whole.subarray(16, 48).some((x) => x !== 0));
});

test('the spt bootstrap bundle loads no node:crypto before it runs', async () => {
  const bootstrap = await (hostEntry as (n: string) => Promise<string>)('bootstrap');
  assert.match(bootstrap, /\.cjs$/, 'the bootstrap is bundled (CommonJS)');
  // A malformed launch spec ends the bootstrap early, after all of its imports have run.
  const probe = `process.on('exit', () => process.stdout.write(JSON.stringify(process.moduleLoadList.filter((m) => /crypto/.test(m)))));`;
  const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(probe)}`, bootstrap, '{}'], {
    encoding: 'utf8',
  });
  assert.match(r.stderr, /malformed launch spec/, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [], 'crypto modules loaded by the bootstrap');
});
