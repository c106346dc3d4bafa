/**
 * BBR congestion control, version 1 (draft-cardwell-iccrg-bbr-congestion-control-00, as Linux's
 * tcp_bbr.c runs it). A model of the path — its bottleneck bandwidth, the windowed maximum of the
 * delivery-rate samples (rate.ts) over 10 round trips, and its round-trip propagation time, the least
 * RTT of the last 10 s — sets the pacing rate (gain × bandwidth) and the window (gain × bandwidth ×
 * min RTT, the BDP, plus room for three send quanta). Loss does not shrink the model: a lossy path is
 * used at its rate, not at the rate a loss-based window allows (CUBIC's throughput falls with 1/√p).
 *
 *   STARTUP    pacing and window gain 2/ln 2 (the rate doubles each round) until the bandwidth has not
 *              grown by a quarter for three rounds that were not application-limited
 *   DRAIN      pacing gain ln 2/2 until the flight is down to one BDP (the queue STARTUP built is gone)
 *   PROBE_BW   window gain 2; pacing gain in eight phases of a min RTT each: 5/4 (probe for more),
 *              3/4 (drain what that queued), six of 1; it starts at a random phase other than 3/4
 *   PROBE_RTT  when no RTT as low as the minimum was seen for 10 s: 4 segments in flight for 200 ms
 *              and a round trip, so that the queue empties and the minimum is measured again
 *
 * In loss recovery the first round conserves packets (one sent for each delivered), later ones grow
 * toward the model's window, and the window from before the recovery comes back when it ends. Not
 * here: Linux's long-term bandwidth sampling for policers and the ACK-aggregation allowance.
 * Windows are in bytes, rates in bytes a second, times in ns; randomness is the caller's.
 */
import type { Random } from '../../devices/index.ts';
import { CA_LOSS, CA_OPEN, CA_RECOVERY, type CaState, type CongestionControl, initialWindow } from './congestion.ts';
import type { RateSample } from './rate.ts';

export const BBR_STARTUP = 0,
  BBR_DRAIN = 1,
  BBR_PROBE_BW = 2,
  BBR_PROBE_RTT = 3;
export type BbrMode = typeof BBR_STARTUP | typeof BBR_DRAIN | typeof BBR_PROBE_BW | typeof BBR_PROBE_RTT;

/** 2/ln 2: the least gain whose rate doubles each round, sending as much per round as slow start would. */
export const BBR_HIGH_GAIN = 2.885;
export const BBR_DRAIN_GAIN = 1 / BBR_HIGH_GAIN;
export const BBR_CWND_GAIN = 2;
/** PROBE_BW's pacing gains, one phase each. */
export const BBR_PACING_GAINS: readonly number[] = [5 / 4, 3 / 4, 1, 1, 1, 1, 1, 1];
/** The bandwidth filter's window in round trips (the gain cycle and two more), and the min RTT's in ns. */
export const BBR_BW_ROUNDS = 10;
export const BBR_MIN_RTT_WINDOW_NS = 10e9;
export const BBR_PROBE_RTT_NS = 200e6;
/** Segments kept in flight at least (two delayed-ACK pairs), and in PROBE_RTT. */
export const BBR_MIN_CWND_SEGMENTS = 4;
/** The pacing rate is 1% below the estimate, so the bottleneck's queue drains on average. */
const PACING_MARGIN = 0.99;
/** STARTUP ends after this many rounds without this growth of the bandwidth. */
const FULL_BW_GROWTH = 1.25;
const FULL_BW_ROUNDS = 3;
/** Below this rate (bytes/s; 1.2 Mbit/s) a send quantum is one segment, else at least two. */
const MIN_TSO_RATE = 1.2e6 / 8;
/** A send quantum is at most what one offloaded packet holds. */
const MAX_QUANTUM = 65536 - 1 - 320;

/**
 * A windowed maximum (Kathleen Nichols' algorithm, as in Linux's win_minmax): the best, second- and
 * third-best samples of the window, each younger than the one before, so that when the best ages out
 * the next is ready. Time is any increasing count (here round trips).
 */
export class WindowedMax {
  private readonly window: number;
  private readonly v = [0, 0, 0];
  private readonly t = [0, 0, 0];

  constructor(window: number) {
    this.window = window;
  }

  get best(): number {
    return this.v[0]!;
  }

  reset(time: number, value: number): void {
    this.v[0] = this.v[1] = this.v[2] = value;
    this.t[0] = this.t[1] = this.t[2] = time;
  }

