/**
 * The Stack (stack.ts) as one Pollable: start() announces the address
 * with a gratuitous ARP (RFC 5227 §2.3: sender and target address both
 * ours, to broadcast), poll reads at most rxBudget frames and says whether
 * anything moved, and drops() names every non-zero counter as
 * `layer.reason`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPipe } from '../link/index.ts';
import { drainFrames } from '../link/queue.ts';
import { VirtualClock } from '../sim/clock.ts';
import { SeededRandom } from '../sim/random.ts';
import { createStack, Stack } from './stack.ts';

const A = 0x0a000001;
const macA = Uint8Array.of(2, 0, 0, 0, 0, 1);

function setup(rxBudget?: number) {
  const [da, wire] = createPipe(macA, Uint8Array.of(2, 0, 0, 0, 0, 2));
  const s = createStack({
    device: da,
    clock: new VirtualClock(),
    random: new SeededRandom(3),
    ipv4: { address: A, prefixLen: 24 },
    rxBudget,
  });
  return { s, wire };
}
const junk = (type: number): Uint8Array => Uint8Array.from([...macA, 2, 0, 0, 0, 0, 2, type >> 8, type & 0xff, ...new Array(46).fill(0)]);

test('start: a gratuitous ARP for our address, to broadcast', () => {
  const { s, wire } = setup();
  assert.ok(s instanceof Stack);
  s.start();
  const [f, ...rest] = drainFrames(wire);
  assert.equal(rest.length, 0);
  assert.deepEqual([...f!.subarray(0, 6)], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  assert.deepEqual([f![12], f![13]], [0x08, 0x06]);
  assert.deepEqual([...f!.subarray(22, 28)], [...macA], 'sender hardware address');
  assert.deepEqual([...f!.subarray(28, 32)], [10, 0, 0, 1], 'sender protocol address');
  assert.deepEqual([...f!.subarray(38, 42)], [10, 0, 0, 1], 'target protocol address: the same');
});

test('poll: at most rxBudget frames a call (256 by default), true only when something moved; pollAtNs 0 while frames wait', () => {
  const { s, wire } = setup(2);
  assert.equal(s.poll(0n), false);
  for (let i = 0; i < 5; i++) wire.write(junk(0x88b5));
  assert.equal(s.pollAtNs(), 0n);
  assert.equal(s.poll(0n), true);
  assert.equal(s.ethernet.rxFrames, 2);
  s.poll(0n);
  s.poll(0n);
  assert.equal(s.ethernet.rxFrames, 5);
  assert.equal(s.poll(0n), false);
  assert.equal(s.pollAtNs(), undefined);
  const d = setup();
  for (let i = 0; i < 300; i++) d.wire.write(junk(0x88b5));
  d.s.poll(0n);
  assert.equal(d.s.ethernet.rxFrames, 256);
});

test('drops: every non-zero counter by layer and reason, nothing else', () => {
  const { s, wire } = setup();
  assert.deepEqual(s.drops(), {});
  wire.write(junk(0x88b5));
  wire.write(junk(0x88b5));
  wire.write(
    Uint8Array.from([
      ...macA,
      2,
      0,
      0,
      0,
      0,
      2,
      0x08,
      0x00,
      ...[0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1],
      ...new Array(26).fill(0),
    ]),
  ); // checksum 0: wrong
  s.poll(0n);
  assert.deepEqual(s.drops(), { 'ethernet.unknown-ethertype': 2, 'ipv4.checksum': 1 });
});
