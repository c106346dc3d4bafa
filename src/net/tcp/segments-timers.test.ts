/**
 * TCP timers segment by segment, on virtual time: the persist timer and its
 * zero-window probes (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17), retransmission
 * (RFC 6298), delayed ACKs (RFC 9293 §3.8.6.3), keepalive (RFC 9293 §3.8.4,
 * RFC 1122 §4.2.3.6), the user timeout (RFC 9293 §3.8.3, RFC 5482). See
 * segment-harness.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LOCAL_ISS, MS, REMOTE_ISS, S, SegmentHarness, type SegOut } from './segment-harness.ts';

const L = LOCAL_ISS + 1,
  R = REMOTE_ISS + 1,
  W = 65535,
  M = 1460;
const ms = (ns: bigint): number => Number(ns / MS);

// ------------------------------------------------------------------ persist

/** ESTABLISHED after a 1 ms handshake (RTO 200 ms, the floor) whose ACK closed the peer's window; 3000 bytes queued. */
function closed(opts: { maxRetries?: number } = {}): SegmentHarness {
  const h = new SegmentHarness();
  const c = h.established(opts, {}, { window: 0 });
  c.write(new Uint8Array(3000));
  assert.deepEqual(h.recv(), [], 'nothing goes into a zero window');
  return h;
}
const probe = (seq: number): SegOut => ({ flags: '.', seq, ack: R, window: W, len: 1 });

test('persist: the first probe goes one RTO after the window closed: one octet beyond it', () => {
  const h = closed();
  assert.equal(ms(h.nextTimer()), 200);
  assert.deepEqual(h.recv(), [probe(L)]);
});

test('persist: probes answered with a zero window back off from the RTO, doubling each time, capped at the maximum RTO', () => {
  const h = closed();
  const gaps: number[] = [];
  for (let i = 0; i < 12; i++) {
    gaps.push(ms(h.nextTimer()));
    assert.deepEqual(h.recv(), [probe(L)], `probe ${i + 1}`);
    h.send({ seq: R, ack: L, flags: '.', window: 0 });
    assert.deepEqual(h.recv(), [], 'the answer draws nothing');
  }
  assert.deepEqual(gaps, [200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000, 60000]);
});

test('persist: a peer that answers every probe keeps the connection open past the retry limit (RFC 1122 §4.2.2.17)', () => {
  const h = closed({ maxRetries: 3 });
  for (let i = 0; i < 10; i++) {
    h.nextTimer();
    assert.deepEqual(h.recv(), [probe(L)]);
    h.send({ seq: R, ack: L, flags: '.', window: 0 });
  }
  assert.equal(h.conn!.state, 'ESTABLISHED');
  assert.deepEqual(h.events, []);
});

test('persist: a peer that takes the probe octet but keeps its window closed: the next probe is the next octet, the backoff goes on', () => {
  const h = closed();
  assert.equal(ms(h.nextTimer()), 200);
  assert.deepEqual(h.recv(), [probe(L)]);
  h.send({ seq: R, ack: L + 1, flags: '.', window: 0 });
  assert.deepEqual(h.recv(), []);
  assert.equal(ms(h.nextTimer()), 400);
  assert.deepEqual(h.recv(), [probe(L + 1)]);
  h.send({ seq: R, ack: L + 2, flags: '.', window: 0 });
  assert.equal(ms(h.nextTimer()), 800);
  assert.deepEqual(h.recv(), [probe(L + 2)]);
});

test('persist: unanswered probes end the connection after the retry limit, with RST', () => {
  const h = closed({ maxRetries: 3 });
  const gaps: number[] = [];
  for (let i = 0; i < 3; i++) {
    gaps.push(ms(h.nextTimer()));
    assert.deepEqual(h.recv(), [probe(L)]);
  }
  gaps.push(ms(h.nextTimer()));
  assert.deepEqual(gaps, [200, 400, 800, 1600]);
  assert.deepEqual(h.recv(), [{ flags: 'R', seq: L + 1, ack: 0, window: 0, len: 0 }]);
  assert.deepEqual(h.events, ['close timeout']);
});