  update(time: number, value: number): number {
    const v = this.v,
      t = this.t;
    // A new best, or nothing in the window is recent enough: start over from this sample.
    if (value >= v[0]! || time - t[2]! > this.window) {
      this.reset(time, value);
      return value;
    }
    if (value >= v[1]!) {
      v[1] = v[2] = value;
      t[1] = t[2] = time;
    } else if (value >= v[2]!) {
      v[2] = value;
      t[2] = time;
    }
    const dt = time - t[0]!;
    if (dt > this.window) {
      // The best aged out: the second takes its place, the third the second's, this sample the third's.
      v[0] = v[1]!;
      t[0] = t[1]!;
      v[1] = v[2]!;
      t[1] = t[2]!;
      v[2] = value;
      t[2] = time;
      if (time - t[0]! > this.window) {
        v[0] = v[1]!;
        t[0] = t[1]!;
        v[1] = v[2]!;
        t[1] = t[2]!;
      }
    } else if (t[1] === t[0] && dt > this.window / 4) {
      // A quarter of the window passed with no second-best younger than the best: take this one.
      v[1] = v[2] = value;
      t[1] = t[2] = time;
    } else if (t[2] === t[1] && dt > this.window / 2) {
      v[2] = value;
      t[2] = time;
    }
    return v[0]!;
  }
}

export class Bbr implements CongestionControl {
  readonly name = 'bbr';
  cwnd: number;
  ssthresh = Number.MAX_SAFE_INTEGER;
  /** Bytes a second to pace at. */
  pacingRate: number;
  mode: BbrMode = BBR_STARTUP;
  pacingGain = BBR_HIGH_GAIN;
  cwndGain = BBR_HIGH_GAIN;
  /** Bottleneck bandwidth samples (bytes/s), over round trips. */
  readonly bw = new WindowedMax(BBR_BW_ROUNDS);
  /** The round-trip propagation time (ns; infinite before a sample) and when it was last measured or confirmed. */
  minRttNs = Number.POSITIVE_INFINITY;
  private minRttStampNs = 0;
  /** Round trips counted by delivery: a round ends when data sent after it began is delivered. */
  roundCount = 0;
  private nextRoundDelivered = 0;
  private roundStart = false;
  /** STARTUP's end: the bandwidth stopped growing. */
  filledPipe = false;
  private fullBw = 0;
  private fullBwCount = 0;
  /** PROBE_BW's phase and when it began. */
  cycleIndex = 0;
  private cycleStampNs = 0;
  /** The window before a recovery or PROBE_RTT cut it, to come back to. */
  private priorCwnd = 0;
  private packetConservation = false;
  private prevState: CaState = CA_OPEN;
  private probeRttDoneNs = -1;
  private probeRttRoundDone = false;
  private idleRestart = false;
  private hasSeenRtt = false;
  private mss: number;
  private readonly random: Random;

  constructor(mss: number, random: Random) {
    this.mss = mss;
    this.random = random;
    this.cwnd = initialWindow(mss);
    // Before any RTT sample: the initial window over a nominal 1 ms, at the high gain.
    this.pacingRate = BBR_HIGH_GAIN * this.cwnd * 1e3 * PACING_MARGIN;
  }

  /** Bytes to send at once per pacing slot: about a millisecond at the pacing rate, at most an offloaded packet. */
  get sendQuantum(): number {
    const mss = this.mss;
    const segs = Math.max(Math.floor(Math.min(this.pacingRate / 1000, MAX_QUANTUM) / mss), this.pacingRate < MIN_TSO_RATE ? 1 : 2);
    return Math.min(segs, 127) * mss;
  }

  /** The model's BDP at `gain` (bytes); the initial window before any RTT sample. */
  bdp(bw: number, gain: number): number {
    if (!Number.isFinite(this.minRttNs)) return initialWindow(this.mss);
    return Math.ceil((bw * this.minRttNs * gain) / 1e9);
  }

  /** Room for three send quanta (one in flight at each end and one being sent), an even number of segments, and +2 while probing. */
  private quantizationBudget(cwnd: number): number {
    const mss = this.mss;
    let w = cwnd + 3 * this.sendQuantum;
    w = Math.ceil(w / (2 * mss)) * 2 * mss;
    if (this.mode === BBR_PROBE_BW && this.cycleIndex === 0) w += 2 * mss;
    return w;
  }

  /** The flight the model wants at `gain`. */
  inflight(bw: number, gain: number): number {
    return this.quantizationBudget(this.bdp(bw, gain));
  }

  // Outside rate samples the controller only notes what recovery starts.
  onAck(): void {}

  onFastRetransmit(): void {
    this.saveCwnd();
    this.ssthresh = this.cwnd; // No multiplicative decrease (NewReno's recovery without SACK reads it).
  }

