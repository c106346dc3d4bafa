import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConsoleRing, LineSplitter, MAX_LINE } from './ring.ts';

test('the ring keeps the newest lines within its byte bound, whatever is pushed', () => {
  const ring = new ConsoleRing(10_000);
  for (let i = 0; i < 100_000; i++) ring.push({ t: i, stream: 'out', text: `line ${i} ${'x'.repeat(i % 200)}` });
  assert.ok(ring.bytes <= 10_000, `holds ${ring.bytes}`);
  const kept = ring.lines();
  assert.ok(kept.length > 10, 'not emptied');
  assert.equal(kept.at(-1)!.text.split(' ')[1], '99999', 'the newest is kept');
  for (let i = 1; i < kept.length; i++) assert.equal(kept[i]!.t, kept[i - 1]!.t + 1, 'in order, without gaps');
});

test('lines(since, last) filters by time and keeps the last N; followers see every new line until they stop', () => {
  const ring = new ConsoleRing();
  for (let t = 0; t < 10; t++) ring.push({ t, stream: 'out', text: String(t) });
  assert.deepEqual(
    ring.lines(7).map((l) => l.text),
    ['7', '8', '9'],
  );
  assert.deepEqual(
    ring.lines(0, 2).map((l) => l.text),
    ['8', '9'],
  );
  const a: string[] = [],
    b: string[] = [];
  const stopA = ring.follow((l) => a.push(l.text));
  ring.follow((l) => b.push(l.text));
  ring.push({ t: 10, stream: 'err', text: 'x' });
  stopA();
  ring.push({ t: 11, stream: 'err', text: 'y' });
  assert.deepEqual(a, ['x']);
  assert.deepEqual(b, ['x', 'y']);
});

test('the splitter cuts lines at newlines across chunks, and a run without one at MAX_LINE', () => {
  const out: string[] = [];
  const s = new LineSplitter((t) => out.push(t));
  s.push('ab');
  s.push('c\nde\n\nf');
  assert.deepEqual(out, ['abc', 'de', '']);
  s.push('g'.repeat(MAX_LINE * 2 + 5));
  assert.equal(out.length, 5, 'two pieces of MAX_LINE left without waiting for a newline');
  assert.equal(out[3], `f${'g'.repeat(MAX_LINE - 1)}`);
  s.end();
  assert.equal(out.at(-1), 'g'.repeat(6));
});
