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
import type { Stack } from '../../src/net/stack.ts';
import { joinRecords, records } from './mutate.ts';
import { checksum, finish, onesSum, pseudoHeaderSum } from '../../src/wire/checksum.ts';
import { emitIpv4 } from '../../src/wire/ipv4.ts';
import { emitUdp } from '../../src/wire/udp.ts';
import { account, checkLedger } from './accounting.ts';
import { emitTcp, tcpHeaderLen, type TcpRepr } from '../../src/wire/tcp.ts';
import type { Target } from './target.ts';

const STATES = ['ESTABLISHED', 'SYN-RECEIVED', 'CLOSE-WAIT', 'ACTIVE', 'FIN-WAIT-1', 'TIME-WAIT', 'SYN-SENT'] as const;
const FLAGS = ['F', 'S', 'R', 'P', '.'];
/** How far a crafted number lands from the edge it is relative to: ±127 times one of these. */
const SCALE = [1, 1, 2, 16, 1460, 65536, 1 << 20, 1 << 24];

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

/** Records the sequence space [SEG.SEQ, SEG.SEQ + SEG.LEN] of every segment the peer sends (SYN and FIN count one). */
function peerSpans(h: SegmentHarness): [number, number][] {
  const spans: [number, number][] = [];
  const send = h.send.bind(h);
  h.send = (seg: SegIn): void => {
    const data = typeof seg.payload === 'number' ? seg.payload : (seg.payload?.length ?? 0);
    const len = data + (seg.flags.includes('S') ? 1 : 0) + (seg.flags.includes('F') ? 1 : 0);
    spans.push([seg.seq >>> 0, (seg.seq + len) >>> 0]);
    send(seg);
  };
  return spans;
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
    const spans = peerSpans(h);
    const c = open(h, b[0] ?? 0);
    for (let at = 1; at < b.length; at += 8) {
      step(h, c, b.subarray(at, at + 8)); // the harness throws if the stack emits a malformed segment
      assert.ok(c.bufferedSend <= 16 << 20, `${c.bufferedSend} bytes queued to send`);
    }
    h.advance(600n * S); // every timer runs out: retransmissions give up, TIME-WAIT ends
    assert.ok(h.log.length < 10_000, `${h.log.length} segments out`);
    // The stack never acknowledges what the peer did not send: every ACK falls within a segment the peer sent.
    for (const { seg } of h.log) {
      if (!seg.flags.includes('.')) continue;
      const ok = spans.some(([from, to]) => (seg.ack - from) >>> 0 <= (to - from) >>> 0);
      assert.ok(ok, `${seg.flags} ack ${seg.ack} acknowledges sequence space the peer never sent`);
    }
  },
};

const frames = Object.values(CAPTURED) as Uint8Array[];

/**
 * Sets the IPv4 header checksum and the TCP or UDP checksum of an untagged frame, so that a mutated frame gets
 * past the checksum checks to the layer above (where its checksum is not what the input is about).
 */
function fixChecksums(f: Uint8Array): void {
  if (f.length < 34 || f[12] !== 8 || f[13] !== 0 || f[14]! >>> 4 !== 4) return;
  const hl = (f[14]! & 15) * 4;
  const total = (f[16]! << 8) | f[17]!;
  if (hl < 20 || total < hl || 14 + total > f.length) return;
  f[24] = f[25] = 0;
  const c = checksum(f, 14, 14 + hl);
  f[24] = c >>> 8;
  f[25] = c & 0xff;
  const proto = f[23]!;
  const at = 14 + hl,
    len = total - hl;
  const field = ({ 6: 16, 17: 6 } as Record<number, number>)[proto] ?? -1;
  if (field < 0 || len < field + 2 || (f[20]! & 0x3f) | f[21]!) return; // fragments (MF or an offset) keep theirs
  f[at + field] = f[at + field + 1] = 0;
  const src = ((f[26]! << 24) | (f[27]! << 16) | (f[28]! << 8) | f[29]!) >>> 0;
  const dst = ((f[30]! << 24) | (f[31]! << 16) | (f[32]! << 8) | f[33]!) >>> 0;
  let v = finish(onesSum(f, at, at + len, pseudoHeaderSum(src, dst, proto, len)));
  if (proto === 17 && v === 0) v = 0xffff;
  f[at + field] = v >>> 8;
  f[at + field + 1] = v & 0xff;
}

