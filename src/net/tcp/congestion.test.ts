import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cubic, NewReno } from './congestion.ts';

const MSS = 1000,
  S = 1_000_000_000n;

test('NewReno: slow start doubles per window, a loss halves, a timeout drops to one segment', () => {
  const c = new NewReno(MSS);
  assert.equal(c.cwnd, 10 * MSS);
  c.onAck(10 * MSS, MSS);
  assert.equal(c.cwnd, 11 * MSS, 'byte counting with L = 1 MSS per ACK');
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
