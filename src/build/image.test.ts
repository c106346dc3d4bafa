/**
 * The image format (image.ts): the first line, the sorted header, the
 * sections back to back, the same bytes for the same input; and a reader
 * that refuses, with a message and never an exception, every image that is
 * not one it wrote: a wrong first line, a changed byte, and (hash made
 * right again, as anyone can) a header that is not the shape it writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { IMAGE_MAGIC, type ImageManifest, readImage, writeImage } from './image.ts';

const manifest: ImageManifest = {
  type: 'fata.manifest',
  version: 1,
  devices: [
    { name: 'service', type: 'net' },
    { name: 'www', type: 'assets', modifiedMs: 1700000000000 },
  ],
  name: 'hello',
  target: 'node',
  net: 'direct',
  engine: 'node v24.21.0',
  params: { greeting: { type: 'string', default: 'hi' } } as unknown as ImageManifest['params'],
};
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const bundle = enc('console.log("hi");\n');
const asset = enc('<h1>hi</h1>');
const sections: [string, Uint8Array][] = [
  ['bundle', bundle],
  ['asset:www:/index.html', asset],
];

/** An image with any header text and body, its first line (hash, length) made right. */
function craft(header: string, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const rest = new Uint8Array([...enc(header), ...body]);
  return new Uint8Array([...enc(`FATA1 ${sha(rest)} ${enc(header).length}\n`), ...rest]);
}
/** The error a read gives, failing the test if there is none. */
function refusal(bytes: Uint8Array, what?: string): string {
  const r = what === undefined ? readImage(bytes) : readImage(bytes, what);
  assert.ok('error' in r, 'the image was accepted');
  return r.error;
}

test('the layout: FATA1 <sha256 of the rest> <header length>, a sorted JSON header line, the sections back to back', () => {
  const out = writeImage(manifest, sections);
  const nl = out.indexOf(10);
  const first = dec(out.subarray(0, nl));
  const m = /^FATA1 ([0-9a-f]{64}) (\d+)$/.exec(first);
  assert.ok(m, first);
  assert.equal(IMAGE_MAGIC, 'FATA1');
  const rest = out.subarray(nl + 1);
  assert.equal(m[1], sha(rest));
  const hlen = Number(m[2]);
  const header = dec(rest.subarray(0, hlen));
  assert.ok(header.endsWith('}\n'), 'the header is one line');
  assert.equal(header.indexOf('\n'), hlen - 1);
  const parsed = JSON.parse(header) as { manifest: ImageManifest; sections: { name: string; offset: number; length: number }[] };
  assert.deepEqual(Object.keys(parsed), ['manifest', 'sections']);
  assert.deepEqual(Object.keys(parsed.manifest), ['devices', 'engine', 'name', 'net', 'params', 'target', 'type', 'version']);
  assert.deepEqual(Object.keys(parsed.manifest.devices[1]!), ['modifiedMs', 'name', 'type'], 'sorted inside arrays too');
  assert.deepEqual(parsed.manifest, manifest);
  assert.deepEqual(parsed.sections, [
    { length: bundle.length, name: 'bundle', offset: 0 },
    { length: asset.length, name: 'asset:www:/index.html', offset: bundle.length },
  ]);
  assert.deepEqual(Object.keys(parsed.sections[0]!), ['length', 'name', 'offset']);
  assert.equal(rest.length, hlen + bundle.length + asset.length);
  assert.deepEqual(rest.subarray(hlen, hlen + bundle.length), bundle);
  assert.deepEqual(rest.subarray(hlen + bundle.length), asset);
});

test('same input, same bytes, whatever order the keys were given in', () => {
  const shuffled = JSON.parse(
    JSON.stringify({
      params: manifest.params,
      version: 1,
      target: 'node',
      net: 'direct',
      name: 'hello',
      engine: manifest.engine,
      devices: [
        { type: 'net', name: 'service' },
        { type: 'assets', modifiedMs: 1700000000000, name: 'www' },
      ],
      type: 'fata.manifest',
    }),
  ) as ImageManifest;
  assert.deepEqual(writeImage(shuffled, sections), writeImage(manifest, sections));
  assert.notDeepEqual(writeImage({ ...manifest, name: 'other' }, sections), writeImage(manifest, sections));
});