  onTimeout(_flight: number, mss: number): void {
    this.saveCwnd();
    this.cwnd = mss; // The loss window; the first ACKs grow it back toward the model's.
    this.prevState = CA_LOSS;
    this.fullBw = 0;
    this.roundStart = true;
  }

  /** Remembers the window to return to (the larger, if one cut is already in force). */
  private saveCwnd(): void {
    if (this.prevState < CA_RECOVERY && this.mode !== BBR_PROBE_RTT) this.priorCwnd = this.cwnd;
    else this.priorCwnd = Math.max(this.priorCwnd, this.cwnd);
  }

  onTransmitStart(nowNs: number): void {
    this.idleRestart = true;
    // Restarting from idle: no need for more than the estimate's rate.
    if (this.mode === BBR_PROBE_BW) this.setPacingRate(this.bw.best, 1, 0);
    else if (this.mode === BBR_PROBE_RTT) this.checkProbeRttDone(nowNs);
  }

  onRateSample(rs: RateSample, nowNs: number, mss: number, state: CaState, srttNs: number): boolean {
    this.mss = mss;
    this.updateBw(rs);
    this.updateCyclePhase(rs, nowNs);
    this.checkFullBwReached(rs);
    this.checkDrain(rs, nowNs);
    const appLimited = this.updateMinRtt(rs, nowNs);
    this.updateGains();
    const bw = this.bw.best;
    this.setPacingRate(bw, this.pacingGain, srttNs);
    this.setCwnd(rs, bw, state);
    return appLimited;
  }

  private updateBw(rs: RateSample): void {
    this.roundStart = false;
    if (rs.intervalNs <= 0) return;
    if (rs.priorDelivered >= this.nextRoundDelivered) {
      this.nextRoundDelivered = rs.totalDelivered;
      this.roundCount++;
      this.roundStart = true;
      this.packetConservation = false;
    }
    const sample = (rs.delivered * 1e9) / rs.intervalNs;
    // An application-limited sample says how fast the application wrote, unless it beats the model.
    if (!rs.appLimited || sample >= this.bw.best) this.bw.update(this.roundCount, sample);
  }

  private updateCyclePhase(rs: RateSample, nowNs: number): void {
    if (this.mode !== BBR_PROBE_BW) return;
    const fullLength = nowNs - this.cycleStampNs > this.minRttNs;
    const gain = this.pacingGain;
    let next: boolean;
    if (gain === 1) next = fullLength;
    // Probing lasts until the flight reached gain × BDP (or loss says the queue will not hold it).
    else if (gain > 1) next = fullLength && (rs.losses > 0 || rs.priorInflight >= this.inflight(this.bw.best, gain));
    // Draining ends early once the flight is down to one BDP.
    else next = fullLength || rs.priorInflight <= this.inflight(this.bw.best, 1);
    if (next) {
      this.cycleIndex = (this.cycleIndex + 1) % BBR_PACING_GAINS.length;
      this.cycleStampNs = nowNs;
    }
  }

  private checkFullBwReached(rs: RateSample): void {
    if (this.filledPipe || !this.roundStart || rs.appLimited) return;
    if (this.bw.best >= this.fullBw * FULL_BW_GROWTH) {
      this.fullBw = this.bw.best;
      this.fullBwCount = 0;
      return;
    }
    this.filledPipe = ++this.fullBwCount >= FULL_BW_ROUNDS;
  }

  private checkDrain(rs: RateSample, nowNs: number): void {
    if (this.mode === BBR_STARTUP && this.filledPipe) {
      this.mode = BBR_DRAIN;
      this.ssthresh = this.inflight(this.bw.best, 1);
    }
    if (this.mode === BBR_DRAIN && rs.inflight <= this.inflight(this.bw.best, 1)) this.resetProbeBw(nowNs);
  }

  private resetProbeBw(nowNs: number): void {
    this.mode = BBR_PROBE_BW;
    // A random phase of the seven other than 3/4 (index 1), as Linux draws it.
    const draw = this.random.u32() % (BBR_PACING_GAINS.length - 1);
    this.cycleIndex = (BBR_PACING_GAINS.length - 1 - draw + 1) % BBR_PACING_GAINS.length;
    this.cycleStampNs = nowNs;
  }

  private resetMode(nowNs: number): void {
    if (this.filledPipe) this.resetProbeBw(nowNs);
    else this.mode = BBR_STARTUP;
  }

