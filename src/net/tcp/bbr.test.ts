/** BBR: the windowed max filter, and the state machine driven by made-up rate samples, round by round. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BBR_DRAIN,
  BBR_DRAIN_GAIN,
  BBR_HIGH_GAIN,
  BBR_PACING_GAINS,
  BBR_PROBE_BW,
  BBR_PROBE_RTT,
  BBR_STARTUP,
  Bbr,
  WindowedMax,
} from './bbr.ts';
import { CA_LOSS, CA_OPEN, CA_RECOVERY, type CaState, initialWindow } from './congestion.ts';
import { newRateSample } from './rate.ts';
import { SeededRandom } from '../../sim/random.ts';

const MSS = 1000;
const MS = 1e6;

test('windowed max: the best of the window, the runner-up taking over when it ages out, a new best at once', () => {
  const f = new WindowedMax(10);
  f.update(0, 100);
  assert.equal(f.best, 100);
  f.update(1, 50);
  f.update(4, 80); // A quarter window on: a younger second-best.
  assert.equal(f.best, 100);
  f.update(8, 60);
  assert.equal(f.update(11, 10), 80, 'the 100 of round 0 aged out; 80 (round 4) is next');
  assert.equal(f.update(12, 300), 300, 'a new best replaces everything');
  assert.equal(f.update(30, 5), 5, 'nothing recent left: the sample itself');
  f.reset(0, 7);
  assert.equal(f.best, 7);
});

/** Drives a Bbr with one sample per round: `bw` bytes/s over `rttNs`, `inflight` after the ACK. */
class Driver {
  readonly bbr: Bbr;
  now = 0;
  delivered = 0;
  constructor(seed = 1) {
    this.bbr = new Bbr(MSS, new SeededRandom(seed));
  }
  round(bw: number, rttNs: number, o: { inflight?: number; state?: CaState; appLimited?: boolean; losses?: number } = {}): boolean {
    const rs = newRateSample();
    const d = Math.round((bw * rttNs) / 1e9);
    rs.priorDelivered = this.delivered;
    this.delivered += d;
    this.now += rttNs;
    rs.delivered = d;
    rs.ackedSacked = d;
    rs.intervalNs = rttNs;
    rs.rttNs = rttNs;
    rs.totalDelivered = this.delivered;
    rs.appLimited = o.appLimited ?? false;
    rs.losses = o.losses ?? 0;
    rs.inflight = o.inflight ?? this.bbr.cwnd;
    rs.priorInflight = rs.inflight;
    return this.bbr.onRateSample(rs, this.now, MSS, o.state ?? CA_OPEN, rttNs);
  }
}

const BW = 12.5e6; // 100 Mbit/s
const RTT = 20 * MS;
const BDP = (BW * RTT) / 1e9; // 250 kB

test('STARTUP: pacing and window at 2/ln 2; the pacing rate starts from the initial window over the first RTT', () => {
  const d = new Driver();
  const b = d.bbr;
  assert.equal(b.mode, BBR_STARTUP);
  assert.equal(b.cwnd, initialWindow(MSS));
  d.round(1e5, RTT); // A first small sample.
  assert.equal(b.pacingGain, BBR_HIGH_GAIN);
  // High gain × the initial window / 20 ms, 1% under: the sample's 100 kB/s × gain is lower, so it stays.
  assert.ok(Math.abs(b.pacingRate - (BBR_HIGH_GAIN * initialWindow(MSS) * 1e9 * 0.99) / RTT) < 1, `${b.pacingRate}`);
  assert.equal(b.minRttNs, RTT);
  // In STARTUP the window grows by what is delivered, the rate follows the samples up.
  const before = b.cwnd;
  d.round(4e6, RTT);
  assert.equal(b.cwnd, before + Math.round((4e6 * RTT) / 1e9));
  assert.ok(Math.abs(b.pacingRate - BBR_HIGH_GAIN * 4e6 * 0.99) < 1);
});

