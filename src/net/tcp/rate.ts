/**
 * Delivery-rate estimation (draft-cheng-iccrg-delivery-rate-estimation), for
 * model-based congestion control (bbr.ts). Each transmission of data is a
 * record holding the connection's delivery state when it left (delivered,
 * delivered_time, first_sent_time, app-limited); each ACK that delivers data
 * (cumulatively or by SACK) turns the most recently sent of the records it
 * delivered into a rate sample: data delivered over the longer of the send
 * and ACK intervals, a lower bound of the path's bottleneck rate.
 *
 * Records are kept in sequence order, one per transmission of new data (a
 * segmentation-offload packet is one record), in a ring of typed arrays that
 * only grows: nothing is allocated per packet. A retransmission or a SACK
 * block that covers part of a record splits it first, so that what was resent,
 * and what was delivered, is exactly what the records say.
 * Times are ns as numbers; sequence numbers come in as arguments. A popped
 * record's slot stays readable until the next send, so an ACK is sampled
 * (begin, cumulative, SACK blocks, finish) before anything is sent for it.
 */
import { seqGe, seqGt, seqLe, seqLt } from './seq.ts';

/** One ACK's sample (draft §3.3 "rs"), plus what the controller needs about the flight. */
export interface RateSample {
  /** Octets delivered over the interval; meaningful only when `intervalNs` > 0. */
  delivered: number;
  /** max(send elapsed, ACK elapsed), ns; 0 when this ACK gave no valid sample (nothing delivered, or shorter than the least RTT). */
  intervalNs: number;
  /** The connection's delivered count when the sampled record was sent (the round-trip counter's clock). */
  priorDelivered: number;
  /** The sampled record left while the sender was application-limited: the rate says more about the application than the path. */
  appLimited: boolean;
  /**
   * Round trip of the sampled record, from its transmission to this ACK (ns); -1 when none was sampled or it
   * was resent (Karn: the ACK may be the original's, and a resend just before it would look like a tiny RTT).
   */
  rttNs: number;
  /** Octets this ACK delivered (newly cumulatively ACKed or SACKed). */
  ackedSacked: number;
  /** Octets this ACK showed lost (SACKed data above holes it had not passed before). */
  losses: number;
  /** The connection's delivered count after this ACK (C.delivered). */
  totalDelivered: number;
  /** Octets in flight before and after this ACK (RFC 6675's pipe with SACK). */
  priorInflight: number;
  inflight: number;
}

export const newRateSample = (): RateSample => ({
  delivered: 0,
  intervalNs: 0,
  priorDelivered: 0,
  appLimited: false,
  rttNs: -1,
  ackedSacked: 0,
  losses: 0,
  totalDelivered: 0,
  priorInflight: 0,
  inflight: 0,
});

const APP_LIMITED = 1,
  SACKED = 2,
  RESENT = 4;

export class RateSampler {
  /** C.delivered: octets delivered so far. */
  delivered = 0;
  /** C.delivered_time and C.first_sent_time (ns). */
  deliveredNs = 0;
  firstSentNs = 0;
  /** C.app_limited: 0, or the delivered count that ends the application-limited stretch. */
  appLimitedUntil = 0;
  /** The least RTT any sample showed: shorter intervals are not valid samples (ACK compression). */
  minRttNs = Number.POSITIVE_INFINITY;
  /** RACK.xmit_ts (RFC 8985 §6.2): the latest send time of any data delivered so far. */
  latestDeliveredSentNs = Number.NEGATIVE_INFINITY;
  /** RACK.end_seq (ties in send time go by sequence) and RACK.rtt: that delivery's round trip (ns). */
  private rackEndSeq = 0;
  rackRttNs = 0;
  /** RACK's loss boundary: the un-SACKed data below it was sent before RACK.xmit_ts by more than the reordering window. */
  lostTo = 0;
  private lostSet = false;
  /** The sample the latest `ack…` calls built. */
  readonly sample: RateSample = newRateSample();

