/**
 * Whole-network tests in simulation: two or three stacks on a learning
 * switch ping each other, exchange UDP and reassemble 60 KB datagrams, on a
 * clean link and under 20% loss, duplication and reordering — all from a
 * seed, so a failure reproduces exactly (and leaves a pcap in out/).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { equalBytes, ip, pattern, simNet, type SimNet } from './sim-helpers.ts';
import type { FaultOptions } from '../src/link/index.ts';
import { UdpSocket } from '../src/net/index.ts';

function bound(s: UdpSocket | string): UdpSocket {
  if (!(s instanceof UdpSocket)) throw new Error(`bind failed: ${s}`);
  return s;
}

const MS = 1_000_000n;
const S = 1_000_000_000n;

function keepPcapOnFailure(name: string, net: SimNet, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    mkdirSync('out', { recursive: true });
    writeFileSync(`out/${name}.pcap`, net.pcap.bytes());
    throw e;
  }
}

/** Pings `dst` from `net.stacks[from]` until `count` distinct replies, retrying each seq. */
function pingUntil(net: SimNet, from: number, dst: number, count: number, size: number): number {
  const s = net.stacks[from]!;
  const got = new Set<number>();
  s.icmp.onEchoReply((r) => {
    if (r.src === dst && r.ident === 0x1234 && equalBytes(r.data, pattern(size, r.seq))) got.add(r.seq);
  });
  let sent = 0;
  const tick = (): void => {
    for (let seq = 0; seq < count; seq++) {
      if (!got.has(seq)) {
        s.icmp.ping(dst, 0x1234, seq, pattern(size, seq));
        sent++;
      }
    }
    if (got.size < count) net.sched.after(200n * MS, tick);
  };
  tick();
  net.sched.run({ until: () => got.size === count, untilNs: 120n * S });
  assert.equal(got.size, count, `only ${got.size}/${count} echo replies`);
  return sent;
}

const IMPAIRED: FaultOptions = { loss: 0.2, duplicate: 0.2, reorder: 0.2, delayNs: 1n * MS, jitterNs: 2n * MS, reorderDelayNs: 5n * MS };

test('two stacks ping each other on a clean switch', () => {
  const net = simNet(2, 1);
  keepPcapOnFailure('ping-clean', net, () => {
    const sent = pingUntil(net, 0, ip('10.0.0.2'), 10, 56);
    assert.equal(sent, 10, 'a clean link needs no retries');
    assert.deepEqual(net.stacks[0]!.drops(), {});
    assert.deepEqual(net.stacks[1]!.drops(), {});
    assert.equal(net.stacks[1]!.icmp.echoRepliesSent, 10);
  });
});

test('ping with fragmented 4000-byte payloads, both ways reassembled', () => {
  const net = simNet(2, 2);
  keepPcapOnFailure('ping-frag', net, () => {
    pingUntil(net, 1, ip('10.0.0.1'), 5, 4000);
    assert.equal(net.stacks[0]!.ipv4.reassembly.completed, 5);
    assert.equal(net.stacks[1]!.ipv4.reassembly.completed, 5);
    assert.ok(net.stacks[0]!.ipv4.txFragments >= 15);
  });
});

test('ping survives 20% loss, duplication and reordering with retries', () => {
  const net = simNet(2, 3, IMPAIRED);
  keepPcapOnFailure('ping-impaired', net, () => {
    const sent = pingUntil(net, 0, ip('10.0.0.2'), 20, 56);
    assert.ok(sent > 20, 'loss must have forced retries');
    const f = net.faults[0]!.counters;
    assert.ok(f.dropped > 0 && f.duplicated > 0 && f.reordered > 0, JSON.stringify(f));
  });
});

/** UDP request/response with retries; the server echoes the datagram back. */
function udpEcho(net: SimNet, sizes: number[]): void {
  const [a, b] = net.stacks;
  const srv: UdpSocket = bound(
    b!.udp.bind(7, (d) => {
      srv.send(d.src, d.srcPort, d.data);
    }),
  );
  const done = new Set<number>();
  const cli = a!.udp.bind(0, (d) => {
    const i = d.data[0]!;
    if (d.src === ip('10.0.0.2') && d.srcPort === 7 && equalBytes(d.data, msg(i))) done.add(i);
  });
  assert.ok(typeof cli !== 'string');
  const msg = (i: number): Uint8Array => {
    const m = pattern(sizes[i]!, i);
    m[0] = i;
    return m;
  };
  const tick = (): void => {
    for (let i = 0; i < sizes.length; i++) if (!done.has(i)) cli.send(ip('10.0.0.2'), 7, msg(i));
    if (done.size < sizes.length) net.sched.after(300n * MS, tick);
  };
  tick();
  net.sched.run({ until: () => done.size === sizes.length, untilNs: 300n * S });
  assert.equal(done.size, sizes.length, `${done.size}/${sizes.length} UDP echoes`);
}