test('STARTUP ends after three rounds without 25% growth, DRAIN paces at ln 2/2 until the flight is one BDP, then PROBE_BW', () => {
  const d = new Driver();
  const b = d.bbr;
  for (const bw of [1e6, 2e6, 4e6, 8e6, BW]) d.round(bw, RTT);
  d.round(BW, RTT);
  d.round(BW * 1.2, RTT); // Growth under 25% counts as none.
  assert.equal(b.mode, BBR_STARTUP, 'two rounds without growth are not enough');
  d.round(BW * 1.2, RTT, { inflight: 3 * BDP });
  assert.equal(b.filledPipe, true);
  assert.equal(b.mode, BBR_DRAIN);
  assert.equal(b.pacingGain, BBR_DRAIN_GAIN);
  d.round(BW, RTT, { inflight: 2 * BDP });
  assert.equal(b.mode, BBR_DRAIN, 'still more than a BDP (and its quanta) in flight');
  d.round(BW, RTT, { inflight: BDP });
  assert.equal(b.mode, BBR_PROBE_BW);
  assert.notEqual(b.cycleIndex, 1, 'never starts in the 3/4 phase');
  // PROBE_BW's window: 2 × BDP plus three send quanta (the max filter holds 1.2 × BW).
  const bw = b.bw.best;
  assert.equal(bw, BW * 1.2);
  assert.ok(b.cwnd <= 2 * ((bw * RTT) / 1e9) + 3 * b.sendQuantum + 4 * MSS);
  assert.equal(b.pacingRate, BBR_PACING_GAINS[b.cycleIndex]! * bw * 0.99);
});

test('an application-limited round neither ends STARTUP nor lowers the bandwidth estimate', () => {
  const d = new Driver();
  const b = d.bbr;
  d.round(BW, RTT);
  // Longer than the filter's 10 rounds: were these samples taken, the estimate would have aged down to them.
  for (let i = 0; i < 15; i++) d.round(BW / 10, RTT, { appLimited: true });
  assert.equal(b.mode, BBR_STARTUP);
  assert.equal(b.bw.best, BW);
  d.round(BW * 2, RTT, { appLimited: true });
  assert.equal(b.bw.best, BW * 2, 'an application-limited sample above the estimate is taken');
});

test('PROBE_BW cycles its gains a min RTT each; the 5/4 phase lasts until the flight reaches 5/4 BDP', () => {
  const d = new Driver(3);
  const b = d.bbr;
  for (const bw of [BW, BW, BW, BW]) d.round(bw, RTT, { inflight: BDP });
  d.round(BW, RTT, { inflight: BDP });
  assert.equal(b.mode, BBR_PROBE_BW);
  const seen: number[] = [];
  for (let i = 0; i < 16; i++) {
    // Keep the flight low while probing: the 5/4 phase must then wait (it needs the flight at 5/4 BDP).
    const probing = b.pacingGain > 1;
    d.round(BW, RTT * 1.01, { inflight: probing && i < 12 ? BDP : 2 * BDP });
    seen.push(b.cycleIndex);
  }
  const zeroRun = seen.filter((x) => x === 0).length;
  assert.ok(zeroRun >= 2, `the probing phase held while the flight was short: ${seen.join(',')}`);
  for (let i = 1; i < seen.length; i++) {
    const step = (seen[i]! - seen[i - 1]! + 8) % 8;
    assert.ok(step === 0 || step === 1, `phases advance one at a time: ${seen.join(',')}`);
  }
});

test('the starting phase is drawn from the random source: different seeds, different phases, never 3/4', () => {
  const phases = new Set<number>();
  for (let seed = 1; seed <= 40; seed++) {
    const d = new Driver(seed);
    for (let i = 0; i < 5; i++) d.round(BW, RTT, { inflight: BDP });
    assert.equal(d.bbr.mode, BBR_PROBE_BW);
    phases.add(d.bbr.cycleIndex);
  }
  assert.ok(!phases.has(1));
  assert.ok(phases.size >= 5, `phases seen: ${[...phases].join(',')}`);
});

