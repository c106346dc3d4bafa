/**
 * Fuzz targets on live state: a TCP connection (the real TCP layer under
 * src/net/tcp/segment-harness.ts) driven by segments crafted against its
 * current sequence space, and a whole simulated stack fed frames.
 */
import assert from 'node:assert/strict';
import { CAPTURED } from '../../test/fixtures/captured.ts';
import { equalBytes, ip, pattern, simNet } from '../../test/sim-helpers.ts';
import { REMOTE_ISS, S, SegmentHarness, type SegIn } from '../../src/net/tcp/segment-harness.ts';
import type { TcpConnection } from '../../src/net/tcp/connection.ts';
import { joinRecords, records } from './mutate.ts';
import type { Target } from './target.ts';

const STATES = ['ESTABLISHED', 'SYN-RECEIVED', 'CLOSE-WAIT', 'ACTIVE', 'FIN-WAIT-1', 'TIME-WAIT', 'SYN-SENT'] as const;
const FLAGS = ['F', 'S', 'R', 'P', '.'];
/** How far a crafted number lands from the edge it is relative to: ±127 times one of these. */
const SCALE = [1, 1, 16, 1460, 65536, 1 << 24];

function open(h: SegmentHarness, which: number): TcpConnection {
  const opts = {};
  const syn: Partial<SegIn> = { sackPermitted: true, ts: [1, 0], wscale: 2, mss: 1000 };
  switch (STATES[which % STATES.length]) {
    case 'SYN-RECEIVED':
      return h.synReceived(opts, syn);
    case 'CLOSE-WAIT':
      return h.closeWait(opts, syn);
    case 'ACTIVE':
      return h.activeEstablished(opts, syn);
    case 'FIN-WAIT-1':
      return h.finWait1(opts, syn);
    case 'TIME-WAIT':
      return h.timeWait(opts);
    case 'SYN-SENT':
      return h.synSent(opts);
    default:
      return h.established(opts, syn);
  }
}

/** One step of the program: a crafted segment, time passing, or the application writing or closing. */
function step(h: SegmentHarness, c: TcpConnection, r: Uint8Array): void {
  const at = (i: number): number => r[i] ?? 0;
  const priv = c as unknown as { rcvNxt: number; sndUna: number; sndNxt: number };
  const op = at(0) & 7;
  if (op === 5) {
    h.advance(BigInt(at(1)) * BigInt(at(2) + 1) * 1_000_000n);
    return;
  }
  if (op === 6) {
    // Writing after our own shutdown, or in a closing state, is a programmer error (it throws by design): not asked.
    const p = c as unknown as { finQueued: boolean; appClosed: boolean };
    const open = ['SYN-SENT', 'SYN-RECEIVED', 'ESTABLISHED', 'CLOSE-WAIT'].includes(c.state);
    if (open && !p.finQueued && !p.appClosed) c.write(pattern(at(1) * 40, at(2)));
    return;
  }
  if (op === 7) {
    if (at(1) & 1) c.shutdown();
    else c.close();
    return;
  }
  let flags = '';
  for (let i = 0; i < 5; i++) if (at(1) & (1 << i)) flags += FLAGS[i];
  const k = SCALE[at(0) >>> 5]!;
  const seg: SegIn = {
    seq: (priv.rcvNxt || REMOTE_ISS) + ((at(2) << 24) >> 24) * k,
    ack: priv.sndUna + ((at(3) << 24) >> 24) * (at(0) & 8 ? k : 1),
    flags,
    window: (at(4) << 8) | at(7),
    payload: at(5) * 8,
  };
  const o = at(6);
  if (o & 1) seg.ts = [h.tsNow + (o >> 4), (h.tsNow - 1) >>> 0];
  if (o & 2) seg.sack = [priv.sndUna + at(7) * 100, priv.sndUna + at(7) * 100 + 1000];
  if (o & 4) seg.mss = at(7) * 8;
  if (o & 8) seg.wscale = at(7) & 15;
  if (seg.ts && seg.sack && seg.mss !== undefined && seg.wscale !== undefined) delete seg.mss; // at most 40 bytes of options
  h.send(seg);
}

