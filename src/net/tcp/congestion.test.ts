import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cubic, NewReno } from './congestion.ts';

const MSS = 1000,
  S = 1_000_000_000n;

test('NewReno: slow start doubles per window, a loss halves, a timeout drops to one segment', () => {
  const c = new NewReno(MSS);
  assert.equal(c.cwnd, 10 * MSS);
  c.onAck(10 * MSS, MSS);
  assert.equal(c.cwnd, 12 * MSS, 'byte counting with L = 2 MSS per ACK');
  c.onFastRetransmit(20 * MSS, MSS);
  assert.deepEqual([c.ssthresh, c.cwnd], [10 * MSS, 10 * MSS]);
  c.onTimeout(20 * MSS, MSS);
  assert.equal(c.cwnd, MSS);
});

test('CUBIC: backs off to beta = 0.7, climbs back to Wmax at t = K, then probes beyond it', () => {
  const c = new Cubic(MSS);
  c.cwnd = 100 * MSS;
  c.ssthresh = 50 * MSS; // In congestion avoidance.
  c.onFastRetransmit(100 * MSS, MSS);
  assert.equal(c.cwnd, 70 * MSS, 'RFC 9438 §4.6: cwnd × beta');
  // K = cbrt(Wmax (1 - beta) / C) = cbrt(100 × 0.3 / 0.4) ≈ 4.22 s.
  let now = 0n;
  const ackWindow = (): void => {
    c.onAck(c.cwnd, MSS, now, 0);
    now += S / 10n;
  };
  for (let i = 0; i < 20; i++) ackWindow(); // 2 s: concave, still below Wmax.
  assert.ok(c.cwnd / MSS > 80 && c.cwnd / MSS < 100, `after 2 s: ${c.cwnd / MSS}`);
  for (let i = 0; i < 25; i++) ackWindow(); // ~4.5 s: near the plateau around Wmax.
  assert.ok(Math.abs(c.cwnd / MSS - 100) < 8, `near K: ${c.cwnd / MSS}`);
  for (let i = 0; i < 30; i++) ackWindow(); // ~7.5 s: convex, beyond the old maximum.
  assert.ok(c.cwnd / MSS > 110, `beyond K: ${c.cwnd / MSS}`);
  c.onTimeout(c.cwnd, MSS);
  assert.equal(c.cwnd, MSS);
});

/** Close enough for sums of a few floating-point terms. */
const near = (actual: number, expected: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) < 1e-6, `${what}: ${actual}, expected ${expected}`);

test('RFC 6928 §2: the initial window is min(10 MSS, max(2 MSS, 14600 bytes))', () => {
  assert.equal(new NewReno(1460).cwnd, 14600);
  assert.equal(new Cubic(536).cwnd, 5360);
  assert.equal(new NewReno(1461).cwnd, 14600, 'past 1460 the 14600-byte bound holds');
  assert.equal(new Cubic(4000).cwnd, 14600);
  assert.equal(new NewReno(7300).cwnd, 14600, '2 MSS = 14600');
  assert.equal(new Cubic(8960).cwnd, 17920, 'but never below 2 MSS');
});

test('RFC 3465 §2.3: slow start grows by what an ACK acknowledges, at most two MSS (L = 2: a delayed ACK counts whole)', () => {
  for (const c of [new NewReno(MSS), new Cubic(MSS)]) {
    c.onAck(500, MSS, 0n);
    assert.equal(c.cwnd, 10 * MSS + 500, c.name);
    c.onAck(2 * MSS, MSS, 0n);
    assert.equal(c.cwnd, 12 * MSS + 500, `${c.name}: both segments of a delayed ACK`);
    c.onAck(5 * MSS, MSS, 0n);
    assert.equal(c.cwnd, 14 * MSS + 500, `${c.name}: two MSS for five acknowledged`);
  }
});