test('persist: the window opening after a refused probe sends from SND.UNA, the probe octet first', () => {
  const h = closed();
  h.nextTimer();
  h.recv();
  h.send({ seq: R, ack: L, flags: '.', window: 5000 });
  assert.deepEqual(h.recv(), [
    { flags: '.', seq: L, ack: R, window: W, len: 1460 },
    { flags: '.', seq: L + 1460, ack: R, window: W, len: 1460 },
  ]);
  h.send({ seq: R, ack: L + 2920, flags: '.', window: 5000 });
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L + 2920, ack: R, window: W, len: 80 }]);
  h.send({ seq: R, ack: L + 3000, flags: '.', window: 5000 });
  h.advance(120n * S);
  assert.deepEqual(h.recv(), [], 'no probe, no retransmission');
});

test('persist: a window update before the first probe stops the timer; the data goes out', () => {
  const h = closed();
  h.advance(100n * MS);
  h.send({ seq: R, ack: L, flags: '.', window: 1000 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: 1000 }]);
  h.send({ seq: R, ack: L + 1000, flags: '.', window: 0 });
  h.advance(199n * MS);
  assert.deepEqual(h.recv(), []);
  h.advance(1n * MS);
  assert.deepEqual(h.recv(), [probe(L + 1000)], 'the window closed again: probing starts over from one RTO');
});

test('persist: a zero window with nothing to send sends nothing', () => {
  const h = new SegmentHarness();
  h.established({}, {}, { window: 0 });
  h.advance(600n * S);
  assert.deepEqual(h.recv(), []);
});

test('persist: zero-window answers to probes are not duplicate ACKs (no fast retransmit of the probe)', () => {
  const h = closed();
  h.nextTimer();
  h.recv();
  for (let i = 0; i < 5; i++) h.send({ seq: R, ack: L, flags: '.', window: 0 });
  assert.deepEqual(h.recv(), []);
  assert.equal(h.tcp.counters.fastRetransmits, 0);
});

// ----------------------------------------------------------- retransmission

test('RFC 6298 §2.2: the first RTT sample sets RTO = SRTT + 4 RTTVAR (300 ms handshake: 900 ms)', () => {
  const h = new SegmentHarness({ rttNs: 300n * MS });
  const c = h.established();
  c.write(new Uint8Array(10));
  h.recv();
  assert.equal(ms(h.nextTimer()), 900);
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L, ack: R, window: W, len: 10 }]);
});

test('RFC 6298 §2.4: the RTO never goes below 1 s before a sample, nor below the 200 ms floor after one', () => {
  const h = new SegmentHarness();
  h.synSent();
  assert.equal(ms(h.nextTimer()), 1000);
  const h2 = new SegmentHarness({ rttNs: 1n * MS });
  const c = h2.established();
  c.write(new Uint8Array(10));
  h2.recv();
  assert.equal(ms(h2.nextTimer()), 200);
});

test('RFC 6298 §5.5: each timeout doubles the RTO, up to the maximum', () => {
  const h = new SegmentHarness();
  const c = h.established({ maxRtoNs: 3n * S });
  c.write(new Uint8Array(10));
  h.recv();
  const gaps: number[] = [];
  for (let i = 0; i < 6; i++) {
    gaps.push(ms(h.nextTimer()));
    assert.equal(h.recv().length, 1);
  }
  assert.deepEqual(gaps, [200, 400, 800, 1600, 3000, 3000]);
});

test('RFC 5681 §3.1: after a timeout only the first segment is resent; each ACK then opens the window as slow start', () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true });
  c.write(new Uint8Array(5 * 1460));
  assert.equal(h.recv().length, 5);
  h.nextTimer();
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: 1460 }]);
  h.send({ seq: R, ack: L + 1460, flags: '.' });
  assert.deepEqual(h.recv(), [
    { flags: '.', seq: L + 1460, ack: R, window: W, len: 1460 },
    { flags: '.', seq: L + 2920, ack: R, window: W, len: 1460 },
  ]);
});

