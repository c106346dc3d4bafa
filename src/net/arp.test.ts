/**
 * ARP with the defaults a Stack gets, as the README and ArpOptions state
 * them: entries live 60 s; one request per unresolved address per second,
 * three in all; frames waiting for resolution bounded at 256 KiB per address
 * and 1 MiB in all. One stack on a pipe; the test plays the other end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NO_OFFLOAD, type NetDevice } from '../devices/index.ts';
import { createPipe, drainFrames } from '../link/index.ts';
import { Scheduler, SeededRandom } from '../sim/index.ts';
import { ARP_REPLY, ARP_REQUEST, ArpView, emitArp, parseArp } from '../wire/arp.ts';
import { emitEthernet, ETHERTYPE_ARP, EthernetView } from '../wire/ethernet.ts';
import { Arp, type ArpOptions } from './arp.ts';
import { Ethernet } from './ethernet.ts';
import { Stack } from './stack.ts';

const S = 1_000_000_000n;
const ME = 0x0a000001,
  PEER = 0x0a000009;
const PEER_MAC = Uint8Array.of(2, 0, 0, 0, 0, 9);

function stackOnPipe(): { s: Stack; sched: Scheduler; peer: ReturnType<typeof createPipe>[1] } {
  const sched = new Scheduler();
  const [a, b] = createPipe(Uint8Array.of(2, 0, 0, 0, 0, 1), PEER_MAC);
  const s = new Stack({ device: a, clock: sched.clock, random: new SeededRandom(1), ipv4: { address: ME, prefixLen: 24 } });
  sched.add(s);
  return { s, sched, peer: b };
}

const readAll = drainFrames;

/** ARP requests among `frames`, by target address. */
function requestsFor(frames: Uint8Array[]): number[] {
  const out: number[] = [];
  for (const f of frames) {
    const e = EthernetView.checked(f);
    if (!(e instanceof EthernetView) || e.ethertype !== ETHERTYPE_ARP) continue;
    const a = ArpView.checked(e.payload());
    if (a instanceof ArpView && a.operation === ARP_REQUEST) out.push(parseArp(a).targetIp);
  }
  return out;
}

function arpFrame(op: number, senderIp: number, targetIp: number): Uint8Array {
  const f = new Uint8Array(42);
  emitEthernet({ dst: Uint8Array.of(255, 255, 255, 255, 255, 255), src: PEER_MAC, ethertype: ETHERTYPE_ARP }, f);
  emitArp({ operation: op, senderMac: PEER_MAC, senderIp, targetMac: new Uint8Array(6), targetIp }, f.subarray(14));
  return f;
}

test('ARP by default: a learned address lives 60 s', () => {
  const { s, sched, peer } = stackOnPipe();
  sched.run({ untilNs: 1n * S });
  peer.write(arpFrame(ARP_REQUEST, PEER, ME)); // A request for us teaches the sender (RFC 826 merge).
  sched.run({ untilNs: 1n * S }); // Learned at 1 s.
  assert.deepEqual([...(s.arp.lookup(PEER) ?? [])], [...PEER_MAC]);
  sched.run({ untilNs: 61n * S - 1n });
  assert.ok(s.arp.lookup(PEER), 'still known just before 60 s');
  sched.run({ untilNs: 61n * S });
  assert.equal(s.arp.lookup(PEER), undefined, 'gone at 60 s');
});

test('ARP by default: one request per second for an unresolved address, three in all, then its frames are dropped', () => {
  const { s, sched, peer } = stackOnPipe();
  const sock = s.udp.bind(0, () => {});
  assert.ok(typeof sock !== 'string');
  const at: number[] = [];
  sched.at(1n, () => {
    for (let i = 0; i < 5; i++) sock.send(0x0a000077, 9, new Uint8Array(10));
  });
  for (let ms = 0; ms <= 10_000; ms += 100) {
    sched.run({ untilNs: BigInt(ms) * 1_000_000n + 1n });
    for (const t of requestsFor(readAll(peer))) {
      assert.equal(t, 0x0a000077);
      at.push(ms);
    }
  }
  assert.deepEqual(at, [0, 1000, 2000], 'requests at 0, 1 and 2 s, none after');
  assert.equal(s.arp.drops.unresolved, 5, 'the waiting frames are dropped when it gives up');
  assert.equal(s.arp.size, 0);
});