test('RFC 5681 §3.1: congestion avoidance (cwnd at ssthresh) adds one MSS per window of acknowledged bytes', () => {
  const c = new NewReno(MSS);
  c.ssthresh = 10 * MSS; // cwnd = ssthresh: congestion avoidance, not slow start.
  for (let i = 0; i < 9; i++) c.onAck(MSS, MSS);
  assert.equal(c.cwnd, 10 * MSS, 'nine segments of a ten-segment window: no growth yet');
  c.onAck(MSS, MSS);
  assert.equal(c.cwnd, 11 * MSS, 'the tenth completes the window');
  for (let i = 0; i < 10; i++) c.onAck(MSS, MSS);
  assert.equal(c.cwnd, 11 * MSS, 'the next window is eleven segments');
  c.onAck(MSS, MSS);
  assert.equal(c.cwnd, 12 * MSS);
  c.onAck(25 * MSS, MSS);
  assert.equal(c.cwnd, 13 * MSS, 'one MSS per window at most per ACK; the rest is carried');
  c.onAck(MSS, MSS);
  assert.equal(c.cwnd, 14 * MSS, 'the 13 carried plus this one complete the 13-segment window');
  c.onAck(MSS, MSS);
  assert.equal(c.cwnd, 14 * MSS, 'one carried over, of 14');
});

test('RFC 5681 eq. 4: ssthresh = max(FlightSize / 2, 2 MSS) on a fast retransmit and on a timeout', () => {
  const c = new NewReno(MSS);
  c.onFastRetransmit(3 * MSS, MSS);
  assert.deepEqual([c.ssthresh, c.cwnd], [2 * MSS, 2 * MSS], 'half of three segments is below the floor');
  c.onTimeout(9 * MSS, MSS);
  assert.deepEqual([c.ssthresh, c.cwnd], [4.5 * MSS, MSS], 'the loss window is one segment');
  c.onTimeout(MSS, MSS);
  assert.equal(c.ssthresh, 2 * MSS);
});

test('RFC 5681 §3.1: a timeout forgets the bytes counted toward the next congestion-avoidance step', () => {
  const c = new NewReno(MSS);
  c.ssthresh = 10 * MSS;
  for (let i = 0; i < 9; i++) c.onAck(MSS, MSS);
  c.onTimeout(20 * MSS, MSS); // ssthresh 10 MSS, cwnd 1 MSS.
  for (let i = 0; i < 9; i++) c.onAck(MSS, MSS); // Slow start back to ssthresh.
  assert.equal(c.cwnd, 10 * MSS);
  for (let i = 0; i < 9; i++) c.onAck(MSS, MSS);
  assert.equal(c.cwnd, 10 * MSS, 'the nine counted before the timeout are gone');
  c.onAck(MSS, MSS);
  assert.equal(c.cwnd, 11 * MSS);
});

test('RFC 9438 §4.6: a loss sets ssthresh = cwnd × 0.7, at least 2 MSS; a timeout then starts from one segment', () => {
  const c = new Cubic(MSS);
  c.onFastRetransmit(0, MSS);
  assert.deepEqual([c.ssthresh, c.cwnd], [7 * MSS, 7 * MSS]);
  c.cwnd = 2 * MSS;
  c.onFastRetransmit(0, MSS);
  assert.deepEqual([c.ssthresh, c.cwnd], [2 * MSS, 2 * MSS], '1.4 segments is below the floor');
  c.cwnd = 20 * MSS;
  c.onTimeout(0, MSS);
  assert.deepEqual([c.ssthresh, c.cwnd], [14 * MSS, MSS]);
  c.onAck(MSS, MSS, 0n);
  assert.equal(c.cwnd, 2 * MSS, 'slow start again, below ssthresh');
});

/** CUBIC after one loss at 36 segments: cwnd 25.2, Wmax 36, K = cbrt((36 - 25.2) / 0.4) = cbrt(27) = 3 s. */
function afterLossAt36(): Cubic {
  const c = new Cubic(MSS);
  c.cwnd = 36 * MSS;
  c.ssthresh = 10 * MSS;
  c.onFastRetransmit(0, MSS);
  near(c.cwnd, 25.2 * MSS, 'cwnd × beta');
  c.onAck(0, MSS, 0n); // The epoch starts (§4.2): t counts from here.
  near(c.cwnd, 25.2 * MSS, 'no growth at t = 0: W_cubic(0) = cwnd');
  return c;
}

test('RFC 9438 §4.2: at t = K the curve is back at Wmax: cwnd grows by (Wmax - cwnd) / cwnd per segment acknowledged', () => {
  const c = afterLossAt36();
  c.onAck(MSS, MSS, 3n * S);
  near(c.cwnd, 25.2 * MSS + (10.8 / 25.2) * MSS, 'one segment acknowledged at t = 3 s');
});

