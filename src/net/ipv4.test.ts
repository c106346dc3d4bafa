/**
 * The IPv4 layer (ipv4.ts): which addresses are broadcasts (limited and
 * directed, none on a /31 or /32), routes (on-link, the gateway, none),
 * the send checks (no address, too big, DF, TTL 1-255), fragmentation as
 * RFC 791 lays it out (every fragment but the last a multiple of 8 bytes,
 * offsets in 8-byte units, MF on all but the last, one identification),
 * and what the receive side drops. Frames are read raw from the other end
 * of a pipe; broadcasts need no ARP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPipe } from '../link/index.ts';
import { drainFrames } from '../link/queue.ts';
import { Scheduler, SeededRandom } from '../sim/index.ts';
import { Stack } from './stack.ts';
import { IPV4_PAYLOAD_AT } from './ipv4.ts';

const A = 0x0a000001,
  B = 0x0a000002,
  BCAST = 0x0a0000ff;
const be16 = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!;

function host(config: { address: number; prefixLen: number; gateway?: number; ttl?: number }, mtu = 1500) {
  const sched = new Scheduler();
  const [da, db] = createPipe(Uint8Array.of(2, 0, 0, 0, 0, 1), Uint8Array.of(2, 0, 0, 0, 0, 2), mtu, 4096);
  const s = new Stack({ device: da, clock: sched.clock, random: new SeededRandom(1), ipv4: config });
  return { s, ip: s.ipv4, wire: db, sched };
}

test('broadcasts: 255.255.255.255 always, the directed one of a /30 or wider, none else', () => {
  const { ip } = host({ address: A, prefixLen: 24 });
  assert.equal(ip.isBroadcast(0xffffffff), true);
  assert.equal(ip.isBroadcast(BCAST), true);
  assert.equal(ip.isBroadcast(0x0a0001ff), false, 'another subnet');
  assert.equal(ip.isBroadcast(0x0a0000fe), false);
  assert.equal(ip.isBroadcast(0x0a000000), false, 'the network address');
  assert.equal(host({ address: A, prefixLen: 30 }).ip.isBroadcast(0x0a000003), true);
  assert.equal(host({ address: A, prefixLen: 31 }).ip.isBroadcast(0x0a000001), false, 'a /31 has no broadcast (RFC 3021)');
  assert.equal(host({ address: A, prefixLen: 32 }).ip.isBroadcast(A), false);
  assert.equal(host({ address: 0, prefixLen: 24 }).ip.isBroadcast(0x000000ff), false, 'unconfigured: only the limited broadcast');
  assert.equal(host({ address: 0, prefixLen: 24 }).ip.isBroadcast(0xffffffff), true);
});

test('routes: on-link addresses directly, the rest through the gateway, or no route', () => {
  const { ip, s } = host({ address: A, prefixLen: 24, gateway: 0x0a0000fe });
  assert.equal(ip.route(0x0a000063), 0x0a000063);
  assert.equal(ip.route(0x08080808), 0x0a0000fe);
  const lone = host({ address: A, prefixLen: 24 });
  assert.equal(lone.ip.route(0x08080808), undefined);
  assert.equal(lone.ip.send(0x08080808, 17, 10), 'no-route');
  // Counted (found by the fuzz target 'stack''s accounting: an echo request from an off-link source was answered into nothing, uncounted).
  assert.equal(lone.ip.allDrops()['no-route'], 1);
  assert.equal(s.ipv4.address, A);
});

test('send checks: no address (but the limited broadcast), too big, DF over the MTU, TTL 1 to 255', () => {
  const none = host({ address: 0, prefixLen: 0 });
  assert.equal(none.ip.send(B, 17, 10), 'no-address');
  assert.equal(none.ip.drops['no-address'], 1);
  assert.equal(none.ip.send(0xffffffff, 17, 10), 'ok', 'DHCP before an address');
  const { ip, wire } = host({ address: A, prefixLen: 24 });
  assert.equal(ip.send(BCAST, 17, 65516), 'too-big');
  assert.equal(ip.send(BCAST, 17, 1481, { dontFragment: true }), 'too-big');
  assert.equal(ip.send(BCAST, 17, 1480, { dontFragment: true }), 'ok');
  for (const ttl of [0, 256, 1.5]) assert.throws(() => ip.send(BCAST, 17, 10, { ttl }), new RangeError(`TTL ${ttl} is not in 1-255`));
  assert.equal(ip.send(BCAST, 17, 10, { ttl: 1, tos: 0x10 }), 'ok');
  assert.equal(ip.send(BCAST, 17, 10, { ttl: 255 }), 'ok');
  const frames = drainFrames(wire);
  assert.deepEqual(
    frames.map((f) => [f[15], f[22], be16(f, 16), be16(f, 20) & 0x4000]),
    [
      [0, 64, 1500, 0x4000],
      [0x10, 1, 30, 0],
      [0, 255, 30, 0],
    ],
  );
  assert.deepEqual([...frames[0]!.subarray(0, 6)], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  assert.equal(host({ address: A, prefixLen: 24, ttl: 9 }).ip.send(BCAST, 17, 1), 'ok');
});

test('fragments: 3000 bytes over a 1500-byte MTU are 1480 + 1480 + 40, offsets 0, 185, 370, MF on the first two, one identification', () => {
  const { ip, wire } = host({ address: A, prefixLen: 24 });
  for (let i = 0; i < 3000; i++) ip.tx[IPV4_PAYLOAD_AT + i] = i & 0xff;
  assert.equal(ip.send(BCAST, 17, 3000), 'ok');
  assert.equal(ip.txFragments, 3);
  const frames = drainFrames(wire);
  assert.deepEqual(
    frames.map((f) => [be16(f, 16), be16(f, 20) >> 13, be16(f, 20) & 0x1fff, be16(f, 18)]),
    [
      [1500, 1, 0, be16(frames[0]!, 18)],
      [1500, 1, 185, be16(frames[0]!, 18)],
      [60, 0, 370, be16(frames[0]!, 18)],
    ],
  );
  const joined = frames.flatMap((f) => [...f.subarray(34)]);
  assert.deepEqual(
    joined,
    Array.from({ length: 3000 }, (_, i) => i & 0xff),
  );
  ip.send(BCAST, 17, 10);
  const [next] = drainFrames(wire);
  assert.equal(be16(next!, 18), (be16(frames[0]!, 18) + 1) & 0xffff, 'identifications count up');
  ip.send(BCAST, 17, 10, { ident: 0xbeef });
  assert.equal(be16(drainFrames(wire)[0]!, 18), 0xbeef);
});

test('fragments over an MTU that is not 20 + a multiple of 8: each but the last rounded down to 8 bytes', () => {
  const { ip, wire } = host({ address: A, prefixLen: 24 }, 1006);
  assert.equal(ip.send(BCAST, 17, 2000), 'ok');
  assert.deepEqual(
    drainFrames(wire).map((f) => [be16(f, 16) - 20, be16(f, 20) & 0x1fff]),
    [
      [984, 0],
      [984, 123],
      [32, 246],
    ],
  );
});

/** An IPv4 datagram from `src` to `dst` as a frame to host A's MAC, header checksum right. */
function datagram(src: number, dst: number, protocol: number, payload: number[] = [0, 0, 0, 0, 0, 0, 0, 0]): Uint8Array {
  const len = 20 + payload.length;
  const h = [0x45, 0, len >> 8, len & 0xff, 0, 7, 0, 0, 64, protocol, 0, 0];
  for (const a of [src, dst]) h.push(a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff);
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += (h[i]! << 8) | h[i + 1]!;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  h[10] = (~s >> 8) & 0xff;
  h[11] = ~s & 0xff;
  const f = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00, ...h, ...payload];
  while (f.length < 60) f.push(0);
  return Uint8Array.from(f);
}