test('ARP by default: frames waiting for one address are bounded at 256 KiB, for all at 1 MiB', () => {
  const { s, sched, peer } = stackOnPipe();
  const sock = s.udp.bind(0, () => {});
  assert.ok(typeof sock !== 'string');
  const payload = new Uint8Array(1000);
  // 400 datagrams (about 400 KB) for the peer, which has not answered yet.
  let accepted = 0;
  for (let i = 0; i < 400; i++) if (sock.send(PEER, 9, payload) === 'ok') accepted++;
  const full = s.arp.drops['queue-full'];
  assert.equal(accepted + full, 400);
  // The peer answers: what waited goes out, and shows the frame size.
  readAll(peer);
  peer.write(arpFrame(ARP_REPLY, PEER, ME));
  sched.run({ untilNs: 1n });
  const frames = readAll(peer);
  assert.equal(frames.length, accepted);
  const len = frames[0]!.length;
  assert.ok(frames.every((f) => f.length === len));
  assert.equal(accepted, Math.floor((256 * 1024) / len), `per address: ${accepted} frames of ${len} bytes`);

  // Five more unresolved addresses, 300 frames each: the first four take 256 KiB each, the last what is left of 1 MiB.
  let total = 0;
  for (let h = 0; h < 5; h++) for (let i = 0; i < 300; i++) if (sock.send(0x0a000020 + h, 9, payload) === 'ok') total++;
  const perAddress = Math.floor((256 * 1024) / len);
  const expected = 4 * perAddress + Math.floor((1024 * 1024 - 4 * perAddress * len) / len);
  assert.equal(total, expected, `in all: ${total} frames of ${len} bytes`);
  assert.ok(total * len <= 1024 * 1024 && (total + 1) * len > 1024 * 1024);
});

// The Arp layer alone, on an Ethernet over a device that records what it sends, with a clock the test sets:
// each rule of receive, output, poll and the cache, at the edge where it changes.

const MY_MAC = Uint8Array.of(2, 0, 0, 0, 0, 1);

function arpAlone(opts: ArpOptions = {}): { arp: Arp; sent: Uint8Array[]; clock: { now: bigint } } {
  const sent: Uint8Array[] = [];
  const clock = { now: 0n };
  const device: NetDevice = {
    mac: MY_MAC,
    mtu: 1500,
    capabilities: NO_OFFLOAD,
    write: (frame) => {
      sent.push(frame.slice());
      return 'ok';
    },
    read: () => 'again',
    readyAtNs: () => undefined,
  };
  const arp = new Arp(new Ethernet(device), { monotonicNs: () => clock.now, wallNs: () => clock.now }, opts);
  arp.address = ME;
  return { arp, sent, clock };
}

/** An ARP packet as `Arp.receive` gets it: 28 bytes at offset 14 of a frame. */
function arpIn(arp: Arp, op: number, senderIp: number, targetIp: number, senderMac: Uint8Array = PEER_MAC): void {
  const f = new Uint8Array(14 + 28);
  emitArp({ operation: op, senderMac, senderIp, targetMac: new Uint8Array(6), targetIp }, f.subarray(14));
  arp.receive(f, 14, f.length);
}

/** The ARP packets among `frames` with their Ethernet destination. */
function arpOut(frames: Uint8Array[]): { dst: string; op: number; spa: number; tpa: number; sha: string; tha: string }[] {
  return frames.map((f) => {
    const a = ArpView.checked(f.subarray(14));
    assert.ok(a instanceof ArpView);
    const r = parseArp(a);
    return {
      dst: hexMac(f.subarray(0, 6)),
      op: r.operation,
      spa: r.senderIp,
      tpa: r.targetIp,
      sha: hexMac(r.senderMac),
      tha: hexMac(r.targetMac),
    };
  });
}
const hexMac = (m: Uint8Array): string => [...m].map((b) => b.toString(16).padStart(2, '0')).join(':');
const BCAST = 'ff:ff:ff:ff:ff:ff',
  ZERO = '00:00:00:00:00:00',
  PEER_HEX = '02:00:00:00:00:09',
  MY_HEX = '02:00:00:00:00:01';

/** An IPv4-sized frame with 14 bytes of header room; its payload bytes are `fill`. */
const ipFrame = (len: number, fill = 0): Uint8Array => new Uint8Array(len).fill(fill, 14);