test('UDP echo of small and 60 KB datagrams on a clean switch', () => {
  const net = simNet(2, 4);
  keepPcapOnFailure('udp-clean', net, () => {
    udpEcho(net, [1, 100, 1472, 1473, 9000, 60_000, 65_507]);
    assert.deepEqual(net.stacks[0]!.drops(), {});
  });
});

test('UDP echo of small datagrams under 20% loss, duplication and reordering', () => {
  const net = simNet(2, 5, IMPAIRED);
  keepPcapOnFailure('udp-impaired', net, () =>
    udpEcho(
      net,
      Array.from({ length: 30 }, (_, i) => 20 + i * 40),
    ),
  );
});

test('a 60 KB datagram reassembles under 20% loss, duplication and reordering when retransmitted with the same identification', () => {
  const net = simNet(2, 6, IMPAIRED);
  keepPcapOnFailure('udp-60k-impaired', net, () => {
    const [a, b] = net.stacks;
    const payload = pattern(60_000, 7);
    const digest = createHash('sha256').update(payload).digest('hex');
    let received = 0;
    let acked = false;
    const srv: UdpSocket = bound(
      b!.udp.bind(9000, (d) => {
        const ok = createHash('sha256').update(d.data).digest('hex') === digest;
        if (ok) received++;
        srv.send(d.src, d.srcPort, new TextEncoder().encode(ok ? 'ok' : 'bad'));
      }),
    );
    const cli = a!.udp.bind(0, (d) => {
      if (new TextDecoder().decode(d.data) === 'ok') acked = true;
    });
    assert.ok(typeof cli !== 'string');
    // RFC 1122 §3.2.1.5: copies share the identification, so fragments of all copies combine.
    const ident = 0x4242;
    let tries = 0;
    const tick = (): void => {
      if (acked) return;
      tries++;
      cli.send(ip('10.0.0.2'), 9000, payload, { ident });
      net.sched.after(500n * MS, tick);
    };
    tick();
    net.sched.run({ until: () => acked, untilNs: 120n * S });
    assert.ok(acked, `no acknowledgement after ${tries} tries`);
    assert.ok(received >= 1);
    assert.ok(tries > 1, 'loss must have forced a retransmission');
    assert.ok(net.stacks[1]!.ipv4.reassembly.drops['frag-duplicate'] > 0, 'duplicates are dropped alone');
  });
});

test('three hosts on one switch: the switch learns and stops flooding', () => {
  const net = simNet(3, 7);
  pingUntil(net, 0, ip('10.0.0.2'), 3, 56);
  const flooded = net.sw.flooded;
  pingUntil(net, 0, ip('10.0.0.2'), 3, 56);
  assert.equal(net.sw.flooded, flooded, 'unicast between learned hosts is forwarded, not flooded');
  assert.equal(net.stacks[2]!.icmp.echoRepliesSent, 0);
});

test('a closed UDP port answers ICMP port unreachable, rate-limited', () => {
  const net = simNet(2, 8);
  const cli = net.stacks[0]!.udp.bind(0, () => {});
  assert.ok(typeof cli !== 'string');
  for (let i = 0; i < 100; i++) cli.send(ip('10.0.0.2'), 4444, pattern(10));
  net.sched.run({ untilNs: 1n * S });
  const sent = net.stacks[1]!.icmp.errorsSent;
  assert.ok(sent >= 1 && sent <= 21, `sent ${sent} errors for 100 datagrams in a burst`);
  assert.equal(net.stacks[0]!.icmp.errorsReceived.get('3/3'), sent);
  assert.ok(net.stacks[1]!.icmp.drops['rate-limited'] >= 79);
});

test('ARP gives up on an absent host and drops its queue, without flooding requests', () => {
  const net = simNet(2, 9);
  const s = net.stacks[0]!;
  const cli = s.udp.bind(0, () => {});
  assert.ok(typeof cli !== 'string');
  for (let i = 0; i < 20; i++) cli.send(ip('10.0.0.77'), 9, pattern(10));
  net.sched.run({ untilNs: 10n * S });
  assert.equal(s.arp.requestsSent, 3, 'one request per second, three in all');
  assert.equal(s.arp.drops['queue-full'], 0);
  assert.equal(s.arp.drops.unresolved, 20);
  assert.equal(s.arp.size, 0);
});

function runTranscript(seed: number): string {
  const net = simNet(2, seed, IMPAIRED);
  pingUntil(net, 0, ip('10.0.0.2'), 10, 1000);
  udpEcho(net, [10, 3000]);
  return createHash('sha256').update(net.pcap.bytes()).digest('hex');
}

test('the same seed gives the same pcap bytes; another seed does not', () => {
  const a = runTranscript(42),
    b = runTranscript(42),
    c = runTranscript(43);
  assert.equal(a, b);
  assert.notEqual(a, c);
});