const tcpConn: Target = {
  name: 'tcp-conn',
  maxLen: 2000,
  seeds: () => [
    // Data in order, an ACK of it, a FIN; then a write and an RTO.
    Uint8Array.of(0, ...[0, 0x18, 0, 0, 250, 100, 1, 0], ...[6, 20, 0, 0, 0, 0, 0, 0], ...[5, 255, 3, 0, 0, 0, 0, 0]),
    Uint8Array.of(1, ...[0, 0x10, 0, 0, 250, 0, 0, 0], ...[0, 0x11, 0, 0, 250, 0, 0, 0]),
    Uint8Array.of(3, ...[6, 200, 0, 0, 0, 0, 0, 0], ...[0, 0x10, 0, 10, 250, 0, 3, 2], ...[0, 0x10, 0, 0, 250, 0, 2, 1]),
    Uint8Array.of(4, ...[0, 0x11, 0, 1, 250, 0, 0, 0], ...[5, 100, 100, 0, 0, 0, 0, 0]),
    Uint8Array.of(6, ...[0, 0x12, 0, 1, 250, 0, 13, 5]),
    Uint8Array.of(2, ...[0, 0x14, 0, 0, 0, 0, 0, 0], ...[0x20, 0x02, 1, 0, 250, 0, 0, 0]),
  ],
  run(b) {
    const h = new SegmentHarness();
    const c = open(h, b[0] ?? 0);
    for (let at = 1; at < b.length; at += 8) {
      step(h, c, b.subarray(at, at + 8)); // the harness throws if the stack emits a malformed segment
      assert.ok(c.bufferedSend <= 16 << 20, `${c.bufferedSend} bytes queued to send`);
    }
    h.advance(600n * S); // every timer runs out: retransmissions give up, TIME-WAIT ends
    assert.ok(h.log.length < 10_000, `${h.log.length} segments out`);
  },
};

const frames = Object.values(CAPTURED) as Uint8Array[];

const stack: Target = {
  name: 'stack',
  maxLen: 6000,
  seeds: () => [
    joinRecords(frames.slice(0, 4)),
    joinRecords(frames.filter((f) => f.length > 1000)),
    ...frames.map((f) => joinRecords([f])),
  ],
  run(b) {
    const net = simNet(2, 11);
    const [a, s] = net.stacks as [(typeof net.stacks)[0], (typeof net.stacks)[0]];
    const r = s.ipv4.reassembly;
    let t = 1_000_000n;
    net.sched.run({ untilNs: t });
    for (const f0 of records(b, 16)) {
      const f = f0.slice();
      // Addressed to the stack, so that it climbs past the Ethernet filter.
      if (f.length >= 6 && (f[0]! & 1) === 0) f.set(s.ethernet.mac, 0);
      s.ethernet.input(f);
      t += 1_000_000n;
      net.sched.run({ untilNs: t, maxSteps: 100_000 });
      assert.ok(r.datagramsHeld <= 64 && r.bytesHeld <= 4 << 20, `reassembly holds ${r.datagramsHeld} datagrams, ${r.bytesHeld} bytes`);
    }
    // Past ARP's aging (a spoofed entry for 10.0.0.1 goes) and reassembly's timeout: the stack still answers a ping.
    t += 61n * S;
    net.sched.run({ untilNs: t, maxSteps: 1_000_000 });
    assert.equal(r.datagramsHeld, 0, 'every incomplete datagram was freed');
    let replies = 0;
    a.icmp.onEchoReply((e) => {
      if (equalBytes(e.data, pattern(64))) replies++;
    });
    a.icmp.ping(ip('10.0.0.2'), 9, 1, pattern(64));
    net.sched.run({ untilNs: t + S, maxSteps: 1_000_000 });
    assert.equal(replies, 1, 'the stack answers a ping after the input');
  },
};

export const STACK_TARGETS: Target[] = [tcpConn, stack];