  /** The min RTT filter and PROBE_RTT; returns whether what is in flight is to count as application-limited. */
  private updateMinRtt(rs: RateSample, nowNs: number): boolean {
    const expired = nowNs > this.minRttStampNs + BBR_MIN_RTT_WINDOW_NS;
    if (rs.rttNs >= 0 && (rs.rttNs <= this.minRttNs || expired)) {
      this.minRttNs = rs.rttNs;
      this.minRttStampNs = nowNs;
    }
    if (expired && !this.idleRestart && this.mode !== BBR_PROBE_RTT && Number.isFinite(this.minRttNs)) {
      this.mode = BBR_PROBE_RTT; // Dip: let the queue drain and measure the RTT again.
      this.saveCwnd();
      this.probeRttDoneNs = -1;
    }
    let appLimited = false;
    if (this.mode === BBR_PROBE_RTT) {
      appLimited = true; // The low rate here is ours, not the path's.
      if (this.probeRttDoneNs < 0 && rs.inflight <= BBR_MIN_CWND_SEGMENTS * this.mss) {
        this.probeRttDoneNs = nowNs + BBR_PROBE_RTT_NS;
        this.probeRttRoundDone = false;
        this.nextRoundDelivered = rs.totalDelivered;
      } else if (this.probeRttDoneNs >= 0) {
        if (this.roundStart) this.probeRttRoundDone = true;
        if (this.probeRttRoundDone) this.checkProbeRttDone(nowNs);
      }
    }
    if (rs.ackedSacked > 0) this.idleRestart = false;
    return appLimited;
  }

  private checkProbeRttDone(nowNs: number): void {
    if (this.probeRttDoneNs < 0 || nowNs <= this.probeRttDoneNs) return;
    this.minRttStampNs = nowNs; // Measured: the next PROBE_RTT is 10 s away.
    this.cwnd = Math.max(this.cwnd, this.priorCwnd);
    this.resetMode(nowNs);
  }

  private updateGains(): void {
    switch (this.mode) {
      case BBR_STARTUP:
        this.pacingGain = this.cwndGain = BBR_HIGH_GAIN;
        break;
      case BBR_DRAIN:
        this.pacingGain = BBR_DRAIN_GAIN;
        this.cwndGain = BBR_HIGH_GAIN;
        break;
      case BBR_PROBE_BW:
        this.pacingGain = BBR_PACING_GAINS[this.cycleIndex]!;
        this.cwndGain = BBR_CWND_GAIN;
        break;
      default:
        this.pacingGain = this.cwndGain = 1;
    }
  }

  private setPacingRate(bw: number, gain: number, srttNs: number): void {
    if (!this.hasSeenRtt && srttNs > 0) {
      // The first RTT sample: the initial window over it, at the high gain.
      this.hasSeenRtt = true;
      this.pacingRate = (BBR_HIGH_GAIN * this.cwnd * 1e9 * PACING_MARGIN) / srttNs;
    }
    const rate = gain * bw * PACING_MARGIN;
    // Until the pipe is full the rate only rises (an early low sample must not slow STARTUP).
    if (rate > 0 && (this.filledPipe || rate > this.pacingRate)) this.pacingRate = rate;
  }

  /** The window: recovery's packet conservation, else toward the model's target (slow-start-like below it). */
  private setCwnd(rs: RateSample, bw: number, state: CaState): void {
    const acked = rs.ackedSacked,
      mss = this.mss;
    if (acked > 0) {
      let cwnd = this.cwnd;
      if (rs.losses > 0) cwnd = Math.max(cwnd - rs.losses, mss);
      if (state === CA_RECOVERY && this.prevState !== CA_RECOVERY) {
        // The first round of recovery: one out for each one delivered, from what is in flight now.
        this.packetConservation = true;
        this.nextRoundDelivered = rs.totalDelivered;
        cwnd = rs.inflight + acked;
      } else if (this.prevState >= CA_RECOVERY && state < CA_RECOVERY) {
        cwnd = Math.max(cwnd, this.priorCwnd); // Recovery is over: the window from before it.
        this.packetConservation = false;
      }
      this.prevState = state;
      if (this.packetConservation) {
        cwnd = Math.max(cwnd, rs.inflight + acked);
      } else {
        const target = this.quantizationBudget(this.bdp(bw, this.cwndGain));
        if (this.filledPipe) cwnd = Math.min(cwnd + acked, target);
        else if (cwnd < target || rs.totalDelivered < initialWindow(mss)) cwnd += acked;
        cwnd = Math.max(cwnd, BBR_MIN_CWND_SEGMENTS * mss);
      }
      this.cwnd = cwnd;
    }
    if (this.mode === BBR_PROBE_RTT) this.cwnd = Math.min(this.cwnd, BBR_MIN_CWND_SEGMENTS * mss);
  }
}