  // The ring of records, oldest (lowest sequence) at `head`.
  private cap = 16;
  private head = 0;
  private count = 0;
  private startSeq = new Uint32Array(this.cap);
  private endSeq = new Uint32Array(this.cap);
  private sentNs = new Float64Array(this.cap);
  private recDelivered = new Float64Array(this.cap);
  private recDeliveredNs = new Float64Array(this.cap);
  private recFirstSentNs = new Float64Array(this.cap);
  private flags = new Uint8Array(this.cap);
  /** Where new data continues (the end of the newest record ever made). */
  private tailEnd: number | undefined;
  // The candidate of the ACK being processed: the most recently sent record it delivered.
  private candidate = -1;
  private candSentNs = 0;
  private candDelivered = 0;

  /** Records held (for tests and memory accounting). */
  get records(): number {
    return this.count;
  }

  /** Bytes of record storage: per slot two sequence numbers (4 B each), four times (8 B) and a flag byte. */
  get bytes(): number {
    return this.cap * 41;
  }

  private at(i: number): number {
    return (this.head + i) & (this.cap - 1);
  }

  private grow(): void {
    const n = this.cap * 2;
    const copyU32 = (a: Uint32Array): Uint32Array<ArrayBuffer> => {
      const b = new Uint32Array(n);
      for (let i = 0; i < this.count; i++) b[i] = a[this.at(i)]!;
      return b;
    };
    const copyF64 = (a: Float64Array): Float64Array<ArrayBuffer> => {
      const b = new Float64Array(n);
      for (let i = 0; i < this.count; i++) b[i] = a[this.at(i)]!;
      return b;
    };
    const f = new Uint8Array(n);
    for (let i = 0; i < this.count; i++) f[i] = this.flags[this.at(i)]!;
    this.startSeq = copyU32(this.startSeq);
    this.endSeq = copyU32(this.endSeq);
    this.sentNs = copyF64(this.sentNs);
    this.recDelivered = copyF64(this.recDelivered);
    this.recDeliveredNs = copyF64(this.recDeliveredNs);
    this.recFirstSentNs = copyF64(this.recFirstSentNs);
    this.flags = f;
    this.head = 0;
    this.cap = n;
  }

  /** Stamps record `k` with the connection's delivery state now (draft §3.2 "upon each packet transmission"). */
  private stamp(k: number, nowNs: number): void {
    this.sentNs[k] = nowNs;
    this.recDelivered[k] = this.delivered;
    this.recDeliveredNs[k] = this.deliveredNs;
    this.recFirstSentNs[k] = this.firstSentNs;
    this.flags[k] = this.appLimitedUntil !== 0 ? APP_LIMITED : 0;
  }

  /**
   * `len` octets at `seq` leave now; `idle`: nothing was outstanding before them (SND.UNA = SND.MAX), so
   * the send and ACK intervals restart here. New data (at or past the newest record's end) makes a
   * record; anything else is a retransmission and refreshes the records it overlaps.
   */
  onSend(seq: number, len: number, nowNs: number, idle: boolean): void {
    if (len <= 0) return;
    if (idle) this.firstSentNs = this.deliveredNs = nowNs;
    const end = (seq + len) >>> 0;
    if (this.tailEnd === undefined || this.count === 0 || seqGe(seq, this.tailEnd)) {
      if (this.count === this.cap) this.grow();
      const k = this.at(this.count++);
      this.startSeq[k] = seq;
      this.endSeq[k] = end;
      this.stamp(k, nowNs);
      this.tailEnd = end;
      return;
    }
    this.splitAt(seq);
    this.splitAt(end);
    for (let i = this.find(seq); i < this.count; i++) {
      const k = this.at(i);
      if (!seqLt(this.startSeq[k]!, end)) break;
      const wasSacked = this.flags[k]! & SACKED;
      this.stamp(k, nowNs);
      this.flags[k]! |= wasSacked | RESENT;
    }
  }

  /** If `seq` falls inside a record, cuts it in two there (both halves keep its state). O(records) to make room. */
  private splitAt(seq: number): void {
    const i = this.find(seq);
    if (i >= this.count) return;
    const k = this.at(i);
    if (!seqGt(seq, this.startSeq[k]!)) return;
    if (this.count === this.cap) this.grow();
    for (let j = this.count; j > i + 1; j--) this.copy(this.at(j - 1), this.at(j));
    const k2 = this.at(i + 1),
      k1 = this.at(i);
    this.copy(k1, k2);
    this.endSeq[k1] = seq;
    this.startSeq[k2] = seq;
    this.count++;
  }