test('Arp: announce sends one gratuitous request for our address, none without one; probe asks with sender 0', () => {
  const { arp, sent } = arpAlone();
  arp.announce();
  assert.deepEqual(arpOut(sent), [{ dst: BCAST, op: ARP_REQUEST, spa: ME, tpa: ME, sha: MY_HEX, tha: ZERO }]);
  sent.length = 0;
  arp.address = 0;
  arp.announce();
  assert.equal(sent.length, 0, 'no address, no announcement');
  arp.probe(0x0a000042);
  assert.deepEqual(arpOut(sent), [{ dst: BCAST, op: ARP_REQUEST, spa: 0, tpa: 0x0a000042, sha: MY_HEX, tha: ZERO }]);
  assert.equal(arp.requestsSent, 0, 'probes and announcements are not resolution requests');
});

test('Arp: output to an unknown host asks at once, queues a copy, asks again only when output comes a retry interval later', () => {
  const { arp, sent, clock } = arpAlone({ retryNs: 1000n });
  clock.now = 500n;
  const f = ipFrame(100, 7);
  assert.equal(arp.output(PEER, f, 0x0800), true);
  assert.deepEqual(arpOut(sent), [{ dst: BCAST, op: ARP_REQUEST, spa: ME, tpa: PEER, sha: MY_HEX, tha: ZERO }]);
  assert.equal(arp.requestsSent, 1);
  assert.equal(arp.pollAtNs(), 1500n, 'the next request is due a retry interval later');
  f.fill(9, 14); // The caller reuses its buffer: what waits is a copy.
  clock.now = 1499n;
  assert.equal(arp.output(PEER, ipFrame(100, 8), 0x0800), true);
  assert.equal(sent.length, 1, 'no second request inside the interval');
  clock.now = 1500n;
  assert.equal(arp.output(PEER, ipFrame(100, 6), 0x0800), true);
  assert.equal(sent.length, 2, 'output at exactly the due time asks again');
  assert.equal(arp.requestsSent, 2);
  sent.length = 0;
  arpIn(arp, ARP_REPLY, PEER, ME);
  assert.deepEqual(
    sent.map((s) => [hexMac(s.subarray(0, 6)), s.length, s[14], s[99]]),
    [
      [PEER_HEX, 100, 7, 7],
      [PEER_HEX, 100, 8, 8],
      [PEER_HEX, 100, 6, 6],
    ],
    'the waiting frames go out in order, as they were when queued',
  );
  sent.length = 0;
  arpIn(arp, ARP_REPLY, PEER, ME); // A second reply: nothing left to send.
  assert.equal(sent.length, 0);
  assert.equal(arp.output(PEER, ipFrame(60), 0x0800), true);
  assert.equal(sent.length, 1, 'resolved: sent straight away');
  assert.equal(arp.pollAtNs(), undefined, 'nothing unresolved, nothing due');
});

test('Arp: a queue bound is reached exactly, per address and in all', () => {
  const { arp, sent } = arpAlone({ queueBytesPerAddress: 300, queueBytesTotal: 500 });
  assert.equal(arp.output(PEER, ipFrame(150), 0x0800), true);
  assert.equal(arp.output(PEER, ipFrame(150), 0x0800), true, '300 of 300 bytes');
  assert.equal(arp.output(PEER, ipFrame(1), 0x0800), false, 'one byte more');
  assert.equal(arp.drops['queue-full'], 1);
  assert.equal(arp.output(0x0a000020, ipFrame(200), 0x0800), true, '500 of 500 bytes in all');
  assert.equal(arp.output(0x0a000021, ipFrame(1), 0x0800), false, 'one byte more in all');
  assert.equal(arp.drops['queue-full'], 2);
  sent.length = 0;
  arpIn(arp, ARP_REPLY, PEER, ME); // 300 bytes go out, and their room comes back.
  assert.equal(sent.length, 2);
  assert.equal(arp.output(0x0a000021, ipFrame(300), 0x0800), true, '200 + 300 of 500 again');
  assert.equal(arp.output(0x0a000022, ipFrame(1), 0x0800), false);
});