test('PROBE_RTT: 10 s without a lower RTT cuts the window to 4 segments for 200 ms and a round, then the window returns', () => {
  const d = new Driver();
  const b = d.bbr;
  for (let i = 0; i < 6; i++) d.round(BW, RTT, { inflight: BDP });
  assert.equal(b.mode, BBR_PROBE_BW);
  // RTT samples all a little higher than the minimum (a standing queue) for 10 s.
  let appLimited = false;
  const mode = (): number => b.mode; // Read afresh: the assertions above narrowed b.mode.
  while (d.now < 10_500 * MS && mode() !== BBR_PROBE_RTT) appLimited = d.round(BW, RTT + 2 * MS, { inflight: 2 * BDP });
  assert.equal(mode(), BBR_PROBE_RTT);
  assert.equal(appLimited, true, "PROBE_RTT's low rate is marked as the sender's, not the path's");
  assert.equal(b.cwnd, 4 * MSS);
  const cut = d.now;
  d.round(BW, RTT, { inflight: 4 * MSS }); // Drained: the 200 ms starts now.
  d.round(BW, RTT, { inflight: 4 * MSS });
  assert.equal(mode(), BBR_PROBE_RTT, 'not before 200 ms');
  while (mode() === BBR_PROBE_RTT && d.now < cut + 400 * MS) d.round(BW, RTT, { inflight: 4 * MSS });
  assert.equal(mode(), BBR_PROBE_BW);
  assert.ok(d.now - cut >= 200 * MS);
  assert.ok(b.cwnd > 100 * MSS, `the window from before came back: ${b.cwnd}`);
});

test('recovery: the first round conserves packets (in flight + delivered), the end restores the window from before', () => {
  const d = new Driver();
  const b = d.bbr;
  for (let i = 0; i < 6; i++) d.round(BW, RTT, { inflight: BDP });
  const before = b.cwnd;
  b.onFastRetransmit();
  d.round(BW / 20, RTT, { state: CA_RECOVERY, inflight: 50 * MSS });
  assert.equal(b.cwnd, 50 * MSS + Math.round((BW / 20) * (RTT / 1e9)));
  d.round(BW, RTT, { state: CA_OPEN, inflight: 50 * MSS });
  assert.ok(b.cwnd >= before, `restored: ${b.cwnd} >= ${before}`);
  assert.equal(b.bw.best, BW, 'a lossy round does not lower the model');
});

test('a timeout: one segment, slow-start-like growth back toward the model, the old window when the loss state ends', () => {
  const d = new Driver();
  const b = d.bbr;
  for (let i = 0; i < 6; i++) d.round(BW, RTT, { inflight: BDP });
  const before = b.cwnd;
  b.onTimeout(0, MSS);
  assert.equal(b.cwnd, MSS);
  d.round(50_000, RTT, { state: CA_LOSS, inflight: MSS });
  assert.equal(b.cwnd, 4 * MSS, 'the least window');
  d.round(500_000, RTT, { state: CA_LOSS, inflight: 4 * MSS });
  assert.equal(b.cwnd, 14 * MSS, 'grew by what was delivered');
  d.round(BW, RTT, { state: CA_OPEN, inflight: MSS });
  assert.ok(b.cwnd >= before);
});

test('losses reported by an ACK come off the window; the send quantum is about 1 ms at the pacing rate, 1 or 2 segments when slow', () => {
  const d = new Driver();
  const b = d.bbr;
  for (let i = 0; i < 6; i++) d.round(BW, RTT, { inflight: BDP });
  const w = b.cwnd;
  d.round(BW / 1000, RTT, { losses: 5 * MSS, inflight: BDP });
  assert.equal(b.cwnd, Math.min(w - 5 * MSS + Math.round((BW / 1000) * (RTT / 1e9)), w));
  // 100 Mbit/s × gain ≈ 12.4 kB a millisecond: 12 segments of 1000.
  assert.equal(b.sendQuantum, Math.floor(b.pacingRate / 1000 / MSS) * MSS);
  const slow = new Bbr(MSS, new SeededRandom(1));
  slow.pacingRate = 100_000; // 0.8 Mbit/s
  assert.equal(slow.sendQuantum, MSS);
  slow.pacingRate = 1_000_000;
  assert.equal(slow.sendQuantum, 2 * MSS);
  slow.pacingRate = 1e9;
  assert.ok(slow.sendQuantum <= 65535);
});
