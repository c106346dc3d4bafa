/**
 * ARP with the defaults a Stack gets, as the README and ArpOptions state
 * them: entries live 60 s; one request per unresolved address per second,
 * three in all; frames waiting for resolution bounded at 256 KiB per address
 * and 1 MiB in all. One stack on a pipe; the test plays the other end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPipe, drainFrames } from '../link/index.ts';
import { Scheduler, SeededRandom } from '../sim/index.ts';
import { ARP_REPLY, ARP_REQUEST, ArpView, emitArp, parseArp } from '../wire/arp.ts';
import { emitEthernet, ETHERTYPE_ARP, EthernetView } from '../wire/ethernet.ts';
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