test('receive: not for us, a broadcast or multicast source, an unknown protocol (answered unless to a broadcast)', () => {
  const { s, ip, wire, sched } = host({ address: A, prefixLen: 24 });
  sched.add(s);
  const got: number[] = [];
  ip.register(200, { receive: (p) => got.push(p.src) });
  wire.write(datagram(B, A, 200));
  wire.write(datagram(B, BCAST, 200));
  wire.write(datagram(B, 0xffffffff, 200));
  wire.write(datagram(B, 0x0a000003, 200));
  wire.write(datagram(0xffffffff, A, 200));
  wire.write(datagram(0xe0000001, A, 200));
  wire.write(datagram(BCAST, A, 200));
  wire.write(datagram(B, BCAST, 201));
  sched.run({ untilNs: 1_000_000n });
  assert.deepEqual(got, [B, B, B]);
  assert.equal(ip.drops['not-for-us'], 1);
  assert.equal(ip.drops['bad-source'], 3);
  assert.equal(ip.drops['unknown-protocol'], 1);
  assert.equal(s.icmp.errorsSent, 0, 'no protocol unreachable for a broadcast');
  wire.write(datagram(B, A, 201));
  sched.run({ untilNs: 2_000_000n });
  assert.equal(ip.drops['unknown-protocol'], 2);
  assert.equal(ip.rxDatagrams, 5);
  const unconfigured = host({ address: 0, prefixLen: 0 });
  unconfigured.sched.add(unconfigured.s);
  const seen: number[] = [];
  unconfigured.ip.register(200, { receive: (p) => seen.push(p.dst) });
  unconfigured.wire.write(datagram(B, 0x0a000063, 200));
  unconfigured.sched.run({ untilNs: 1_000_000n });
  assert.deepEqual(seen, [0x0a000063], 'unconfigured, any address is ours (a DHCP offer, RFC 2131 §4.1)');
});