/** A TCP segment from 10.0.0.9:40000 to the stack's echo server on port 80, in a frame. */
function tcpFrame(seq: number, ack: number, flags: number, payload = 0, syn = false): Uint8Array {
  const r: TcpRepr = { srcPort: 40000, dstPort: 80, seq, ack, flags, window: 65535 };
  const peer = ip('10.0.0.9'); // no such host: the stack's answers wait on ARP, and nothing resets the connection
  if (syn) Object.assign(r, { mss: 1460, wscale: 7, sackPermitted: true, timestamps: [1, 0] as const });
  const tl = tcpHeaderLen(r) + payload;
  const f = new Uint8Array(34 + tl);
  f.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00]);
  f.fill(0x61, 34 + tcpHeaderLen(r));
  emitTcp(r, peer, ip('10.0.0.2'), f, 34, payload);
  emitIpv4({ src: peer, dst: ip('10.0.0.2'), protocol: 6, ttl: 64, payloadLen: tl }, f, 14);
  return f;
}

/** The stack target's simulation: two stacks, echo servers on the second's TCP port 80 and UDP port 7, at 1 ms. */
function setup(): { net: ReturnType<typeof simNet>; a: Stack; s: Stack } {
  const net = simNet(2, 11);
  const [a, s] = net.stacks as [Stack, Stack];
  s.tcp.listen(80, (c) => {
    c.events = { onData: (d) => void c.write(d), onEnd: () => c.close() };
  });
  s.udp.bind(7, (d) => void s.udp.sendFrom(7, d.src, d.srcPort, d.buf.slice(d.off, d.end)));
  net.sched.run({ untilNs: 1_000_000n });
  return { net, a, s };
}

/** Every TCP connection of `s`: its queues within their bounds. */
function checkTcp(s: Stack): void {
  const conns = (s.tcp as unknown as { conns: Map<number, Map<number, TcpConnection>> }).conns;
  let n = 0;
  for (const m of conns.values())
    for (const c of m.values()) {
      n++;
      const q = c as unknown as { recvQ: { length: number; capacity: number }; ooo: { heldBytes: number } };
      assert.ok(c.bufferedSend <= 1 << 20, `a connection holds ${c.bufferedSend} bytes to send`);
      assert.ok(q.recvQ.length <= q.recvQ.capacity, `a receive queue holds ${q.recvQ.length} of ${q.recvQ.capacity} bytes`);
      assert.ok(q.ooo.heldBytes <= q.recvQ.capacity, `out-of-order data held: ${q.ooo.heldBytes} bytes`);
    }
  assert.ok(n <= 256, `${n} TCP connections`);
}

/** An input that opens a connection to the echo server and uses it: the SYN-ACK's sequence number taken from a run. */
function handshakeSeed(): Uint8Array {
  const { net, s } = setup();
  const syn = tcpFrame(1000, 0, 0x02, 0, true);
  syn.set(s.ethernet.mac, 0);
  s.ethernet.input(syn);
  net.sched.run({ untilNs: 2_000_000n });
  const conns = (s.tcp as unknown as { conns: Map<number, Map<number, TcpConnection>> }).conns;
  const c = [...conns.values()].flatMap((m) => [...m.values()])[0];
  const iss = (c as unknown as { sndUna: number } | undefined)?.sndUna ?? 0;
  const ack = (iss + 1) >>> 0;
  return Uint8Array.of(
    1,
    ...joinRecords([syn, tcpFrame(1001, ack, 0x10), tcpFrame(1001, ack, 0x18, 100), tcpFrame(1101, ack + 100, 0x11)]),
  );
}

/** A UDP datagram from 10.0.0.9:5000 to the stack's echo port 7, in a frame. */
function udpFrame(payload: number): Uint8Array {
  const f = new Uint8Array(42 + payload);
  f.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00]);
  f.fill(0x62, 42);
  emitUdp({ srcPort: 5000, dstPort: 7, payloadLen: payload }, ip('10.0.0.9'), ip('10.0.0.2'), f, 34);
  emitIpv4({ src: ip('10.0.0.9'), dst: ip('10.0.0.2'), protocol: 17, ttl: 64, payloadLen: 8 + payload }, f, 14);
  return f;
}

