/**
 * The application's calls (RFC 9293 §3.10.2-3.10.5: SEND, CLOSE, ABORT) in
 * each state, segment by segment, and what the connection reports to it
 * (buffered bytes, free room, SRTT, the receive window's bound). See
 * segment-harness.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fill, LOCAL_ISS, MS, REMOTE_ISS, SegmentHarness } from './segment-harness.ts';

const L = LOCAL_ISS + 1,
  R = REMOTE_ISS + 1,
  W = 65535,
  M = 1460;

test('SEND (§3.10.2): refused once the connection is closing or closed, saying so', () => {
  const fin1 = new SegmentHarness();
  const c1 = fin1.finWait1();
  assert.throws(() => c1.write(new Uint8Array(1)), /cannot write: the connection is FIN-WAIT-1 and shut down for writing/);
  const fin2 = new SegmentHarness();
  assert.throws(() => fin2.finWait2().write(new Uint8Array(1)), /FIN-WAIT-2/);
  const tw = new SegmentHarness();
  assert.throws(() => tw.timeWait().write(new Uint8Array(1)), /TIME-WAIT/);
  const la = new SegmentHarness();
  assert.throws(() => la.lastAck().write(new Uint8Array(1)), /LAST-ACK/);
  const cl = new SegmentHarness();
  const c = cl.established();
  c.abort();
  assert.throws(() => c.write(new Uint8Array(1)), /^Error: cannot write: the connection is CLOSED$/);
});

test('SEND (§3.10.2): in CLOSE-WAIT data still goes (the peer closed only its half)', () => {
  const h = new SegmentHarness();
  const c = h.closeWait();
  assert.equal(c.write(new Uint8Array(5)), 5);
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L, ack: R + 1, window: W, len: 5 }]);
});

test('SEND: a write beyond the send buffer takes what fits; onDrain once an ACK frees room', () => {
  const h = new SegmentHarness();
  const c = h.established({ sendBuffer: 4000, noDelay: true });
  assert.deepEqual([c.bufferedSend, c.sendBufferFree], [0, 4000]);
  assert.equal(c.write(new Uint8Array(3000)), 3000);
  assert.equal(c.write(new Uint8Array(3000)), 1000, 'only the room left');
  assert.deepEqual([c.bufferedSend, c.sendBufferFree], [4000, 0]);
  h.recv();
  h.send({ seq: R, ack: L + 1460, flags: '.' });
  assert.deepEqual([c.bufferedSend, c.sendBufferFree], [2540, 1460]);
  assert.deepEqual(h.events, ['drain']);
  h.send({ seq: R, ack: L + 2920, flags: '.' });
  assert.deepEqual(h.events, ['drain'], 'once per refusal');
});

test('SEND: a write that fits raises no onDrain later', () => {
  const h = new SegmentHarness();
  const c = h.established({ sendBuffer: 4000 });
  c.write(new Uint8Array(4000));
  h.recv();
  h.send({ seq: R, ack: L + 4000, flags: '.' });
  assert.deepEqual(h.events, []);
});

test('CLOSE (§3.10.4) in SYN-SENT: the connection is deleted quietly, no segment sent', () => {
  const h = new SegmentHarness();
  const c = h.synSent();
  c.shutdown();
  assert.equal(c.state, 'CLOSED');
  assert.deepEqual(h.recv(), []);
  assert.deepEqual(h.events, ['close undefined']);
  assert.equal(h.tcp.connectionCount, 0);
  h.advance(10n * 1000n * MS);
  assert.deepEqual(h.recv(), [], 'no SYN is resent');
});

test('CLOSE (§3.10.4): a second shutdown sends no second FIN; in FIN-WAIT-2 and TIME-WAIT it does nothing', () => {
  const h = new SegmentHarness();
  const c = h.finWait1();
  c.shutdown();
  c.close();
  assert.deepEqual(h.recv(), []);
  assert.equal(c.state, 'FIN-WAIT-1');
  h.send({ seq: R, ack: L + 1, flags: '.' });
  c.shutdown();
  assert.deepEqual([c.state, h.recv()], ['FIN-WAIT-2', []]);
  h.send({ seq: R, ack: L + 1, flags: 'F.' });
  h.recv();
  c.shutdown();
  assert.deepEqual([c.state, h.recv()], ['TIME-WAIT', []]);
});

test('ABORT (§3.10.5): in ESTABLISHED, CLOSE-WAIT, FIN-WAIT-1 and FIN-WAIT-2 a RST at SND.NXT goes; the application hears reset', () => {
  const cases: [string, (h: SegmentHarness) => { abort(): void }, number][] = [
    ['ESTABLISHED', (h) => h.established(), L],
    ['CLOSE-WAIT', (h) => h.closeWait(), L],
    ['FIN-WAIT-1', (h) => h.finWait1(), L + 1],
    ['FIN-WAIT-2', (h) => h.finWait2(), L + 1],
  ];
  for (const [state, open, seq] of cases) {
    const h = new SegmentHarness();
    const c = open(h);
    h.events.length = 0;
    c.abort();
    assert.deepEqual(h.recv(), [{ flags: 'R', seq, ack: 0, window: 0, len: 0 }], state);
    assert.deepEqual(h.events, ['close reset'], state);
    assert.equal(h.tcp.connectionCount, 0, state);
    assert.equal((c as unknown as { nextTimerNs(): bigint | undefined }).nextTimerNs(), undefined, `${state}: no timer left`);
  }
});

test("ABORT (§3.10.5): in CLOSING and LAST-ACK the peer has sent its FIN: no RST (it could end the peer's TIME-WAIT, RFC 1337)", () => {
  for (const open of [(h: SegmentHarness) => h.closing(), (h: SegmentHarness) => h.lastAck()]) {
    const h = new SegmentHarness();
    const c = open(h);
    const state = c.state;
    h.events.length = 0;
    c.abort();
    assert.deepEqual(h.recv(), [], state);
    assert.deepEqual(h.events, ['close reset'], state);
    assert.equal(h.tcp.connectionCount, 0, state);
  }
});

test('ABORT (§3.10.5): in SYN-RECEIVED (a simultaneous open) a RST goes', () => {
  const h = new SegmentHarness();
  const c = h.synSent();
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460 });
  h.recv();
  c.abort();
  assert.deepEqual(h.recv(), [{ flags: 'R', seq: L, ack: 0, window: 0, len: 0 }]);
});

test('ABORT (§3.10.5): in SYN-SENT and TIME-WAIT nothing is sent', () => {
  const s = new SegmentHarness();
  const c = s.synSent();
  c.abort();
  assert.deepEqual(s.recv(), []);
  assert.deepEqual(s.events, ['close reset']);
  const t = new SegmentHarness();
  const d = t.timeWait();
  t.events.length = 0;
  d.abort();
  assert.deepEqual(t.recv(), []);
  assert.equal(t.tcp.connectionCount, 0);
  assert.deepEqual(t.events, [], 'its application already heard the close');
});

test('the connection reports its SRTT and the receive window bound', () => {
  const h = new SegmentHarness({ rttNs: 7n * MS });
  const c = h.established({}, { ts: undefined });
  assert.equal(c.srttNs, 7_000_000, 'the handshake round trip is the first sample');
  assert.equal(c.receiveWindowLimit, 65536);
  const small = new SegmentHarness();
  assert.equal(small.established({ receiveBuffer: 5000 }).receiveWindowLimit, 5000);
});

test('pause: data is held, the window closes by it; resume delivers it and announces the window again', () => {
  const h = new SegmentHarness();
  const c = h.established({ receiveBuffer: 4000 });
  c.pause();
  h.send({ seq: R, ack: L, flags: 'P.', payload: 3000 });
  h.advance(40n * MS);
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 3000, window: 1000, len: 0 }]);
  assert.deepEqual(h.events, []);
  c.resume();
  assert.deepEqual(h.events, ['data 3000']);
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 3000, window: 4000, len: 0 }], 'the window update');
  c.resume();
  assert.deepEqual([h.events.length, h.recv()], [1, []], 'resuming again does nothing');
});

test('pause: a small read that frees less than min(window / 2, MSS) sends no update (receiver SWS avoidance)', () => {
  const h = new SegmentHarness();
  const c = h.established({ receiveBuffer: 4000 });
  c.pause();
  h.send({ seq: R, ack: L, flags: 'P.', payload: 3000 });
  h.advance(40n * MS);
  h.recv();
  h.send({ seq: R + 3000, ack: L, flags: 'P.', payload: 1000 });
  h.advance(40n * MS);
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 4000, window: 0, len: 0 }]);
  c.resume();
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 4000, window: 4000, len: 0 }], 'the whole buffer freed: worth it');
});

test('pause: a FIN behind queued data is told (onEnd) only after that data, when the application resumes', () => {
  const h = new SegmentHarness();
  const c = h.established();
  c.pause();
  h.send({ seq: R, ack: L, flags: 'P.', payload: 300 });
  h.send({ seq: R + 300, ack: L, flags: 'F.' });
  assert.equal(c.state, 'CLOSE-WAIT');
  assert.deepEqual(h.events, []);
  c.resume();
  assert.deepEqual(h.events, ['data 300', 'end']);
  assert.equal(h.received.length, 300);
});

test("pause: in FIN-WAIT-2 the peer's data and FIN end in TIME-WAIT; data, onEnd and onClose follow the resume, in order", () => {
  const h = new SegmentHarness();
  const c = h.finWait2();
  c.pause();
  h.send({ seq: R, ack: L + 1, flags: 'P.', payload: 200 });
  h.send({ seq: R + 200, ack: L + 1, flags: 'F.' });
  assert.equal(c.state, 'TIME-WAIT');
  assert.deepEqual(h.events, []);
  c.resume();
  assert.deepEqual(h.events, ['data 200', 'end', 'close undefined']);
});

test('pause: a window update after the application reads goes in FIN-WAIT-2 too (the peer may still send)', () => {
  const h = new SegmentHarness();
  const c = h.finWait2({ receiveBuffer: 3000 });
  c.pause();
  h.send({ seq: R, ack: L + 1, flags: 'P.', payload: 3000 });
  h.advance(40n * MS);
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L + 1, ack: R + 3000, window: 0, len: 0 }]);
  c.resume();
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L + 1, ack: R + 3000, window: 3000, len: 0 }]);
});

test('Nagle (RFC 9293 §3.8.6.2.1) lets the short last segment go at once when the FIN follows it', () => {
  const h = new SegmentHarness();
  const c = h.established();
  c.write(new Uint8Array(M + 100));
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: M }], 'the short tail waits for the ACK');
  c.shutdown();
  assert.deepEqual(h.recv(), [{ flags: 'FP.', seq: L + M, ack: R, window: W, len: 100 }]);
});

test('after close, data from the peer is taken (ACKed) but not delivered', () => {
  const h = new SegmentHarness();
  const c = h.established();
  c.close();
  h.recv();
  h.send({ seq: R, ack: L + 1, flags: 'P.', payload: 50 });
  h.advance(40n * MS);
  assert.deepEqual(h.events, []);
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L + 1, ack: R + 50, window: W, len: 0 }]);
});

test('the bytes on the wire are the bytes written, in order, across segments and in a resend', () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true });
  const data = fill(5000, 3);
  c.write(data.subarray(0, 2000));
  c.write(data.subarray(2000));
  const out = h.recvSent();
  assert.deepEqual(
    out.map((s) => s.seg.len),
    [1460, 540, 1460, 1460, 80],
  );
  assert.deepEqual(
    out.flatMap((s) => [...s.payload]),
    [...data],
  );
  h.nextTimer();
  const [again] = h.recvSent();
  assert.deepEqual([...again!.payload], [...data.subarray(0, 1460)], 'the resend carries the same bytes');
});

test("RFC 1191: a connection's segments leave with don't-fragment set (path MTU discovery)", () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true });
  c.write(new Uint8Array(100));
  h.nextTimer();
  c.abort();
  const all = h.log.map((s) => [s.seg.flags, s.df]);
  assert.deepEqual(all, [
    ['S.', true],
    ['P.', true],
    ['P.', true],
    ['R', true],
  ]);
});

test('RFC 9293 §3.10.7.4: a RST in SYN-RECEIVED after a simultaneous open tells the application "connection refused"', () => {
  const h = new SegmentHarness();
  const c = h.synSent();
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460 });
  h.recv();
  h.send({ seq: R, flags: 'R' });
  assert.equal(c.state, 'CLOSED');
  assert.deepEqual(h.events, ['close refused']);
  assert.deepEqual(h.recv(), []);
});

test('RFC 6298 §2.2: the active open measures its first RTT from the SYN to the SYN-ACK', () => {
  const h = new SegmentHarness({ rttNs: 50n * MS });
  const c = h.activeEstablished();
  assert.equal(c.srttNs, 50_000_000);
  const ts = new SegmentHarness({ rttNs: 50n * MS });
  assert.equal(ts.activeEstablished({}, { ts: [1, ts.tsNow] }).srttNs, 50_000_000, 'with timestamps too (the SYN-ACK echoes ours)');
});

test('the application hears of the close once: a second abort, or TIME-WAIT running out, tells it nothing more', () => {
  const h = new SegmentHarness();
  const c = h.established();
  c.abort();
  c.abort();
  assert.deepEqual(h.events, ['close reset']);
  assert.deepEqual(h.recv().length, 1, 'one RST');
  const t = new SegmentHarness();
  t.timeWait();
  t.events.length = 0;
  t.advance(61n * 1000n * MS);
  assert.deepEqual(t.events, []);
  assert.equal(t.tcp.connectionCount, 0);
});

test('RFC 1122 §4.2.3.5: a half-open connection resends its SYN-ACK synRetries times, then gives up with RST', () => {
  const h = new SegmentHarness();
  h.synReceived({ synRetries: 2 });
  const gaps: number[] = [];
  for (let i = 0; i < 3; i++) gaps.push(Number(h.nextTimer() / MS));
  assert.deepEqual(gaps, [1000, 2000, 4000]);
  assert.deepEqual(
    h.recv().map((s) => s.flags),
    ['S.', 'S.', 'R'],
  );
  assert.equal(h.tcp.connectionCount, 0);
});

test("CLOSE: an orphaned connection waits in FIN-WAIT-2 for the peer's FIN for 60 s (Linux's tcp_fin_timeout), then resets; a half-close waits for ever", () => {
  const h = new SegmentHarness();
  const c = h.established();
  c.close();
  assert.deepEqual(h.recv(), [{ flags: 'F.', seq: L, ack: R, window: W, len: 0 }]);
  h.send({ seq: R, ack: L + 1, flags: '.' });
  assert.equal(c.state, 'FIN-WAIT-2');
  h.send({ seq: R, ack: L + 1, flags: 'P.', payload: 100 }); // data from the peer does not extend the wait
  h.advance(59_999n * MS);
  h.recv();
  assert.equal(c.state, 'FIN-WAIT-2', 'still waiting just before 60 s');
  h.advance(MS);
  assert.deepEqual(h.recv(), [{ flags: 'R', seq: L + 1, ack: 0, window: 0, len: 0 }]);
  assert.equal(c.state, 'CLOSED');
  assert.equal(h.tcp.counters.finWait2Timeouts, 1);
  assert.equal(h.tcp.connectionCount, 0);

  // Closed after a half-close (shutdown, then close in FIN-WAIT-2): the wait starts at the close.
  const late = new SegmentHarness({ tcp: { finWait2TimeoutNs: 5000n * MS } });
  const d = late.finWait2();
  late.advance(10_000n * MS);
  assert.equal(d.state, 'FIN-WAIT-2', 'half-closed: the application may still read, no timer');
  d.close();
  late.advance(4_999n * MS);
  assert.equal(d.state, 'FIN-WAIT-2');
  late.advance(MS);
  assert.equal(d.state, 'CLOSED', 'finWait2TimeoutNs after the close');

  // The peer's FIN in time: TIME-WAIT as usual, no reset.
  const fin = new SegmentHarness();
  const e = fin.established();
  e.close();
  fin.send({ seq: R, ack: L + 1, flags: '.' });
  fin.advance(30_000n * MS);
  fin.recv();
  fin.send({ seq: R, ack: L + 1, flags: 'F.' });
  assert.equal(e.state, 'TIME-WAIT');
  fin.advance(60_000n * MS);
  assert.deepEqual(
    fin.recv().filter((s) => s.flags.includes('R')),
    [],
  );
  assert.deepEqual([e.state, fin.tcp.counters.finWait2Timeouts], ['CLOSED', 0]);
});

test('CLOSE while paused with data held: the data is dropped and the shut window opens again, so the peer can finish', () => {
  const h = new SegmentHarness();
  const c = h.established({ receiveBuffer: 3000 });
  c.pause();
  h.send({ seq: R, ack: L, flags: 'P.', payload: 3000 });
  h.advance(40n * MS);
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 3000, window: 0, len: 0 }], 'the window is shut');
  c.close();
  assert.deepEqual(h.recv(), [
    { flags: '.', seq: L, ack: R + 3000, window: 3000, len: 0 },
    { flags: 'F.', seq: L, ack: R + 3000, window: 3000, len: 0 },
  ]);
  h.send({ seq: R + 3000, ack: L + 1, flags: 'F.' });
  assert.equal(c.state, 'TIME-WAIT');
  assert.deepEqual(h.events, ['end', 'close undefined'], 'no data delivered after the close (the held 3000 octets dropped)');
});
