/** ARP probes and conflicts, routing through the gateway, and send-side limits, in simulation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPipe, drainFrames } from '../src/link/index.ts';
import { Stack } from '../src/net/index.ts';
import { Scheduler, SeededRandom } from '../src/sim/index.ts';
import { ArpView, emitArp, emitEthernet, ETHERTYPE_ARP, EthernetView, Ipv4View, parseArp } from '../src/wire/index.ts';
import { ip, pattern, simNet } from './sim-helpers.ts';

/** A stack on one end of a pipe; the test plays the other end by hand. */
function stackOnPipe(): { s: Stack; peer: ReturnType<typeof createPipe>[1]; sched: Scheduler } {
  const sched = new Scheduler();
  const [a, b] = createPipe(Uint8Array.of(2, 0, 0, 0, 0, 1), Uint8Array.of(2, 0, 0, 0, 0, 9));
  const s = new Stack({ device: a, clock: sched.clock, random: new SeededRandom(1), ipv4: { address: ip('10.0.0.1'), prefixLen: 24 } });
  sched.add(s);
  return { s, peer: b, sched };
}

const readAll = drainFrames;

function arpFrame(op: number, senderIp: number, targetIp: number, targetMac = new Uint8Array(6)): Uint8Array {
  const f = new Uint8Array(42);
  const me = Uint8Array.of(2, 0, 0, 0, 0, 9);
  emitEthernet({ dst: Uint8Array.of(255, 255, 255, 255, 255, 255), src: me, ethertype: ETHERTYPE_ARP }, f);
  emitArp({ operation: op, senderMac: me, senderIp, targetMac, targetIp }, f.subarray(14));
  return f;
}

test('start announces the address with a gratuitous ARP', () => {
  const { s, peer } = stackOnPipe();
  s.start();
  const [f] = readAll(peer);
  assert.ok(f);
  const a = parseArp(ArpView.checked((EthernetView.checked(f) as EthernetView).payload()) as ArpView);
  assert.equal(a.senderIp, ip('10.0.0.1'));
  assert.equal(a.targetIp, ip('10.0.0.1'));
});

test('an ARP probe (sender 0.0.0.0, RFC 5227) for our address is answered', () => {
  const { s, peer, sched } = stackOnPipe();
  peer.write(arpFrame(1, 0, ip('10.0.0.1')));
  sched.run({ untilNs: 1000n });
  const [f] = readAll(peer);
  assert.ok(f, 'a reply was sent');
  const a = parseArp(ArpView.checked((EthernetView.checked(f) as EthernetView).payload()) as ArpView);
  assert.equal(a.operation, 2);
  assert.equal(a.senderIp, ip('10.0.0.1'));
  assert.deepEqual([...a.targetMac], [2, 0, 0, 0, 0, 9]);
  assert.equal(s.arp.lookup(0), undefined, 'a probe teaches nothing');
});

test('someone claiming our address is counted as a conflict and not learnt', () => {
  const { s, peer, sched } = stackOnPipe();
  peer.write(arpFrame(2, ip('10.0.0.1'), ip('10.0.0.1')));
  sched.run({ untilNs: 1000n });
  assert.equal(s.arp.drops.conflict, 1);
  assert.equal(s.arp.lookup(ip('10.0.0.1')), undefined);
});

test('off-link destinations go to the gateway; without one there is no route', () => {
  const net = simNet(3, 21);
  const [a, , gw] = net.stacks;
  const sock = a!.udp.bind(0, () => {});
  assert.ok(typeof sock !== 'string');
  // 203.0.113.0/24 is TEST-NET-3; nothing here leaves the simulated switch.
  assert.equal(sock.send(ip('203.0.113.5'), 9, pattern(20)), 'no-route');
  a!.ipv4.configure({ address: ip('10.0.0.1'), prefixLen: 24, gateway: ip('10.0.0.3') });
  assert.equal(sock.send(ip('203.0.113.5'), 9, pattern(20)), 'ok');
  net.sched.run({ untilNs: 1_000_000_000n });
  assert.ok(a!.arp.lookup(ip('10.0.0.3')), 'the gateway was resolved');
  assert.equal(gw!.ipv4.drops['not-for-us'], 1, 'the gateway got the datagram (and, being a host, dropped it)');
});

test('DF refuses what needs fragmenting; the TTL asked for goes on the wire', () => {
  const { s, peer } = stackOnPipe();
  const sock = s.udp.bind(0, () => {});
  assert.ok(typeof sock !== 'string');
  assert.equal(sock.send(ip('10.0.0.9'), 9, pattern(1473), { dontFragment: true }), 'too-big');
  assert.equal(sock.send(ip('10.0.0.9'), 9, pattern(65508)), 'too-big');
  // An ARP reply addressed to us teaches 10.0.0.9, so the datagram leaves at once.
  peer.write(arpFrame(2, ip('10.0.0.9'), ip('10.0.0.1'), Uint8Array.of(2, 0, 0, 0, 0, 1)));
  s.poll(0n);
  assert.ok(s.arp.lookup(ip('10.0.0.9')));
  const r = sock.send(ip('10.0.0.9'), 9, pattern(100), { ttl: 3, dontFragment: true });
  assert.equal(r, 'ok');
  const frames = readAll(peer);
  assert.equal(frames.length, 1);
  const v = Ipv4View.checked((EthernetView.checked(frames[0]!) as EthernetView).payload());
  assert.ok(v instanceof Ipv4View);
  assert.equal(v.ttl, 3);
  assert.equal(v.dontFragment, true);
});