/**
 * The whole stack fed up to 16 frames. `plant` changes the stack before the input goes in (a test plants
 * an uncounted drop to see the accounting catch it).
 */
export function stackTarget(plant?: (s: Stack) => void): Target {
  return {
    name: 'stack',
    maxLen: 6000,
    // The first byte: bit 0 set fixes each frame's checksums before it goes in.
    seeds: () => [
      Uint8Array.of(0, ...joinRecords(frames.slice(0, 4))),
      Uint8Array.of(0, ...joinRecords(frames.filter((f) => f.length > 1000))),
      ...frames.map((f) => Uint8Array.of(1, ...joinRecords([f]))),
      // A handshake with the echo server, data, and a FIN, acknowledging the ISS the simulation gives the stack.
      handshakeSeed(),
      // Datagrams to the UDP echo port.
      Uint8Array.of(0, ...joinRecords([udpFrame(20), udpFrame(0), udpFrame(1400)])),
    ],
    run(b) {
      const { net, a, s } = setup();
      plant?.(s);
      const ledgers = [account(s), account(a)];
      const r = s.ipv4.reassembly;
      let t = 1_000_000n;
      const fix = ((b[0] ?? 0) & 1) === 1;
      for (const f0 of records(b.subarray(1), 16)) {
        const f = f0.slice();
        // Addressed to the stack, so that it climbs past the Ethernet filter.
        if (f.length >= 6 && (f[0]! & 1) === 0) f.set(s.ethernet.mac, 0);
        if (fix) fixChecksums(f);
        s.ethernet.input(f);
        t += 1_000_000n;
        net.sched.run({ untilNs: t, maxSteps: 100_000 });
        assert.ok(r.datagramsHeld <= 64 && r.bytesHeld <= 4 << 20, `reassembly holds ${r.datagramsHeld} datagrams, ${r.bytesHeld} bytes`);
        assert.ok(s.arp.size <= 1024, `${s.arp.size} ARP entries`);
        // Frames waiting for ARP: within the per-address and total bounds, and the total is what the entries hold.
        const arp = s.arp as unknown as { queued: number; entries: Map<number, { queuedBytes: number }> };
        let queued = 0;
        for (const e of arp.entries.values()) {
          assert.ok(e.queuedBytes <= 256 * 1024, `${e.queuedBytes} bytes wait for one address`);
          queued += e.queuedBytes;
        }
        assert.ok(queued === arp.queued && queued <= 1 << 20, `${queued} bytes wait for ARP (counted ${arp.queued})`);
        checkTcp(s);
      }
      // Past ARP's aging (a spoofed entry for 10.0.0.1 goes), reassembly's timeout and TCP's: the stack still answers a ping.
      t += 661n * S;
      net.sched.run({ untilNs: t, maxSteps: 1_000_000 });
      assert.equal(r.datagramsHeld, 0, 'every incomplete datagram was freed');
      // Connections may stay (an idle ESTABLISHED one lives until keep-alive or the application ends it): bounded, not gone.
      checkTcp(s);
      let replies = 0;
      a.icmp.onEchoReply((e) => {
        if (equalBytes(e.data, pattern(64))) replies++;
      });
      a.icmp.ping(ip('10.0.0.2'), 9, 1, pattern(64));
      net.sched.run({ untilNs: t + S, maxSteps: 1_000_000 });
      assert.equal(replies, 1, 'the stack answers a ping after the input');
      for (const l of ledgers) checkLedger(l);
      for (const [k, v] of Object.entries(ledgers[0]!.dropped)) DROPPED[k] = (DROPPED[k] ?? 0) + v;
    },
    counts: () => DROPPED,
  };
}

/** Frames the stack target's stack dropped, by reason, over every input so far (the runner's summary prints them). */
const DROPPED: Record<string, number> = {};

const stack = stackTarget();

export const STACK_TARGETS: Target[] = [tcpConn, stack];
