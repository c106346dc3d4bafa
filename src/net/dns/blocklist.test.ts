/**
 * The filtering resolver's blocklist: hosts files and domain lists, what
 * blocks what (the name and everything below it, nothing beside it), bad
 * lines counted, never thrown, and a million entries in a table of 16 MiB.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Blocklist } from './blocklist.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

const HOSTS = `# StevenBlack-style hosts file
127.0.0.1 localhost
127.0.0.1 localhost.localdomain
255.255.255.255 broadcasthost
::1 localhost ip6-localhost
0.0.0.0 0.0.0.0
0.0.0.0 ads.example.com
0.0.0.0 Tracker.Example.NET metrics.example.net   # two on a line, then a comment
:: v6.ads.example.org
\t0.0.0.0\tTABS.example.org\r
`;
const DOMAINS = `# a plain domain list
doubleclick.test
*.wild.example.com
trailing.example.com.

not a domain line
bad..dots.example
0.0.0.0 ok.example.com extra_under_score.example
`;

test('hosts files and domain lists: what is blocked, what is not', () => {
  const { list, load } = Blocklist.load([
    { name: 'hosts', bytes: enc(HOSTS) },
    { name: 'domains', bytes: enc(DOMAINS) },
  ]);
  assert.equal(load.badLines, 2, load.examples.join('\n'));
  assert.deepEqual(load.examples, ['domains:6: not a domain line', 'domains:7: bad..dots.example']);
  for (const [name, by] of [
    ['ads.example.com.', 'ads.example.com'],
    ['x.y.ADS.example.com.', 'ADS.example.com'],
    ['tracker.example.net.', 'tracker.example.net'],
    ['metrics.example.net', 'metrics.example.net'],
    ['v6.ads.example.org.', 'v6.ads.example.org'],
    ['tabs.example.org.', 'tabs.example.org'],
    ['a.doubleclick.test.', 'doubleclick.test'],
    ['wild.example.com.', 'wild.example.com'],
    ['deep.wild.example.com.', 'wild.example.com'],
    ['trailing.example.com.', 'trailing.example.com'],
    ['ok.example.com.', 'ok.example.com'],
    ['extra_under_score.example.', 'extra_under_score.example'],
  ])
    assert.equal(list.match(name!), by, name);
  for (const name of [
    'example.com.',
    'notads.example.com.',
    'ads.example.com.evil.',
    'localhost.',
    'ip6-localhost.',
    'broadcasthost.',
    '0.0.0.0.',
    'example.net.',
    'bad..dots.example.',
    '.',
  ])
    assert.equal(list.match(name), undefined, name);
});

test('an empty list blocks nothing; a list grows past its first size; duplicates count once', () => {
  const l = new Blocklist();
  assert.equal(l.match('anything.example.'), undefined);
  for (let i = 0; i < 5000; i++) assert.ok(l.add(`n${i}.example.`));
  assert.ok(l.add('N1.EXAMPLE'));
  assert.equal(l.size, 5000);
  for (let i = 0; i < 5000; i++) assert.equal(l.match(`www.n${i}.example.`), `n${i}.example`);
  assert.equal(l.match('n5000.example.'), undefined);
  assert.equal(l.add('not a name'), false);
  assert.equal(l.add(`${'a'.repeat(64)}.example`), false, 'a label is at most 63 octets');
});

test('any bytes: lines are names or counted as bad, never thrown', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.string({ maxLength: 40 }), (bytes, q) => {
      const { list, load } = Blocklist.load([{ name: 'f', bytes }]);
      assert.ok(load.badLines >= 0 && list.size >= 0);
      list.match(q);
    }),
    { numRuns: 2000 },
  );
});

test('a million entries: all found, none invented, in a 16 MiB table', () => {
  const N = 1_000_000;
  const parts: string[] = [];
  for (let i = 0; i < N; i++) parts.push(i % 2 ? `0.0.0.0 ads${i}.t${i % 977}.example.com\n` : `m-${i}.s${i % 131}.example.net\n`);
  const bytes = enc(parts.join(''));
  const t0 = performance.now();
  const { list, load } = Blocklist.load([{ name: 'big', bytes }]);
  const ms = performance.now() - t0;
  assert.equal(load.entries, N);
  assert.equal(list.bytes, 16 * 1024 * 1024, 'two 32-bit hashes a slot, 2^21 slots');
  for (let i = 1; i < N; i += 998) assert.ok(list.match(`x.ads${i}.t${i % 977}.example.com.`), String(i));
  for (let i = 0; i < 20_000; i++) assert.equal(list.match(`ads${i}.other.example.`), undefined);
  // Recorded, not asserted: timing depends on the machine's load.
  console.log(`# 1,000,000 entries (${(bytes.length / 1e6).toFixed(1)} MB of text) loaded in ${ms.toFixed(0)} ms`);
});

test('every name hosts files map to themselves stays unblocked, even when listed; a name below one of them is blocked as listed', () => {
  const local = [
    'localhost',
    'localhost.localdomain',
    'local',
    'broadcasthost',
    'ip6-localhost',
    'ip6-loopback',
    'ip6-localnet',
    'ip6-mcastprefix',
    'ip6-allnodes',
    'ip6-allrouters',
    'ip6-allhosts',
  ];
  const list = new Blocklist();
  for (const n of local) assert.ok(list.add(n), n);
  assert.ok(list.add('ads.local'));
  for (const n of local) assert.equal(list.match(`${n}.`), undefined, n);
  assert.equal(list.match('printer.localhost.'), undefined, 'nor blocks what is below it');
  assert.equal(list.match('x.ads.LOCAL.'), 'ads.LOCAL', 'the listed name below, not the local name above it');
});

test('names: letters of either case at the ends of the alphabet, digits, - and _; labels up to 63, names up to 253 octets', () => {
  const list = new Blocklist();
  assert.ok(list.add('AZaz09-_.example'));
  assert.equal(list.match('azAZ09-_.EXAMPLE.'), 'azAZ09-_.EXAMPLE', 'compared without case, Z and z included');
  assert.equal(list.match('a@z09-_.example.'), undefined, '@ (just below A) is not lowered into `');
  for (const bad of ['a@b', 'a[b', 'a`b', 'a{b', 'a/b', 'a:b', 'a b', 'a..b', '.a', 'a.', '*.', '', '.'])
    assert.equal(new Blocklist().add(bad), bad === 'a.', JSON.stringify(bad));
  assert.equal(list.add('*.x'), true, 'a wildcard of one label');
  assert.equal(list.match('y.x.'), 'y.x'.slice(2));
  const l63 = 'a'.repeat(63);
  assert.equal(list.add(`${l63}.b`), true);
  assert.equal(list.add(`${l63}a.b`), false, 'a 64-octet label');
  const n253 = `${'a'.repeat(61)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}`;
  assert.equal(n253.length, 253);
  assert.equal(list.add(n253), true);
  assert.equal(list.add(`e${n253}`), false, '254 octets');
  assert.equal(list.add(`${n253}.`), true, 'a final dot is not counted');
});

test('hosts lines: the address may be IPv4 or IPv6 in any hex case with a zone; anything else first makes a bad line; text after NUL is padding', () => {
  const text = [
    '0123:4567:89ab:cdef:ABCD:EF00::1 hex.example',
    'fe80::1%2 zone.example',
    'fe80::1%lo0 localhost zone2.example',
    'fe80::1% nozone.example',
    '1.2.3.4%eth0 v4zone.example',
    'fe80::1%e/0 slash.example',
    '9.9.9.9 nine.example',
    '1.2.3 three.example',
    'g::1 g.example',
    'example.com other.example',
    '10.0.0.1 ok.example bad..name also.example',
    '0.0.0.0 #comment only',
    '    ',
    'a#b',
  ].join('\n');
  const bad: number[] = [];
  const list = new Blocklist();
  list.addText(new TextEncoder().encode(`${text}\n\0\0never.example\n`), (line) => bad.push(line));
  assert.deepEqual(bad, [4, 5, 6, 8, 9, 10, 11]);
  for (const n of ['hex.example', 'zone.example', 'zone2.example', 'nine.example', 'ok.example', 'also.example', 'a'])
    assert.equal(list.match(n), n, n);
  for (const n of [
    'nozone.example',
    'v4zone.example',
    'slash.example',
    'three.example',
    'g.example',
    'other.example',
    'comment',
    'never.example',
  ])
    assert.equal(list.match(n), undefined, n);
  assert.equal(list.size, 9, 'and 0.0.0.0 alone on its line, taken as a name (never matched: a local name)');
  assert.equal(list.match('0.0.0.0'), undefined);
});

test('Blocklist.load: at most five examples of bad lines; the table is sized from the line count and grows past it', () => {
  const { load } = Blocklist.load([{ name: 'f', bytes: new TextEncoder().encode('x y\n'.repeat(7)) }]);
  assert.equal(load.badLines, 7);
  assert.deepEqual(load.examples, ['f:1: x y', 'f:2: x y', 'f:3: x y', 'f:4: x y', 'f:5: x y']);
  assert.equal(new Blocklist().bytes, 16 * 8, '16 slots of two words');
  assert.equal(new Blocklist(8).bytes, 16 * 8, 'half full at most: 8 names fit 16 slots');
  assert.equal(new Blocklist(9).bytes, 32 * 8);
  const { list } = Blocklist.load([{ name: 'f', bytes: new TextEncoder().encode('a\nb\nc\nd\ne\nf\ng\n') }]);
  assert.equal(list.bytes, 16 * 8, '7 lines and a file: 8 names');
  const l = new Blocklist();
  for (let i = 0; i < 8; i++) l.add(`n${i}`);
  assert.equal(l.bytes, 16 * 8);
  l.add('n8');
  assert.equal(l.bytes, 32 * 8, 'the ninth name doubles the table');
  for (let i = 0; i < 9; i++) assert.equal(l.match(`n${i}`), `n${i}`);
});

test('blocklist edges past the first run: a name with a one-letter first label, a double final dot, a leading empty line, DEL against _, sizing from comment lines, and no false hits', () => {
  const list = new Blocklist();
  assert.equal(list.add('x.example'), true);
  assert.equal(list.match('example.'), undefined, 'only a leading `*.` is dropped, not any one-letter label');
  assert.equal(list.add('a..'), false, 'an empty last label');
  assert.equal(list.add('a_b'), true);
  assert.equal(list.match('a\u007fb.'), undefined, 'DEL is not _');
  const t = new Blocklist();
  t.addText(new TextEncoder().encode('\nads.example\nmore.example\n'));
  assert.deepEqual([t.match('ads.example'), t.match('more.example')], ['ads.example', 'more.example'], 'a first empty line');
  const bad: number[] = [];
  t.addText(new TextEncoder().encode('1-1.2.3.4 p.example\nZ::1 q.example\n=::1 r.example\n@::1 s.example\n'), (line) => bad.push(line));
  assert.deepEqual(bad, [1, 2, 3, 4], 'a first token with characters outside digits, hex letters, dots, colons and % is no address');
  // 8 lines (the first empty) and 1 file: 9 names expected, so 32 slots from the start; 7 lines would have been 16.
  const { list: sized } = Blocklist.load([{ name: 'f', bytes: new TextEncoder().encode(`\n${'#\n'.repeat(7)}one.example`) }]);
  assert.equal(sized.bytes, 32 * 8);
  const big = new Blocklist();
  for (let i = 0; i < 100; i++) assert.ok(big.add(`listed${i}.example`));
  assert.equal(big.size, 100);
  for (let i = 0; i < 100; i++) assert.equal(big.match(`listed${i}.example`), `listed${i}.example`);
  for (let i = 0; i < 300; i++) assert.equal(big.match(`other${i}.test`), undefined, `other${i}.test`);
});