test('Arp: an address that never answers is given up after maxRequests, its frames counted and its queue room returned', () => {
  const { arp, sent, clock } = arpAlone({ retryNs: 10n, maxRequests: 2, queueBytesTotal: 400 });
  assert.equal(arp.output(PEER, ipFrame(300), 0x0800), true);
  assert.equal(arp.output(PEER, ipFrame(100), 0x0800), true);
  assert.equal(arp.output(PEER, ipFrame(1), 0x0800), false, 'all 400 bytes in use');
  assert.equal(arp.poll(9n), false, 'nothing due before the retry interval');
  assert.equal(arp.poll(10n), true, 'the second request');
  assert.equal(arpOut(sent).filter((a) => a.tpa === PEER).length, 2);
  assert.equal(arp.poll(19n), false);
  assert.equal(arp.poll(20n), true, 'giving up is work too');
  assert.equal(arpOut(sent).filter((a) => a.tpa === PEER).length, 2, 'no third request');
  assert.equal(arp.drops.unresolved, 2);
  assert.equal(arp.size, 0);
  assert.equal(arp.pollAtNs(), undefined);
  clock.now = 20n;
  assert.equal(arp.output(0x0a000020, ipFrame(400), 0x0800), true, 'the given-up bytes are free again');
});

test('Arp: pollAtNs is the earliest request due among unresolved addresses', () => {
  const { arp, clock } = arpAlone({ retryNs: 100n });
  clock.now = 50n;
  arp.output(0x0a000020, ipFrame(60), 0x0800); // due again at 150
  clock.now = 20n; // (a clock that the test moves back, to order the entries against their insertion)
  arp.output(0x0a000021, ipFrame(60), 0x0800); // due again at 120
  clock.now = 70n;
  arp.output(0x0a000022, ipFrame(60), 0x0800); // due again at 170
  assert.equal(arp.pollAtNs(), 120n);
  arpIn(arp, ARP_REPLY, 0x0a000021, ME);
  assert.equal(arp.pollAtNs(), 150n, 'a resolved entry has nothing due');
});

test('Arp: a learned entry expires at exactly its TTL, by lookup or by poll, and poll sends nothing for it', () => {
  const { arp, sent, clock } = arpAlone({ entryTtlNs: 1000n });
  clock.now = 100n;
  arpIn(arp, ARP_REQUEST, PEER, ME);
  sent.length = 0;
  assert.equal(arp.poll(1099n), false);
  assert.equal(sent.length, 0, 'no request for a resolved address');
  assert.equal(arp.size, 1);
  clock.now = 1099n;
  assert.equal(hexMac(arp.lookup(PEER)!), PEER_HEX);
  clock.now = 1100n;
  assert.equal(arp.lookup(PEER), undefined, 'gone at exactly 1000 ns after learning');
  assert.equal(arp.size, 0, 'and removed by the lookup');
  arpIn(arp, ARP_REQUEST, PEER, ME);
  assert.equal(arp.poll(2099n), false);
  assert.equal(arp.size, 1);
  arp.poll(2100n);
  assert.equal(arp.size, 0, 'and removed by poll at the same instant');
});

test('Arp: the cache holds maxEntries (1024 by default); the oldest is evicted with its waiting frames and their room', () => {
  const { arp } = arpAlone();
  for (let i = 0; i < 1025; i++) arpIn(arp, ARP_REQUEST, 0x0b000000 + i, ME);
  assert.equal(arp.size, 1024);
  assert.equal(arp.lookup(0x0b000000), undefined, 'the first learned is gone');
  assert.ok(arp.lookup(0x0b000001));

  const small = arpAlone({ maxEntries: 2, queueBytesTotal: 300 }).arp;
  assert.equal(small.output(0x0a000020, ipFrame(100), 0x0800), true);
  assert.equal(small.output(0x0a000020, ipFrame(100), 0x0800), true);
  assert.equal(small.output(0x0a000021, ipFrame(100), 0x0800), true);
  assert.equal(small.output(0x0a000021, ipFrame(1), 0x0800), false, 'all 300 bytes in use');
  assert.equal(small.drops.unresolved, 0);
  assert.equal(small.size, 2);
  assert.equal(small.output(0x0a000022, ipFrame(1), 0x0800), true, 'a third address evicts the first and gets its room');
  assert.equal(small.size, 2);
  assert.equal(small.drops.unresolved, 2, 'the evicted address had two frames waiting');
  assert.equal(small.output(0x0a000022, ipFrame(199), 0x0800), true, '100 + 1 + 199 of 300');
  assert.equal(small.output(0x0a000022, ipFrame(1), 0x0800), false);
});

