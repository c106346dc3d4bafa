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
