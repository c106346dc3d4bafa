/**
 * UDP (udp.ts, RFC 768) between two stacks on a pipe: what a socket
 * receives (addresses, ports, the payload), ephemeral ports from the
 * IANA dynamic range 49152-65535 (RFC 6335 §6) until none is left, the
 * port checks, the largest payload, and datagrams that are dropped and
 * counted (a bad checksum; a checksum of zero means none, RFC 768).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPipe } from '../link/index.ts';
import { Scheduler, SeededRandom } from '../sim/index.ts';
import { Stack } from './stack.ts';
import { EPHEMERAL_FIRST, EPHEMERAL_LAST, UDP_MAX_PAYLOAD, type UdpDatagram } from './udp.ts';

const S = 1_000_000_000n;
const A = 0x0a000001,
  B = 0x0a000002;
const macA = Uint8Array.of(2, 0, 0, 0, 0, 1),
  macB = Uint8Array.of(2, 0, 0, 0, 0, 2);

function twoHosts() {
  const sched = new Scheduler();
  const [da, db] = createPipe(macA, macB);
  const a = new Stack({ device: da, clock: sched.clock, random: new SeededRandom(1), ipv4: { address: A, prefixLen: 24 } });
  const b = new Stack({ device: db, clock: sched.clock, random: new SeededRandom(2), ipv4: { address: B, prefixLen: 24 } });
  sched.add(a);
  sched.add(b);
  const run = (): void => {
    sched.run({ untilNs: sched.clock.monotonicNs() + S });
  };
  return { sched, a, b, da, run };
}

test('a datagram arrives with its addresses, ports and payload; counters on both sides', () => {
  const { a, b, run } = twoHosts();
  const got: [number, number, number, number, number[]][] = [];
  const server = b.udp.bind(7, (d: UdpDatagram) => got.push([d.src, d.srcPort, d.dst, d.dstPort, [...d.data]]));
  assert.ok(typeof server !== 'string');
  const client = a.udp.bind(40000, () => {});
  assert.ok(typeof client !== 'string');
  assert.equal(client.send(B, 7, Uint8Array.of(1, 2, 3)), 'ok');
  run();
  assert.equal(client.send(B, 7, new Uint8Array(0)), 'ok');
  run();
  assert.deepEqual(got, [
    [A, 40000, B, 7, [1, 2, 3]],
    [A, 40000, B, 7, []],
  ]);
  assert.equal(a.udp.txDatagrams, 2);
  assert.equal(b.udp.rxDatagrams, 2);
  assert.equal(client.send(B, 8, Uint8Array.of(9)), 'ok');
  run();
  assert.equal(b.udp.drops['no-socket'], 1);
  assert.equal(b.udp.rxDatagrams, 2);
});

test('ports: 0 to 65535 only; a bound port is in use until closed; a closed socket cannot send', () => {
  const { a } = twoHosts();
  for (const p of [-1, 65536, 1.5, Number.NaN])
    assert.throws(
      () => a.udp.bind(p, () => {}),
      (e: Error) => e instanceof RangeError && e.message === `UDP port ${p} is not in 0-65535`,
    );
  const s = a.udp.bind(65535, () => {});
  assert.ok(typeof s !== 'string');
  assert.equal(s.port, 65535);
  assert.equal(
    a.udp.bind(65535, () => {}),
    'in-use',
  );
  s.close();
  s.close();
  assert.throws(() => s.send(B, 7, new Uint8Array(1)), /^Error: UDP socket on port 65535 is closed; bind a new one$/);
  const again = a.udp.bind(65535, () => {});
  assert.ok(typeof again !== 'string', 'free again after close');
  again.close();
});

test('ephemeral ports: 49152-65535 until none is left, then the one freed', () => {
  const { a } = twoHosts();
  assert.deepEqual([EPHEMERAL_FIRST, EPHEMERAL_LAST], [49152, 65535]);
  const seen = new Set<number>();
  for (let i = 0; i < 16384; i++) {
    const s = a.udp.bind(0, () => {});
    assert.ok(typeof s !== 'string', `bind ${i}`);
    assert.ok(s.port >= 49152 && s.port <= 65535, `${s.port}`);
    seen.add(s.port);
  }
  assert.equal(seen.size, 16384);
  assert.equal(
    a.udp.bind(0, () => {}),
    'no-ports',
  );
  a.udp.release(50000);
  const last = a.udp.bind(0, () => {});
  assert.ok(typeof last !== 'string');
  assert.equal(last.port, 50000);
  assert.equal(a.udp.bind(1234, () => {}) instanceof Object, true, 'a fixed port outside the range still binds');
});

test('the largest payload: 65535 - 20 - 8 bytes, one more is too big', () => {
  const { a, b, run } = twoHosts();
  assert.equal(UDP_MAX_PAYLOAD, 65507);
  const sizes: number[] = [];
  b.udp.bind(9, (d) => sizes.push(d.data.length));
  const s = a.udp.bind(0, () => {});
  assert.ok(typeof s !== 'string');
  assert.equal(s.send(B, 9, new Uint8Array(65508)), 'too-big');
  assert.equal(s.send(B, 9, new Uint8Array(1)), 'ok');
  run();
  assert.equal(s.send(B, 9, new Uint8Array(65507).fill(5)), 'ok');
  run();
  assert.deepEqual(sizes, [1, 65507]);
});

/** A UDP datagram to B:7 from A:5000 as a whole Ethernet frame, its checksum given. */
function rawFrame(payload: number[], checksum: number): Uint8Array {
  const ulen = 8 + payload.length;
  const ip = [0x45, 0, (20 + ulen) >> 8, (20 + ulen) & 0xff, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += (ip[i]! << 8) | ip[i + 1]!;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  ip[10] = (~s >> 8) & 0xff;
  ip[11] = ~s & 0xff;
  const udp = [0x13, 0x88, 0, 7, ulen >> 8, ulen & 0xff, checksum >> 8, checksum & 0xff, ...payload];
  const f = Uint8Array.from([...macB, ...macA, 0x08, 0x00, ...ip, ...udp]);
  return f.length < 60 ? Uint8Array.from([...f, ...new Array(60 - f.length).fill(0)]) : f;
}
/** The UDP checksum of the datagram rawFrame builds (pseudo-header, header, payload). */
function udpChecksum(payload: number[]): number {
  const ulen = 8 + payload.length;
  const words = [0x0a00, 0x0001, 0x0a00, 0x0002, 17, ulen, 5000, 7, ulen];
  let s = words.reduce((x, y) => x + y, 0);
  for (let i = 0; i < payload.length; i += 2) s += (payload[i]! << 8) | (payload[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  const c = ~s & 0xffff;
  return c === 0 ? 0xffff : c;
}

test('checksums: a right one or none (zero) is accepted, a wrong one is dropped and counted', () => {
  const { b, da, run } = twoHosts();
  const got: number[][] = [];
  b.udp.bind(7, (d) => got.push([...d.data]));
  const p = [0xde, 0xad, 0xbe];
  da.write(rawFrame(p, udpChecksum(p)));
  da.write(rawFrame(p, 0));
  da.write(rawFrame(p, udpChecksum(p) ^ 1));
  run();
  assert.deepEqual(got, [p, p]);
  assert.equal(b.udp.drops.checksum, 1);
  assert.equal(b.udp.rxDatagrams, 2);
});

test('closing a socket twice does not free the port a newer socket holds', () => {
  const { a } = twoHosts();
  const old = a.udp.bind(5353, () => {});
  assert.ok(typeof old !== 'string');
  old.close();
  const now = a.udp.bind(5353, () => {});
  assert.ok(typeof now !== 'string');
  old.close();
  assert.equal(
    a.udp.bind(5353, () => {}),
    'in-use',
  );
});