test('RFC 9438 §4.2: the target is W_cubic(t + RTT): an ACK at 2.5 s with a 500 ms SRTT aims where one at 3 s would', () => {
  const c = afterLossAt36();
  c.onAck(2 * MSS, MSS, 2500n * 1_000_000n, 500_000_000);
  near(c.cwnd, 25.2 * MSS + (10.8 / 25.2) * 2 * MSS, 'two segments acknowledged');
});

test('RFC 9438 §4.2: before K the curve is concave, below Wmax: at t = 2 s the target is 0.4 (2 - 3)^3 + 36 = 35.6', () => {
  const c = afterLossAt36();
  c.onAck(MSS, MSS, 2n * S);
  near(c.cwnd, 25.2 * MSS + (10.4 / 25.2) * MSS, 'grown toward 35.6 segments');
});

test('RFC 9438 §4.4: growth is capped at 1.5× cwnd per round trip: far past K, half a segment per segment acknowledged', () => {
  const c = afterLossAt36();
  c.onAck(MSS, MSS, 10n * S); // Target 0.4 × 7^3 + 36 = 173.2: far beyond 1.5 × 25.2.
  near(c.cwnd, 25.2 * MSS + 0.5 * MSS, 'cwnd / 2 of growth over a window: 1/2 per segment');
});

test('RFC 9438 §4.3: where the Reno-friendly estimate leads, cwnd follows it: alpha = 3 (1 - beta) / (1 + beta) per window', () => {
  const c = new Cubic(MSS);
  c.ssthresh = 10 * MSS; // Congestion avoidance from the start: Wmax = cwnd = 10, K = 0.
  c.onAck(MSS, MSS, 0n);
  // W_cubic(0) = 10; W_est = 10 + alpha × 1/10 with alpha = 0.9 / 1.7: cwnd moves (W_est - 10) / 10 per segment.
  const alpha = (3 * 0.3) / 1.7;
  near(c.cwnd, 10 * MSS + (alpha / 10 / 10) * MSS, 'Reno-friendly growth');
  // One second on the curve leads: Wmax = 10 and K = 0 (the epoch began at Wmax), so W_cubic(1) = 0.4 + 10.
  const seg = c.cwnd / MSS;
  c.onAck(MSS, MSS, 1n * S);
  near(c.cwnd, seg * MSS + ((10.4 - seg) / seg) * MSS, 'toward 10.4 segments at t = 1 s');
});

test('RFC 9438 §4.7 fast convergence: a loss below the last maximum sets Wmax = cwnd (1 + beta) / 2', () => {
  const c = new Cubic(MSS);
  c.cwnd = 200 * MSS;
  c.ssthresh = 10 * MSS;
  c.onFastRetransmit(0, MSS); // Wmax = W_last_max = 200.
  c.cwnd = 72 * MSS;
  c.onFastRetransmit(0, MSS); // 72 < 200: Wmax = 72 × 0.85 = 61.2; cwnd 50.4; K = cbrt(10.8 / 0.4) = 3 s.
  near(c.cwnd, 50.4 * MSS, 'cwnd × beta');
  c.onAck(0, MSS, 0n);
  c.onAck(MSS, MSS, 1n * S);
  // At t = 1 s: 0.4 (1 - 3)^3 + 61.2 = 58 (without fast convergence, Wmax 72 and K = cbrt(54): 63.4).
  near(c.cwnd, 50.4 * MSS + (7.6 / 50.4) * MSS, 'toward 58 segments at t = 1 s');
});

test('RFC 9438 §4.7: a loss at or above the last maximum keeps Wmax = cwnd', () => {
  const c = new Cubic(MSS);
  c.cwnd = 20 * MSS;
  c.ssthresh = 10 * MSS;
  c.onFastRetransmit(0, MSS); // Wmax = W_last_max = 20.
  c.cwnd = 36 * MSS;
  c.onFastRetransmit(0, MSS); // 36 ≥ 20: Wmax = 36, K = 3 s as in afterLossAt36.
  c.onAck(0, MSS, 0n);
  c.onAck(MSS, MSS, 1n * S);
  near(c.cwnd, 25.2 * MSS + (7.6 / 25.2) * MSS, 'at t = 1 s the target is 0.4 (1 - 3)^3 + 36 = 32.8');
});