test('RFC 6298 §5.2/5.3: an ACK of everything stops the timer; an ACK of part restarts it', () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true });
  c.write(new Uint8Array(2 * 1460));
  h.recv();
  h.advance(150n * MS);
  h.send({ seq: R, ack: L + 1460, flags: '.' });
  h.advance(199n * MS);
  assert.deepEqual(h.recv(), [], 'restarted at the partial ACK');
  h.advance(1n * MS);
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L + 1460, ack: R, window: W, len: 1460 }]);
  h.send({ seq: R, ack: L + 2920, flags: '.' });
  h.advance(600n * S);
  assert.deepEqual(h.recv(), []);
});

// -------------------------------------------------------------- delayed ACK

test('delayed ACK: the delay is configurable (RFC 9293 §3.8.6.3 allows up to 500 ms)', () => {
  const h = new SegmentHarness();
  h.established({ delayedAckNs: 200n * MS });
  h.send({ seq: R, ack: L, flags: '.', payload: 10 });
  h.advance(199n * MS);
  assert.deepEqual(h.recv(), []);
  h.advance(1n * MS);
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 10, window: W, len: 0 }]);
});

test('delayed ACK: a second segment within the delay is ACKed at once and the timer is cancelled', () => {
  const h = new SegmentHarness();
  h.established();
  h.send({ seq: R, ack: L, flags: '.', payload: 10 });
  h.advance(20n * MS);
  h.send({ seq: R + 10, ack: L, flags: '.', payload: 10 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 20, window: W, len: 0 }]);
  h.advance(100n * MS);
  assert.deepEqual(h.recv(), []);
});

// ---------------------------------------------------------------- keepalive

const KA = { keepAliveNs: 10n * S, keepAliveIntervalNs: 1n * S, keepAliveProbes: 3 };
const keepAliveProbe: SegOut = { flags: '.', seq: L - 1, ack: R, window: W, len: 0 };

test('keepalive (RFC 9293 §3.8.4): after the idle time, an ACK with SEG.SEQ = SND.NXT - 1 and no data', () => {
  const h = new SegmentHarness();
  h.established(KA);
  assert.equal(ms(h.nextTimer()), 10_000);
  assert.deepEqual(h.recv(), [keepAliveProbe]);
});

test('keepalive: an answered probe makes the connection idle again: the next probe after the whole idle time', () => {
  const h = new SegmentHarness();
  const c = h.established(KA);
  h.nextTimer();
  h.recv();
  h.advance(5n * MS);
  h.send({ seq: R, ack: L, flags: '.' });
  assert.equal(ms(h.nextTimer()), 10_000);
  assert.deepEqual(h.recv(), [keepAliveProbe]);
  assert.equal(c.state, 'ESTABLISHED');
});

test('keepalive: unanswered probes, one per interval, then RST and the connection times out', () => {
  const h = new SegmentHarness();
  const c = h.established(KA);
  const gaps: number[] = [];
  for (let i = 0; i < 3; i++) {
    gaps.push(ms(h.nextTimer()));
    assert.deepEqual(h.recv(), [keepAliveProbe]);
  }
  gaps.push(ms(h.nextTimer()));
  assert.deepEqual(gaps, [10_000, 1000, 1000, 1000]);
  assert.deepEqual(h.recv(), [{ flags: 'R', seq: L, ack: 0, window: 0, len: 0 }]);
  assert.equal(c.state, 'CLOSED');
  assert.deepEqual(h.events, ['close timeout']);
});

test('keepalive: any segment from the peer restarts the idle time', () => {
  const h = new SegmentHarness();
  h.established(KA);
  h.advance(9n * S);
  h.send({ seq: R, ack: L, flags: '.', payload: 1 });
  h.advance(40n * MS);
  h.recv();
  h.advance(9n * S);
  assert.deepEqual(h.recv(), []);
  h.advance(1n * S);
  assert.deepEqual(h.recv(), [{ ...keepAliveProbe, ack: R + 1 }]);
});

test('keepalive: off by default (RFC 1122 §4.2.3.6): two idle hours, nothing sent', () => {
  const h = new SegmentHarness();
  h.established();
  h.advance(7200n * S);
  assert.deepEqual(h.recv(), []);
  assert.equal(h.conn!.state, 'ESTABLISHED');
});