test('Arp: receive — malformed and unsupported packets, group senders, conflicts, and who is learned (RFC 826 merge)', () => {
  const { arp, sent } = arpAlone();
  const seen: number[] = [];
  arp.onSender = (ip) => seen.push(ip);
  arp.receive(new Uint8Array(14 + 27), 14, 41);
  assert.equal(arp.drops.malformed, 1, '27 bytes are truncated');
  const bad = new Uint8Array(14 + 28);
  emitArp({ operation: ARP_REQUEST, senderMac: PEER_MAC, senderIp: PEER, targetMac: new Uint8Array(6), targetIp: ME }, bad.subarray(14));
  bad[14 + 1] = 6; // hardware type 6 (IEEE 802), not Ethernet
  arp.receive(bad, 14, bad.length);
  assert.equal(arp.drops.unsupported, 1);
  assert.equal(arp.drops.malformed, 1);
  assert.deepEqual([arp.size, sent.length, seen], [0, 0, []], 'neither learned nor answered');

  arpIn(arp, ARP_REQUEST, PEER, ME, Uint8Array.of(3, 0, 0, 0, 0, 9));
  assert.equal(arp.drops.malformed, 2, 'a group MAC cannot own an address');
  assert.deepEqual([arp.size, sent.length, seen], [0, 0, []]);

  arpIn(arp, ARP_REQUEST, ME, 0x0a000030);
  assert.equal(arp.drops.conflict, 1, 'another host says it has our address (RFC 5227 §2.4)');
  assert.deepEqual([arp.size, sent.length, seen], [0, 0, [ME]], 'not learned, but told to the conflict detector');
  arpIn(arp, ARP_REQUEST, ME, 0x0a000030, MY_MAC);
  assert.deepEqual(seen, [ME], 'our own packet looped back is not another sender');
  assert.deepEqual([arp.drops.conflict, arp.drops['looped-back']], [1, 1], 'nor a conflict (RFC 5227 §2.4: a sender MAC not ours)');
  arpIn(arp, ARP_REQUEST, ME, ME, MY_MAC);
  assert.deepEqual([arp.drops.conflict, arp.drops['looped-back'], arp.size], [1, 2, 0], 'our announcement echoed: counted, not learned');

  arpIn(arp, ARP_REQUEST, PEER, 0x0a000030);
  assert.deepEqual([arp.size, sent.length, arp.drops['not-for-us']], [0, 0, 1], 'a request for another host: not learned, not answered');
  arpIn(arp, ARP_REPLY, PEER, 0x0a000030);
  assert.deepEqual([arp.size, sent.length, arp.drops['not-for-us']], [0, 0, 1], 'a reply for another host is not counted');
  arpIn(arp, ARP_REQUEST, PEER, PEER);
  assert.deepEqual([arp.size, arp.drops['not-for-us']], [0, 1], 'an announcement (sender = target) is not a drop');
  assert.deepEqual(seen, [ME, PEER, PEER, PEER]);

  arpIn(arp, ARP_REQUEST, 0, ME);
  assert.deepEqual(
    arpOut(sent),
    [{ dst: PEER_HEX, op: ARP_REPLY, spa: ME, tpa: 0, sha: MY_HEX, tha: PEER_HEX }],
    'a probe for us is answered',
  );
  assert.equal(arp.repliesSent, 1);
  assert.equal(arp.size, 0, 'sender 0 is never learned');
  assert.deepEqual(seen, [ME, PEER, PEER, PEER], 'nor told');

  sent.length = 0;
  arpIn(arp, ARP_REQUEST, PEER, ME);
  assert.deepEqual(arpOut(sent), [{ dst: PEER_HEX, op: ARP_REPLY, spa: ME, tpa: PEER, sha: MY_HEX, tha: PEER_HEX }]);
  assert.equal(arp.repliesSent, 2);
  assert.equal(hexMac(arp.lookup(PEER)!), PEER_HEX, 'a request for us teaches its sender');
  arpIn(arp, ARP_REPLY, PEER, 0x0a000030, Uint8Array.of(2, 0, 0, 0, 0, 0x99));
  assert.equal(hexMac(arp.lookup(PEER)!), '02:00:00:00:00:99', 'a known sender is updated even when not talking to us');
});

test('Arp: with no address of its own it answers nothing and learns nothing, even for target 0', () => {
  const { arp, sent } = arpAlone();
  arp.address = 0;
  arpIn(arp, ARP_REQUEST, PEER, 0);
  arpIn(arp, ARP_REQUEST, 0, 0);
  assert.deepEqual([arp.size, sent.length, arp.repliesSent, arp.drops.conflict], [0, 0, 0, 0]);
});
