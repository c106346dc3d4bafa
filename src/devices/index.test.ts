import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkManifest, earlier, formatMac, parseMac, type DeviceDecl } from './index.ts';

const manifest = (devices: DeviceDecl[]) => ({ type: 'fata.manifest' as const, version: 1 as const, devices });

test('manifest rules follow Solo5: names alphanumeric, at most 67 chars, unique, at most 63 devices', () => {
  assert.equal(
    checkManifest(
      manifest([
        { name: 'service', type: 'net' },
        { name: 'storage', type: 'block' },
      ]),
    ),
    'ok',
  );
  assert.match(checkManifest(manifest([{ name: 'my-net', type: 'net' }])) as string, /letters or digits/);
  assert.match(checkManifest(manifest([{ name: 'a'.repeat(68), type: 'net' }])) as string, /1-67/);
  assert.match(
    checkManifest(
      manifest([
        { name: 'x', type: 'net' },
        { name: 'x', type: 'block' },
      ]),
    ) as string,
    /declared twice/,
  );
  const many = Array.from({ length: 64 }, (_, i) => ({ name: `n${i}`, type: 'net' as const }));
  assert.match(checkManifest(manifest(many)) as string, /at most 63/);
});

test("only a block device may be optional, and 'optional' is a boolean", () => {
  assert.equal(checkManifest(manifest([{ name: 'store', type: 'block', optional: true }])), 'ok');
  assert.equal(checkManifest(manifest([{ name: 'store', type: 'block', optional: false }])), 'ok');
  assert.match(checkManifest(manifest([{ name: 'service', type: 'net', optional: true }])) as string, /only block devices may be optional/);
  assert.match(checkManifest(manifest([{ name: 'htdocs', type: 'assets', optional: true }])) as string, /only block devices/);
  const yes = { name: 'store', type: 'block', optional: 'yes' } as unknown as DeviceDecl;
  assert.match(checkManifest(manifest([yes])) as string, /'optional' must be true or false/);
});

test('MAC addresses parse and format', () => {
  assert.deepEqual([...parseMac('02:00:5e:00:53:01')!], [2, 0, 0x5e, 0, 0x53, 1]);
  assert.deepEqual([...parseMac('02-00-5E-00-53-01')!], [2, 0, 0x5e, 0, 0x53, 1]);
  for (const bad of ['02:00:5e:00:53', '02:00:5e:00:53:01:02', 'zz:00:5e:00:53:01', '']) assert.equal(parseMac(bad), undefined, bad);
  assert.equal(formatMac(Uint8Array.of(2, 0, 0x5e, 0, 0x53, 1)), '02:00:5e:00:53:01');
});

test('earlier() picks the first of two optional deadlines', () => {
  assert.equal(earlier(undefined, undefined), undefined);
  assert.equal(earlier(5n, undefined), 5n);
  assert.equal(earlier(undefined, 7n), 7n);
  assert.equal(earlier(9n, 3n), 3n);
  assert.equal(earlier(3n, 3n), 3n);
});