test('keepalive: no probe while data is in flight (the retransmission timer watches the peer)', () => {
  const h = new SegmentHarness();
  const c = h.established({ ...KA, maxRetries: 100, maxRtoNs: 20n * S });
  h.advance(9n * S);
  c.write(new Uint8Array(10));
  h.recv();
  h.advance(5n * S);
  const out = h.recv();
  assert.ok(out.length > 0 && out.every((s) => s.len === 10 && s.seq === L), JSON.stringify(out));
});

test('keepalive: the active opener probes too', () => {
  const h = new SegmentHarness();
  h.activeEstablished(KA);
  assert.equal(ms(h.nextTimer()), 10_000);
  const [p] = h.recv();
  assert.equal(p?.seq, L - 1);
  assert.equal(p?.len, 0);
});

// -------------------------------------------------------------- user timeout

test('user timeout (RFC 9293 §3.8.3, RFC 5482): data unacknowledged for that long ends the connection then, not at the next RTO after', () => {
  const h = new SegmentHarness();
  const c = h.established({ userTimeoutNs: 1n * S });
  const t0 = h.now;
  c.write(new Uint8Array(10));
  h.recv();
  h.nextTimer(); // 200 ms
  h.nextTimer(); // 600 ms
  assert.deepEqual(
    h.recv().map((s) => s.len),
    [10, 10],
  );
  h.nextTimer();
  assert.equal(ms(h.now - t0), 1000);
  assert.deepEqual(h.recv(), [{ flags: 'R', seq: L + 10, ack: 0, window: 0, len: 0 }]);
  assert.equal(c.state, 'CLOSED');
  assert.deepEqual(h.events, ['close timeout']);
});

test('user timeout: the clock starts over when the peer acknowledges something', () => {
  const h = new SegmentHarness();
  const c = h.established({ userTimeoutNs: 1n * S, noDelay: true });
  c.write(new Uint8Array(10));
  h.advance(500n * MS);
  c.write(new Uint8Array(10));
  h.send({ seq: R, ack: L + 10, flags: '.' });
  h.advance(900n * MS);
  assert.equal(c.state, 'ESTABLISHED', 'the second write is 900 ms unacknowledged');
});

test('user timeout: without it, the retry limit decides', () => {
  const h = new SegmentHarness();
  const c = h.established({ maxRetries: 2 });
  c.write(new Uint8Array(10));
  h.recv();
  h.nextTimer();
  h.nextTimer();
  assert.equal(c.state, 'ESTABLISHED');
  h.nextTimer();
  assert.equal(c.state, 'CLOSED');
});

test('user timeout: it counts from the first unacknowledged data; the handshake is bounded by the SYN retries instead', () => {
  const h = new SegmentHarness();
  const c = h.synSent({ userTimeoutNs: 500n * MS, synRetries: 2 });
  assert.equal(ms(h.nextTimer()), 1000);
  assert.deepEqual(
    h.recv().map((s) => s.flags),
    ['S'],
    'the SYN again at the RTO, past the user timeout',
  );
  assert.equal(ms(h.nextTimer()), 2000);
  assert.equal(h.recv().length, 1);
  h.nextTimer();
  assert.equal(c.state, 'CLOSED');
  assert.deepEqual(h.events, ['close timeout']);
});

test("keepalive (RFC 1122 §4.2.3.6): by default nine unanswered probes, 75 s apart (Linux's defaults), then RST", () => {
  const h = new SegmentHarness();
  const c = h.established({ keepAliveNs: 1000n * S });
  const gaps: number[] = [];
  for (let i = 0; i < 9; i++) {
    gaps.push(ms(h.nextTimer()) / 1000);
    assert.deepEqual(h.recv(), [keepAliveProbe], `probe ${i + 1}`);
  }
  gaps.push(ms(h.nextTimer()) / 1000);
  assert.deepEqual(gaps, [1000, 75, 75, 75, 75, 75, 75, 75, 75, 75]);
  assert.deepEqual(h.recv(), [{ flags: 'R', seq: L, ack: 0, window: 0, len: 0 }]);
  assert.equal(c.state, 'CLOSED');
});