test('what it writes it reads back: manifest, hash and every section', () => {
  const out = writeImage(manifest, sections);
  const r = readImage(out);
  assert.ok(!('error' in r), 'error' in r ? r.error : '');
  assert.deepEqual(r.manifest, manifest);
  assert.equal(r.sha256, sha(out.subarray(out.indexOf(10) + 1)));
  assert.deepEqual([...r.sections.keys()], ['bundle', 'asset:www:/index.html']);
  assert.deepEqual(r.sections.get('bundle'), bundle);
  assert.deepEqual(r.sections.get('asset:www:/index.html'), asset);
  const empty = readImage(writeImage(manifest, [['bundle', new Uint8Array(0)]]));
  assert.ok(!('error' in empty));
  assert.equal(empty.sections.get('bundle')?.length, 0);
});

test('a bad manifest is a programmer error when writing', () => {
  assert.throws(
    () => writeImage({ ...manifest, devices: [{ name: 'a-b', type: 'net' }] }, sections),
    (e: Error) => e.message.startsWith('writeImage: ') && e.message.includes("device name 'a-b'"),
  );
  assert.throws(() => writeImage({ ...manifest, version: 2 as 1 }, sections), /^Error: writeImage: not a version 1 fata.manifest$/);
});

test('not an image: no first line, another magic, a malformed hash or length', () => {
  const not = "image is not a Fata image (no FATA1 header); build one with 'fata build DIR'";
  const good = writeImage(manifest, sections);
  const nl = good.indexOf(10);
  const first = dec(good.subarray(0, nl));
  const rest = good.subarray(nl + 1);
  const withFirst = (line: string): Uint8Array => new Uint8Array([...enc(`${line}\n`), ...rest]);
  assert.equal(refusal(new Uint8Array(0)), not);
  assert.equal(refusal(good.subarray(0, nl)), not, 'the first line without its newline');
  assert.equal(refusal(enc('\n')), not);
  assert.equal(refusal(withFirst(first.replace('FATA1', 'FATA2'))), not);
  assert.equal(refusal(withFirst(` ${first}`)), not);
  assert.equal(refusal(withFirst(`${first} `)), not);
  assert.equal(refusal(withFirst(first.replace(/ (\d+)$/, ' x$1'))), not);
  assert.equal(refusal(withFirst(first.replace(/ (\d+)$/, ''))), not);
  assert.equal(refusal(withFirst(first.replace(/ ([0-9a-f]{64}) /, (_, h: string) => ` ${h.toUpperCase()} `))), not);
  assert.equal(refusal(withFirst(first.replace(/ ([0-9a-f])/, ' '))), not, '63 hex digits');
  assert.equal(refusal(withFirst(first.replace(/ ([0-9a-f])/, ' $1$1'))), not, '65 hex digits');
  assert.equal(refusal(enc('x'.repeat(5000)), 'app.fata'), not.replace('image', 'app.fata'));
});

