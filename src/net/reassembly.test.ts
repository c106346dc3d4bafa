import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emitIpv4, Ipv4View } from '../wire/ipv4.ts';
import { Reassembler } from './reassembly.ts';

/** A fragment of datagram `ident` carrying `len` bytes of value `fill` at `off`. */
function frag(ident: number, off: number, len: number, more: boolean, fill = off & 0xff): Ipv4View {
  const b = new Uint8Array(20 + len).fill(fill, 20);
  emitIpv4({ src: 1, dst: 2, protocol: 17, ttl: 64, ident, fragOffset: off, moreFragments: more, payloadLen: len }, b);
  const v = Ipv4View.checked(b);
  assert.ok(v instanceof Ipv4View);
  return v;
}

test('fragments in any order reassemble to the datagram', () => {
  const r = new Reassembler();
  assert.equal(r.add(frag(1, 16, 8, false, 3), 0n), undefined);
  assert.equal(r.add(frag(1, 0, 8, true, 1), 0n), undefined);
  const whole = r.add(frag(1, 8, 8, true, 2), 0n);
  assert.ok(whole);
  assert.deepEqual([...whole.payload], [...new Array(8).fill(1), ...new Array(8).fill(2), ...new Array(8).fill(3)]);
  assert.equal(r.datagramsHeld, 0);
  assert.equal(r.bytesHeld, 0);
});

test('an exact duplicate is dropped alone; a partial overlap condemns the datagram', () => {
  const r = new Reassembler();
  r.add(frag(2, 0, 16, true), 0n);
  r.add(frag(2, 0, 16, true), 0n);
  assert.equal(r.drops['frag-duplicate'], 1);
  assert.equal(r.datagramsHeld, 1);
  r.add(frag(2, 8, 16, false), 0n);
  assert.equal(r.drops['frag-overlap'], 1);
  assert.equal(r.datagramsHeld, 0);
  assert.equal(r.bytesHeld, 0);
});

test('malformed fragments: unaligned middle fragment, data past the end, two different ends', () => {
  const r = new Reassembler();
  r.add(frag(3, 0, 12, true), 0n);
  assert.equal(r.drops['frag-malformed'], 1);
  r.add(frag(4, 16, 8, false), 0n);
  r.add(frag(4, 24, 8, true), 0n);
  r.add(frag(5, 32, 8, false), 0n);
  r.add(frag(5, 8, 8, false), 0n);
  assert.equal(r.drops['frag-malformed'], 3);
});

test('a datagram that would exceed 65535 bytes is refused', () => {
  const r = new Reassembler();
  r.add(frag(6, 65528, 16, false), 0n);
  assert.equal(r.drops['frag-too-big'], 1);
  assert.equal(r.datagramsHeld, 0);
});

test('incomplete datagrams time out; the quote goes back only when fragment zero came', () => {
  const r = new Reassembler({ timeoutNs: 1000n });
  r.add(frag(7, 0, 8, true), 0n);
  r.add(frag(8, 8, 8, false), 0n);
  assert.equal(r.nextDeadlineNs(), 1000n);
  const quotes: Uint8Array[] = [];
  assert.equal(
    r.expire(999n, (q) => quotes.push(q)),
    false,
  );
  assert.equal(
    r.expire(1000n, (q) => quotes.push(q)),
    true,
  );
  assert.equal(r.drops['frag-timeout'], 2);
  assert.equal(quotes.length, 1);
  assert.equal(quotes[0]!.length, 28, 'header and the first 8 data bytes');
});

test('memory stays bounded under a flood of distinct incomplete datagrams', () => {
  const r = new Reassembler({ maxDatagrams: 8, maxBytes: 64 * 1024 });
  for (let id = 0; id < 1000; id++) r.add(frag(id, (id % 40) * 1480, 1480, true), 0n);
  assert.ok(r.datagramsHeld <= 8);
  assert.ok(r.bytesHeld <= 64 * 1024, `${r.bytesHeld} bytes held`);
  assert.ok(r.drops['frag-evicted'] > 900);
  // Still works for a datagram that completes.
  r.add(frag(5000, 0, 8, true), 0n);
  assert.ok(r.add(frag(5000, 8, 8, false), 0n));
});

// The defaults the README states: "Reassembly is bounded: 64 datagrams, 4 MiB and 30 s by default".

test('default bound: 64 datagrams under reassembly; the 65th evicts the oldest', () => {
  const r = new Reassembler();
  for (let id = 0; id < 64; id++) r.add(frag(id, 0, 8, true), 0n);
  assert.equal(r.datagramsHeld, 64);
  assert.equal(r.drops['frag-evicted'], 0);
  r.add(frag(64, 0, 8, true), 0n);
  assert.equal(r.datagramsHeld, 64);
  assert.equal(r.drops['frag-evicted'], 1);
  assert.ok(r.add(frag(1, 8, 8, false), 0n), 'datagram 1 was kept: its end completes it');
  assert.equal(r.add(frag(0, 8, 8, false), 0n), undefined, 'datagram 0 was the one evicted: its end completes nothing');
});

test('default bound: 4 MiB of buffers, whatever the datagram count allows', () => {
  // Each datagram's buffer is as large as its furthest byte: one 8-byte fragment at 64000 holds 64008 bytes.
  const r = new Reassembler({ maxDatagrams: 1000 });
  for (let id = 0; id < 200; id++) r.add(frag(id, 64000, 8, true), 0n);
  const fit = Math.floor((4 * 1024 * 1024) / 64008); // 65
  assert.equal(r.datagramsHeld, fit);
  assert.equal(r.bytesHeld, fit * 64008);
  assert.ok(r.bytesHeld <= 4 * 1024 * 1024 && r.bytesHeld + 64008 > 4 * 1024 * 1024, 'full to within one datagram');
  assert.equal(r.drops['frag-evicted'], 200 - fit);
});

test('default bound: 30 s after the first fragment, an incomplete datagram is dropped', () => {
  const r = new Reassembler();
  r.add(frag(9, 0, 8, true), 5_000_000_000n);
  r.add(frag(9, 16, 8, true), 20_000_000_000n); // Later fragments do not extend it.
  assert.equal(r.nextDeadlineNs(), 35_000_000_000n);
  assert.equal(
    r.expire(34_999_999_999n, () => {}),
    false,
  );
  assert.equal(r.datagramsHeld, 1);
  assert.equal(
    r.expire(35_000_000_000n, () => {}),
    true,
  );
  assert.equal(r.datagramsHeld, 0);
  assert.equal(r.drops['frag-timeout'], 1);
});