test('keepalive: in CLOSE-WAIT the probe goes too; in FIN-WAIT-2 none does', () => {
  const h = new SegmentHarness();
  h.closeWait(KA);
  assert.equal(ms(h.nextTimer()), 10_000);
  assert.deepEqual(h.recv(), [{ ...keepAliveProbe, ack: R + 1 }]);
  const f = new SegmentHarness();
  f.finWait2(KA);
  f.advance(100n * S);
  assert.deepEqual(f.recv(), []);
});

test('persist: a probe octet the peer takes, with nothing more queued, ends the probing', () => {
  const h = new SegmentHarness();
  const c = h.established({}, {}, { window: 0 });
  c.write(new Uint8Array(1));
  assert.equal(ms(h.nextTimer()), 200);
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L, ack: R, window: W, len: 1 }]);
  h.send({ seq: R, ack: L + 1, flags: '.', window: 0 });
  h.advance(600n * S);
  assert.deepEqual(h.recv(), [], 'nothing left to probe with');
  assert.equal(c.state, 'ESTABLISHED');
});

test('persist: the RTO finding one octet out and the window closed hands over to the persist timer (no timeout, no backoff of its own)', () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true });
  c.write(new Uint8Array(1000));
  h.recv();
  h.send({ seq: R, ack: L + 999, flags: '.', window: 0 });
  assert.equal(ms(h.nextTimer()), 200);
  assert.deepEqual(h.recv(), [], 'the RTO resends nothing');
  const gaps: number[] = [];
  for (let i = 0; i < 3; i++) {
    gaps.push(ms(h.nextTimer()));
    assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L + 999, ack: R, window: W, len: 1 }]);
  }
  assert.deepEqual(gaps, [200, 400, 800], 'the persist timer from one RTO, doubling');
  assert.equal(h.tcp.counters.timeouts, 0);
});

test('user timeout: after everything was acknowledged, the clock starts again from the next data sent, not from that ACK', () => {
  const h = new SegmentHarness();
  const c = h.established({ userTimeoutNs: 1n * S, noDelay: true });
  c.write(new Uint8Array(10));
  h.advance(500n * MS);
  h.send({ seq: R, ack: L + 10, flags: '.' });
  h.advance(5n * S); // Idle: nothing unacknowledged.
  c.write(new Uint8Array(10));
  h.recv();
  const first = ms(h.nextTimer());
  assert.equal(c.state, 'ESTABLISHED', 'the first RTO resends');
  assert.deepEqual(
    h.recv().map((s) => [s.seq, s.len]),
    [[L + 10, 10]],
  );
  const second = ms(h.nextTimer());
  assert.equal(first + second, 1000, 'one user timeout after the second write');
  assert.equal(c.state, 'CLOSED');
});

test('RFC 6298 §5: after a timeout, an ACK beyond what was resent moves SND.NXT up: the next segment starts at the ACK', () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true });
  c.write(new Uint8Array(5 * M));
  h.recv();
  h.nextTimer();
  assert.deepEqual(
    h.recv().map((s) => [s.seq, s.len]),
    [[L, M]],
  );
  h.send({ seq: R, ack: L + 3 * M, flags: '.' }); // The peer had segments 1 and 2.
  assert.deepEqual(h.recv(), [
    { flags: '.', seq: L + 3 * M, ack: R, window: W, len: M },
    { flags: 'P.', seq: L + 4 * M, ack: R, window: W, len: M },
  ]);
});

test('FIN-WAIT-1: an ACK of the data but not of the FIN keeps FIN-WAIT-1', () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true });
  c.write(new Uint8Array(100));
  c.shutdown();
  h.recv();
  h.send({ seq: R, ack: L + 100, flags: '.' });
  assert.equal(c.state, 'FIN-WAIT-1');
  h.send({ seq: R, ack: L + 101, flags: '.' });
  assert.equal(c.state, 'FIN-WAIT-2');
});