test('a changed byte anywhere after the first line is refused by the hash, with both hashes', () => {
  const good = writeImage(manifest, sections);
  const nl = good.indexOf(10);
  const said = /^FATA1 ([0-9a-f]{64})/.exec(dec(good.subarray(0, nl)))![1]!;
  fc.assert(
    fc.property(fc.integer({ min: nl + 1, max: good.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
      const bad = good.slice();
      bad[at] = bad[at]! ^ x;
      const got = sha(bad.subarray(nl + 1));
      assert.equal(
        refusal(bad, 'web.fata'),
        `web.fata is corrupted: its SHA-256 is ${got}, the header says ${said}; rebuild it with 'fata build'`,
      );
    }),
    { numRuns: 200 },
  );
  assert.match(refusal(good.subarray(0, good.length - 1)), /^image is corrupted: /, 'a byte short');
});

test('a header that is not the shape it writes is refused, never thrown (hash made right again)', () => {
  const body = new Uint8Array([...bundle]);
  const table = [{ name: 'bundle', offset: 0, length: bundle.length }];
  const header = (v: unknown): string => `${JSON.stringify(v)}\n`;
  const unreadable = "image has an unreadable header; rebuild it with 'fata build'";
  assert.equal(refusal(craft('{"manifest":', body)), unreadable);
  assert.equal(refusal(craft('', body)), unreadable);
  const shape = 'image has no manifest or bundle; rebuild it';
  for (const v of [null, 5, 'x', [], {}, { manifest }, { manifest, sections: 5 }, { manifest, sections: {} }, { sections: table }])
    assert.equal(refusal(craft(header(v), body)), shape, JSON.stringify(v));
  const table_ = 'image has a bad section table; rebuild it';
  for (const s of [null, 5, 'bundle', {}, { name: 'bundle' }, { name: 'bundle', offset: 0 }, { name: 5, offset: 0, length: 1 }])
    assert.equal(refusal(craft(header({ manifest, sections: [s] }), body)), table_, JSON.stringify(s));
  assert.equal(refusal(craft(header({ manifest: null, sections: table }), body)), shape);
  assert.equal(refusal(craft(header({ manifest: { ...manifest, type: 'other' }, sections: table }), body)), shape);
  assert.equal(refusal(craft(header({ manifest, sections: [{ name: 'other', offset: 0, length: 1 }] }), body)), shape);
  for (const [offset, length] of [
    [-1, 1],
    [0, -1],
    [0.5, 1],
    [0, 1.5],
    [0, '1'],
    ['0', 1],
    [0, 2 ** 53],
  ] as const) {
    const r = refusal(craft(header({ manifest, sections: [{ name: 'bundle', offset, length }] }), body));
    assert.equal(r, table_, `offset ${offset} length ${length}`);
  }
});

test('sections must lie inside the body: one byte past is truncated, up to the end is whole', () => {
  const body = new Uint8Array([...bundle, ...asset]);
  const h = (sections: unknown): string => `${JSON.stringify({ manifest, sections })}\n`;
  const at = (offset: number, length: number) => [
    { name: 'bundle', offset: 0, length: 1 },
    { name: 'asset:www:/a', offset, length },
  ];
  assert.equal(refusal(craft(h(at(bundle.length, asset.length + 1)), body)), 'image is truncated (section asset:www:/a); rebuild it');
  assert.equal(refusal(craft(h(at(body.length, 1)), body)), 'image is truncated (section asset:www:/a); rebuild it');
  const whole = readImage(craft(h(at(bundle.length, asset.length)), body));
  assert.ok(!('error' in whole), 'error' in whole ? whole.error : '');
  assert.deepEqual(whole.sections.get('asset:www:/a'), asset);
  assert.deepEqual(whole.sections.get('bundle'), bundle.subarray(0, 1));
  const end = readImage(craft(h(at(body.length, 0)), body));
  assert.ok(!('error' in end));
  assert.equal(end.sections.get('asset:www:/a')?.length, 0);
});

test('a manifest the devices check or the image fields refuse', () => {
  const table = [{ name: 'bundle', offset: 0, length: bundle.length }];
  const read = (m: unknown, what?: string): string => refusal(craft(`${JSON.stringify({ manifest: m, sections: table })}\n`, bundle), what);
  assert.equal(
    read(
      {
        ...manifest,
        devices: [
          { name: 'x', type: 'net' },
          { name: 'x', type: 'block' },
        ],
      },
      'w.fata',
    ),
    "w.fata has a bad manifest: device 'x' is declared twice; give each device its own name; rebuild it",
  );
  assert.equal(read({ ...manifest, version: 2 }), 'image has a bad manifest: not a version 1 fata.manifest; rebuild it');
  const fields = 'image has a bad manifest (name, target, net, engine or params); rebuild it';
  for (const [k, v] of [
    ['name', 5],
    ['name', undefined],
    ['target', 'hvt'],
    ['target', undefined],
    ['net', 'tap'],
    ['net', undefined],
    ['engine', 24],
    ['engine', undefined],
    ['params', null],
    ['params', 'none'],
    ['params', undefined],
  ] as const) {
    assert.equal(read({ ...manifest, [k]: v }), fields, `${k}: ${String(v)}`);
  }
  for (const [k, v] of [
    ['target', 'spt'],
    ['net', 'socket'],
    ['net', 'none'],
  ] as const) {
    const r = readImage(craft(`${JSON.stringify({ manifest: { ...manifest, [k]: v }, sections: table })}\n`, bundle));
    assert.ok(!('error' in r), `${k}: ${JSON.stringify(v)}: ${'error' in r ? r.error : ''}`);
  }
});

test('any bytes at all: refused with a message or read, never thrown', () => {
  const good = writeImage(manifest, sections);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (junk) => {
      const r = readImage(junk);
      assert.ok('error' in r);
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      readImage(craft(`${JSON.stringify(v)}\n`, bundle));
      readImage(craft(`${JSON.stringify({ manifest, sections: v })}\n`, bundle));
      readImage(craft(`${JSON.stringify({ manifest, sections: [v] })}\n`, bundle));
    }),
    { numRuns: 300 },
  );
  assert.ok(!('error' in readImage(good)));
});