  private copy(from: number, to: number): void {
    this.startSeq[to] = this.startSeq[from]!;
    this.endSeq[to] = this.endSeq[from]!;
    this.sentNs[to] = this.sentNs[from]!;
    this.recDelivered[to] = this.recDelivered[from]!;
    this.recDeliveredNs[to] = this.recDeliveredNs[from]!;
    this.recFirstSentNs[to] = this.recFirstSentNs[from]!;
    this.flags[to] = this.flags[from]!;
  }

  /** The index (from the head) of the first record that ends after `seq`. */
  private find(seq: number): number {
    let lo = 0,
      hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqLe(this.endSeq[this.at(mid)]!, seq)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private ackNowNs = 0;

  /** An ACK begins (at `nowNs`): no candidate yet. */
  beginAck(nowNs: number): void {
    this.candidate = -1;
    this.ackNowNs = nowNs;
  }

  /**
   * RACK's rule for a resend (RFC 8985 §6.2): the data at SND.UNA was resent, and data sent more than
   * `reoWndNs` after that resend has been delivered, so the resend itself was lost. Needs no new data to
   * show it (a sequence fence does), which matters when the whole window or send buffer is in flight.
   */
  headResendLost(una: number, reoWndNs: number): boolean {
    if (this.count === 0) return false;
    const k = this.head;
    if (!seqLe(this.startSeq[k]!, una) || (this.flags[k]! & (RESENT | SACKED)) !== RESENT) return false;
    return this.sentNs[k]! + reoWndNs < this.latestDeliveredSentNs;
  }

  /**
   * RFC 8985 §6.2 step 5, RACK_detect_loss, over the records in sequence order from the loss boundary (or
   * SND.UNA): an un-SACKed record sent before RACK.xmit_ts (by time, ties by sequence) is lost once
   * RACK.rtt + `reoWndNs` have passed since it left; the boundary moves past it. Records resent in this
   * recovery (below `highRxt`) are left to the resend rules. The walk stops at the first record not lost;
   * returns when that one will be (the reordering timer, ns), or 0 when none is pending. Records before the
   * boundary are not walked again, so each is looked at about once.
   */
  detectLoss(una: number, highRxt: number, nowNs: number, reoWndNs: number): number {
    if (!this.lostSet || !seqGt(this.lostTo, una)) this.lostTo = una; // Not set yet, or passed.
    this.lostSet = true;
    if (this.latestDeliveredSentNs === Number.NEGATIVE_INFINITY) return 0;
    for (let i = this.find(this.lostTo); i < this.count; i++) {
      const k = this.at(i);
      const f = this.flags[k]!;
      if (f & SACKED || (f & RESENT && seqLe(this.endSeq[k]!, highRxt) && seqGt(highRxt, una))) {
        this.lostTo = this.endSeq[k]!;
        continue;
      }
      const sent = this.sentNs[k]!;
      if (sent > this.latestDeliveredSentNs || (sent === this.latestDeliveredSentNs && seqGt(this.endSeq[k]!, this.rackEndSeq))) return 0;
      const at = sent + this.rackRttNs + reoWndNs;
      if (at > nowNs) return at;
      this.lostTo = this.endSeq[k]!;
    }
    return 0;
  }

  private consider(k: number): void {
    const sent = this.sentNs[k]!,
      d = this.recDelivered[k]!;
    // A resend's delivery moves RACK's clock only if it cannot be the original's (RFC 8985 §6.2 step 2): the
    // candidate's RTT is checked in finishAck; here the resend is taken when it left at least a least-RTT ago.
    const newer = sent > this.latestDeliveredSentNs || (sent === this.latestDeliveredSentNs && seqGt(this.endSeq[k]!, this.rackEndSeq));
    if (newer && (!(this.flags[k]! & RESENT) || this.ackNowNs - sent >= this.minRttNs)) {
      this.latestDeliveredSentNs = sent;
      this.rackEndSeq = this.endSeq[k]!;
      this.rackRttNs = this.ackNowNs - sent;
    }
    // The most recently sent record wins (draft §3.3: "P.delivered > rs.prior_delivered", by send time as Linux).
    if (this.candidate >= 0 && (sent < this.candSentNs || (sent === this.candSentNs && d <= this.candDelivered))) return;
    this.candidate = k;
    this.candSentNs = sent;
    this.candDelivered = d;
  }

  /** SND.UNA moved to `una`: the records it passed are delivered (those SACKed before were counted then) and dropped. */
  ackCumulative(una: number): void {
    while (this.count > 0) {
      const k = this.head;
      if (!seqGt(this.endSeq[k]!, una)) {
        if (!(this.flags[k]! & SACKED)) this.consider(k);
        this.head = (this.head + 1) & (this.cap - 1);
        this.count--;
        continue;
      }
      if (seqLt(this.startSeq[k]!, una)) {
        // Partly acknowledged (a piece of an offloaded packet): its state counts, the rest stays.
        if (!(this.flags[k]! & SACKED)) this.consider(k);
        this.startSeq[k] = una;
      }
      break;
    }
  }

  /** A SACK block [left, right): the records inside it are delivered, and marked so that they count once. */
  ackSacked(left: number, right: number): void {
    if (this.count === 0 || !seqLt(left, right)) return;
    // Only within what the records cover (a block may be stale, or reach past what was sent).
    const lo = this.startSeq[this.head]!,
      hi = this.endSeq[this.at(this.count - 1)]!;
    if (seqLt(left, lo)) left = lo;
    if (seqGt(right, hi)) right = hi;
    if (!seqLt(left, right)) return;
    this.splitAt(left);
    this.splitAt(right);
    for (let i = this.find(left); i < this.count; i++) {
      const k = this.at(i);
      const s = this.startSeq[k]!,
        e = this.endSeq[k]!;
      if (!seqLt(s, right)) break;
      if (this.flags[k]! & SACKED) continue;
      this.consider(k);
      if (seqLe(left, s) && seqLe(e, right)) this.flags[k]! |= SACKED;
    }
  }

  /**
   * The ACK is processed: `ackedSacked` octets were newly delivered. Builds `sample` (draft §3.3
   * GenerateRateSample) from the candidate; its rate is `delivered / intervalNs` when `intervalNs` > 0.
   */
  finishAck(ackedSacked: number, nowNs: number): RateSample {
    const rs = this.sample;
    rs.ackedSacked = ackedSacked;
    rs.intervalNs = 0;
    rs.rttNs = -1;
    if (ackedSacked > 0) {
      this.delivered += ackedSacked;
      this.deliveredNs = nowNs;
    }
    rs.totalDelivered = this.delivered;
    if (this.appLimitedUntil !== 0 && this.delivered > this.appLimitedUntil) this.appLimitedUntil = 0;
    const k = this.candidate;
    if (k < 0 || ackedSacked <= 0) return rs;
    rs.priorDelivered = this.recDelivered[k]!;
    rs.appLimited = (this.flags[k]! & APP_LIMITED) !== 0;
    const sendElapsed = this.sentNs[k]! - this.recFirstSentNs[k]!;
    const ackElapsed = this.deliveredNs - this.recDeliveredNs[k]!;
    this.firstSentNs = this.sentNs[k]!;
    rs.rttNs = this.flags[k]! & RESENT ? -1 : nowNs - this.sentNs[k]!;
    if (rs.rttNs >= 0 && rs.rttNs < this.minRttNs) this.minRttNs = rs.rttNs;
    rs.delivered = this.delivered - rs.priorDelivered;
    const interval = Math.max(sendElapsed, ackElapsed);
    // Draft §3.3: an interval shorter than the least RTT comes from ACK compression, not the path.
    if (interval > 0 && interval >= this.minRttNs && rs.delivered > 0) rs.intervalNs = interval;
    return rs;
  }

  /**
   * Draft §3.4: the application has less than a segment left to send and the window is not what holds it
   * back; samples taken until what is in flight now is delivered are marked application-limited.
   */
  onAppLimited(inflight: number): void {
    this.appLimitedUntil = Math.max(this.delivered + inflight, 1);
  }
}