test('RFC 9438 §4.2: each loss starts a new epoch; t counts from the first ACK after it', () => {
  const c = afterLossAt36();
  c.onAck(MSS, MSS, 100n * S); // Far along this epoch.
  c.cwnd = 36 * MSS;
  c.onFastRetransmit(0, MSS); // Wmax 36 again (36 ≥ last 36), cwnd 25.2, K = 3.
  c.onAck(0, MSS, 200n * S); // The new epoch starts at 200 s.
  c.onAck(MSS, MSS, 203n * S);
  near(c.cwnd, 25.2 * MSS + (10.8 / 25.2) * MSS, 't = 3 s into the new epoch');
});

/** Rounds of ten one-segment ACKs, each round ending where the next begins (SND.MAX at its start); returns cwnd growth in MSS. */
function rounds(c: Cubic): (rttMs: number) => number {
  let ack = 0;
  c.onRoundAck(undefined, 0, MSS); // The first round ends at the first ACK.
  return (rttMs) => {
    const before = c.cwnd;
    const end = ack + 10 * MSS;
    for (let i = 0; i < 10; i++) {
      ack += MSS;
      c.onRoundAck(rttMs * 1e6, ack, end + MSS);
      c.onAck(MSS, MSS, 0n);
    }
    return (c.cwnd - before) / MSS;
  };
}

test('HyStart (RFC 9406 §4.2 test, Linux exit): a round whose least RTT rose past the threshold ends slow start at its eighth sample, ssthresh = cwnd', () => {
  const c = new Cubic(MSS);
  const round = rounds(c);
  assert.equal(round(100), 10, 'slow start: a segment per segment acknowledged');
  assert.equal(round(103), 10, 'up 3 ms, under the threshold (100/8 = 12.5 ms here): still slow start');
  assert.equal(round(112), 10, 'up 12 ms over the last round (103): under 103/8, still slow start');
  const before = c.cwnd;
  const grew = round(130);
  assert.ok(grew >= 7 && grew < 7.01, `up 18 ms: slow start ends at the eighth sample of the round (grew ${grew} segments)`);
  assert.equal(c.ssthresh, before + 7 * MSS, 'ssthresh = cwnd when the increase showed');
  assert.ok(round(130) < 1, 'then congestion avoidance: far less than a segment per segment');
});

test('HyStart: the increase is judged on at least eight samples of a round, against the last round, never on its first round', () => {
  const c = new Cubic(MSS);
  c.onRoundAck(undefined, 0, MSS);
  let ack = 0;
  for (let i = 0; i < 20; i++) {
    ack += MSS;
    c.onRoundAck((i === 0 ? 10 : 500) * 1e6, ack, 100 * MSS); // One long round: no last round to compare with.
  }
  assert.equal(c.ssthresh, Number.MAX_SAFE_INTEGER, 'a first round, however its RTT grew, ends nothing');
  const d = new Cubic(MSS);
  const round = rounds(d);
  round(100);
  let a = 10 * MSS + MSS;
  for (let i = 0; i < 7; i++) {
    a += MSS;
    d.onRoundAck(200e6, a, 1000 * MSS); // Seven samples of a new round, far above.
  }
  assert.equal(d.ssthresh, Number.MAX_SAFE_INTEGER, 'seven samples are not enough');
  d.onRoundAck(200e6, a + MSS, 1000 * MSS);
  assert.ok(d.ssthresh < Number.MAX_SAFE_INTEGER, 'the eighth ends slow start');
});

test('RFC 9438 §4.9: a spurious fast recovery undone puts back the curve and slow start with its HyStart (which then still ends it)', () => {
  const c = new Cubic(MSS);
  const round = rounds(c);
  round(100);
  // Reordering taken for a loss, then proved spurious: recovery puts cwnd and ssthresh back, the controller the rest.
  const [cwnd, ssthresh] = [c.cwnd, c.ssthresh];
  c.onFastRetransmit(0, MSS);
  c.cwnd = cwnd;
  c.ssthresh = ssthresh;
  c.onUndo();
  assert.equal(round(100), 10, 'slow start goes on');
  round(120);
  assert.ok(c.ssthresh < Number.MAX_SAFE_INTEGER, 'HyStart ended slow start, as it would have without the spurious recovery');
  // After the undo a real loss reduces from the curve as it was: Wmax is the window at that loss.
  const before = c.cwnd;
  c.onFastRetransmit(0, MSS);
  near(c.ssthresh, 0.7 * before, 'beta from the window at the real loss');
});
