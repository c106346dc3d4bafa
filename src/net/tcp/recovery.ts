/**
 * Loss recovery and the congestion response, the sender's side of
 * RFC 5681 §3.2. Duplicate ACKs are counted; recovery starts at DupThresh of
 * them, or once that much data is SACKed, the threshold lowered when fewer
 * segments are out (early retransmit, RFC 5827); before it, each early
 * duplicate lets one new segment out (limited transmit, RFC 3042). With SACK,
 * recovery follows the scoreboard (RFC 6675 §5: holes while the pipe has
 * room, then new data), and a resent hole that stays open while later data is
 * SACKed counts as lost again. Under a window-based controller, RACK (RFC 8985
 * §6) decides what is lost by send time (rate.ts's records): a hole is lost
 * once data sent after it was delivered and a reordering window has passed
 * (none until the path has shown reordering; then a quarter of the least RTT,
 * and the DupThresh count no longer starts a recovery), and its timer starts a
 * recovery without waiting for more ACKs. Without SACK it is NewReno (RFC 6582).
 * A tail loss probe (RFC 8985 §7) turns a lost tail into a SACK recovery
 * instead of a timeout. D-SACK blocks (RFC 2883) undo a fast recovery whose
 * every resend came back duplicated (RFC 3708) and widen RACK's reordering
 * window (RFC 8985 §6.2 step 4). The window itself is the congestion controller's
 * (congestion.ts: CUBIC by default, or NewReno); while a SACK recovery lasts,
 * proportional rate reduction (RFC 6937) spreads the reduction over the ACKs
 * of the round trip instead of sending nothing until the pipe has drained.
 *
 * This module decides and the connection sends: each decision comes back as
 * a small number (and a segment's place in `segSeq`/`segLen`), so nothing is
 * allocated per ACK. Sequence numbers come in as arguments.
 */
import type { CongestionControl } from './congestion.ts';
import { DUP_THRESH, TLP_MIN_PTO_NS, TLP_WORST_DELAYED_ACK_NS } from './constants.ts';
import type { Scoreboard } from './sack.ts';
import { seqAdd, seqDiff, seqGe, seqGt, seqLt } from './seq.ts';
import type { Timers } from './timers.ts';
import type { TcpCounters } from './types.ts';

/** What the connection should send after an ACK: nothing, the segment at SND.UNA again, or what `nextSegment` chooses. */
export const SEND_NOTHING = 0,
  RESEND_FIRST = 1,
  SEND_BY_SCOREBOARD = 2;
export type RecoveryAction = typeof SEND_NOTHING | typeof RESEND_FIRST | typeof SEND_BY_SCOREBOARD;

/** A segment chosen to send: none, a hole (or tail) resent, or new data at SND.MAX. */
export const NO_SEGMENT = 0,
  RESEND = 1,
  NEW_DATA = 2;
export type SegmentChoice = typeof NO_SEGMENT | typeof RESEND | typeof NEW_DATA;

export class Recovery {
  readonly cc: CongestionControl;
  /** In fast recovery, until SND.UNA reaches `recover` (RFC 6582 §3.2 "recover", RFC 6675 RecoveryPoint). */
  inRecovery = false;
  recover = 0;
  /** Duplicate ACKs in a row, and how many of them may each let a new segment out (RFC 3042). */
  dupAcks = 0;
  limitedTransmit = 0;
  /** SND.MAX when the latest hole was resent: a SACK above it means that resend was itself lost. */
  rxtFence = 0;
  /** Whether a tail loss probe is out unanswered. */
  tlpOut = false;
  /** After a retransmission timeout, until SND.UNA reaches what was SND.MAX then (Linux's TCP_CA_Loss). */
  inLoss = false;
  /**
   * How far (in segments) the path has been seen to reorder: the SACK threshold for starting recovery, from
   * DupThresh up to 300, as Linux's tp->reordering. A path that delivers a segment after many sent later is
   * not losing it.
   */
  reordering = DUP_THRESH;
  /** The window and threshold before this recovery, and our timestamp clock when it began (for undoing a spurious one). */
  private undoCwnd = 0;
  private undoSsthresh = 0;
  enteredTs = 0;
  /**
   * D-SACK undo (RFC 2883 §5, RFC 3708; Linux's undo_retrans): resends of the last fast recovery not yet reported
   * back as duplicates, and the range they lay in; undefined when nothing can be undone (no recovery yet, a timeout
   * since). When every resend came back as a duplicate, none was needed: the recovery was spurious.
   */
  private undoRetrans: number | undefined;
  private undoFrom = 0;
  private undoTo = 0;
  /**
   * RFC 8985 §6.2 step 4: the reordering window in quarters of the least RTT (RACK.reo_wnd_mult), raised once a
   * round trip in which a D-SACK arrived (RACK.dsack_round: SND.MAX then), and kept for 16 recoveries after the last
   * raise (RACK.reo_wnd_persist).
   */
  reoWndMult = 1;
  private reoWndPersist = 0;
  private dsackRound: number | undefined;
  /** A recovery was proved spurious: this path reorders (RACK.reordering_seen, RFC 8985 §6.2). */
  reorderSeen = false;
  /**
   * RACK's loss boundary (RFC 8985 §6.2, rate.ts's detectLoss), when the connection keeps send times: the
   * un-SACKed data below it is lost. Without (no SACK), every hole below the highest SACK counts as lost.
   */
  lostTo: number | undefined;
  /**
   * Proportional rate reduction (RFC 6937 §3) in a SACK recovery under a window-based controller: octets
   * delivered to the receiver since it began (prr_delivered), sent since (prr_out), and the flight when it
   * began (RecoverFS).
   */
  prrDelivered = 0;
  prrOut = 0;
  private recoverFs = 0;
  /** The segment `nextSegment` or `tailProbe` chose. */
  segSeq = 0;
  segLen = 0;
  private readonly sb: Scoreboard;
  private readonly timers: Timers;
  private readonly counters: TcpCounters;

  constructor(cc: CongestionControl, sb: Scoreboard, timers: Timers, counters: TcpCounters) {
    this.cc = cc;
    this.sb = sb;
    this.timers = timers;
    this.counters = counters;
  }

  /** RFC 3042: the window new data may use, the congestion window plus one segment per early duplicate ACK. */
  sendWindow(smss: number): number {
    return this.cc.cwnd + (this.inRecovery ? 0 : this.limitedTransmit * smss);
  }

  /**
   * New data acknowledged up to `ack` (`dataAcked` octets, `flight` still out; `delivered`: octets this ACK
   * delivered, cumulatively or by SACK, RFC 6937's DeliveredData). In recovery a full ACK ends it (RFC 6675
   * §5 (A); RFC 6582 §3.2 step 3, deflating the window) and a partial one resends (RFC 6675 §5 (C), as PRR
   * allows; RFC 6582 §3.2 step 5); outside it the window grows (RFC 5681 §3.1, RFC 9438).
   */
  newAck(
    ack: number,
    dataAcked: number,
    delivered: number,
    flight: number,
    useSack: boolean,
    smss: number,
    mss: number,
    now: bigint,
    srtt: number,
  ): RecoveryAction {
    const cc = this.cc;
    let action: RecoveryAction = SEND_NOTHING;
    if (this.inLoss && seqGe(ack, this.recover)) this.inLoss = false;
    if (this.inRecovery && useSack) {
      if (seqGe(ack, this.recover)) {
        this.inRecovery = false;
        if (!cc.onRateSample) cc.cwnd = cc.ssthresh; // A model-based controller restores its own.
        this.recoveryDone(); // After: an undo puts back the window from before the recovery, not the restored ssthresh.
      } else {
        action = SEND_BY_SCOREBOARD; // A partial ACK: keep filling holes (no window inflation with SACK).
        this.prrAck(delivered, ack, seqAdd(ack, flight), smss);
      }
    } else if (this.inRecovery) {
      if (seqGe(ack, this.recover)) {
        this.inRecovery = false;
        cc.cwnd = Math.min(cc.ssthresh, Math.max(flight, 0) + mss);
        this.recoveryDone();
      } else {
        // Partial ACK: retransmit the next hole, deflate by what was acked.
        cc.cwnd = Math.max(mss, cc.cwnd - dataAcked + mss);
        action = RESEND_FIRST;
      }
    } else {
      cc.onAck(dataAcked, mss, now, srtt);
    }
    this.dupAcks = 0;
    this.limitedTransmit = 0;
    this.tlpOut = false;
    return action;
  }

  /**
   * A duplicate ACK (RFC 5681 §2), the scoreboard already updated from it. With SACK, recovery starts
   * at the (early retransmit, RFC 5827) threshold of duplicates or of SACKed segments; without, the
   * third duplicate is a fast retransmit (RFC 6582 §3.2 step 2) and each later one inflates the window.
   */
  duplicateAck(ack: number, una: number, max: number, smss: number, mss: number, sackOk: boolean, newlySacked: number): RecoveryAction {
    this.counters.dupAcks++;
    // With SACK, a duplicate ACK that SACKs nothing new says no segment left the network (a duplicated
    // segment, a window probe's answer): RFC 6675 §2 counts only ACKs carrying new SACK information.
    if (sackOk && newlySacked <= 0 && !this.inRecovery) return SEND_NOTHING;
    this.dupAcks++;
    // Early retransmit (RFC 5827): with fewer than four segments out, fewer duplicates can ever come.
    const outSegs = Math.ceil(seqDiff(max, una) / smss);
    // The SACK threshold is DupThresh, or the reordering this path has shown (both lowered for a short flight).
    const sackThresh = Math.max(1, Math.min(this.reordering, outSegs - 1));
    const sb = this.sb;
    // RFC 8985 §6.2: RACK finds losses by time. Until the path has shown reordering the DupThresh rule starts a
    // recovery too; once it has, only time does (a late segment within the reordering window is not a loss).
    const byCount = !this.reorderSeen && (this.dupAcks >= sackThresh || sb.sackedBytes() >= sackThresh * smss);
    const byTime = this.lostTo !== undefined && seqGt(this.lostTo, una);
    if (sackOk && (this.inRecovery || byCount || byTime) && !sb.empty) {
      // `recover` is SND.MAX when the last recovery or timeout began (one past RFC 6582's "highest sequence number
      // transmitted"), so an ACK of exactly it has covered all of that data and a new recovery may start (§3.2 step 2:
      // the ACK "covers more than recover"). A strict test left a segment lost right at `recover` to a timeout.
      if (!this.inRecovery && seqGe(ack, this.recover)) {
        // Enter SACK recovery (RFC 6675 §5): reduce the window, then resend holes as the pipe allows. Started by
        // the count, every hole below the highest SACK is lost (IsLost), whatever RACK's clock says yet.
        this.enter(una, max, mss);
        const hs = sb.highSacked(una);
        if (byCount && this.lostTo !== undefined && seqLt(this.lostTo, hs)) this.lostTo = hs;
        sb.highRxt = una;
        this.rxtFence = max;
      }
      if (!this.inRecovery) return SEND_NOTHING;
      this.prrAck(newlySacked, una, max, smss); // The ACK that starts the recovery counts (RFC 6937 §3).
      return SEND_BY_SCOREBOARD;
    }
    if (this.inRecovery) {
      this.cc.cwnd += mss; // Inflate for each segment that left the network (RFC 6582 §3.2 step 4).
    } else if (this.dupAcks < DUP_THRESH) {
      this.limitedTransmit = this.dupAcks; // RFC 3042: one new segment per early duplicate ACK.
    } else if (!sackOk && this.dupAcks === DUP_THRESH && seqGt(ack, this.recover)) {
      // Fast retransmit (RFC 6582 §3.2 step 2), the window inflated by the three segments that left.
      this.enter(una, max, mss);
      this.cc.cwnd = this.cc.ssthresh + DUP_THRESH * mss;
      return RESEND_FIRST;
    }
    return SEND_NOTHING;
  }

  /**
   * RACK's reordering timer found the data at SND.UNA lost (RFC 8985 §6.2 step 5, with no ACK to carry it):
   * a SACK recovery starts as if an ACK had. Returns whether to send by the scoreboard.
   */
  lostByTimer(una: number, max: number, smss: number, mss: number): boolean {
    if (!this.inRecovery) {
      if (!seqGe(una, this.recover) || this.sb.empty) return false;
      this.enter(una, max, mss);
      this.sb.highRxt = una;
      this.rxtFence = max;
    }
    this.prrAck(0, una, max, smss);
    return true;
  }

  /** Fast recovery starts: the controller reduces the window, and no tail probe is needed while it lasts. */
  private enter(una: number, max: number, mss: number): void {
    this.counters.fastRetransmits++;
    this.undoCwnd = this.cc.cwnd;
    this.undoSsthresh = this.cc.ssthresh;
    this.undoRetrans = 0;
    this.undoFrom = this.undoTo = una;
    this.cc.onFastRetransmit(seqDiff(max, una), mss);
    this.prrDelivered = 0;
    this.prrOut = 0;
    this.recoverFs = seqDiff(max, una);
    this.recover = max;
    this.inRecovery = true;
    this.timers.tlp = undefined;
  }

  /**
   * RFC 6937 §3, on each ACK of a SACK recovery (a model-based controller sets its own window instead):
   * `delivered` octets reached the receiver. While the pipe is above ssthresh, what may be sent keeps to
   * ssthresh / RecoverFS of what was delivered (sndcnt = ⌈prr_delivered × ssthresh / RecoverFS⌉ − prr_out);
   * once below, the slow-start reduction bound lets it climb back to ssthresh, at most one segment more than
   * was delivered. The ACK that starts the recovery always lets the fast retransmit go (RFC 6937bis). The
   * window becomes pipe + sndcnt, which `nextSegment` then fills; at the recovery's end it is ssthresh.
   */
  private prrAck(delivered: number, una: number, max: number, smss: number): void {
    if (this.cc.onRateSample) return;
    this.prrDelivered += Math.max(0, delivered);
    const pipe = this.sb.pipe(una, max, this.lostTo);
    const ssthresh = this.cc.ssthresh;
    let sndcnt =
      pipe > ssthresh
        ? Math.ceil((this.prrDelivered * ssthresh) / Math.max(this.recoverFs, 1)) - this.prrOut
        : Math.min(ssthresh - pipe, Math.max(this.prrDelivered - this.prrOut, delivered) + smss); // PRR-SSRB
    if (this.prrOut === 0 && sndcnt < smss) sndcnt = smss;
    this.cc.cwnd = pipe + Math.max(0, sndcnt);
  }

  /**
   * The segment at SND.UNA arrived although `degree` segments sent after it had been SACKed first. Outside
   * recovery that is reordering, and the threshold grows to cover it. In a recovery it started, an ACK that
   * echoes a timestamp older than the recovery was sent by the original, not by our resend (the Eifel
   * detection, RFC 3522): the recovery was spurious, so its window reduction is undone (RFC 4015's response).
   */
  reordered(degree: number, echoedTs: number, mayBeResent: boolean): void {
    if (this.inRecovery) {
      if (mayBeResent || ((echoedTs - this.enteredTs) | 0) >= 0) return; // A resend filled it: a loss.
      this.undo();
    } else if (mayBeResent || !this.reorderSeen) {
      // Outside a recovery, only once a spurious one proved the path reorders: a late ACK of a lost segment's
      // resend, or SACK blocks that outlived their data, look the same and would slow every loss detection.
      return;
    }
    if (degree >= this.reordering) this.reordering = Math.min(300, degree + 1);
  }

  /** The last fast recovery was spurious: its window reduction is undone (RFC 4015's response), the controller's with it. */
  private undo(): void {
    this.counters.spuriousRecoveries++;
    this.reorderSeen = true;
    this.cc.cwnd = Math.max(this.cc.cwnd, this.undoCwnd);
    this.cc.ssthresh = this.undoSsthresh;
    this.cc.onUndo?.();
    this.inRecovery = false;
    this.undoRetrans = undefined;
  }

  /** A fast recovery ended with a full ACK: RFC 8985 §6.2 step 4 counts it toward resetting the reordering window. */
  private recoveryDone(): void {
    if (this.reoWndPersist > 0 && --this.reoWndPersist === 0) this.reoWndMult = 1;
    if (this.undoRetrans !== undefined && this.undoRetrans <= 0 && this.undoTo !== this.undoFrom) this.undo();
  }

  /** `len` octets at `seq` were resent; in a fast recovery, they count toward its D-SACK undo. */
  noteResend(seq: number, len: number): void {
    if (!this.inRecovery || this.undoRetrans === undefined) return;
    this.undoRetrans++;
    const end = seqAdd(seq, Math.max(len, 1));
    if (seqGt(end, this.undoTo)) this.undoTo = end;
  }

  /**
   * An ACK's first SACK block reported octets `from`..`to` as received twice (RFC 2883 §4.2: below the ACK, or inside
   * its second block); `una`, `max`: SND.UNA and SND.MAX now. RACK's reordering window grows by a quarter of the least
   * RTT, once a round trip (RFC 8985 §6.2 step 4). A duplicate of data resent in the last fast recovery says that
   * resend was not needed; once every resend of it has come back so (RFC 3708, as Linux's undo_retrans counts) and
   * the recovery has ended (until then more resends may come), it was spurious and is undone. Not under a model-based
   * controller, which sets its own window in a recovery (as Linux's BBR, whose undo keeps cwnd). (A duplicate the
   * network made of a segment in that range, never resent, counts the same: the records that would tell are gone
   * once it is acknowledged.)
   */
  dsack(from: number, to: number, una: number, max: number, smss: number): void {
    if (this.dsackRound === undefined || seqGe(una, this.dsackRound)) {
      this.reoWndMult++;
      this.dsackRound = max;
      this.reoWndPersist = 16;
    }
    if (this.undoRetrans === undefined || this.undoRetrans <= 0 || this.cc.onRateSample) return;
    if (seqLt(from, this.undoFrom) || seqGt(to, this.undoTo)) return;
    this.undoRetrans -= Math.max(1, Math.round(seqDiff(to, from) / smss));
    if (this.undoRetrans <= 0 && !this.inRecovery) this.undo();
  }

  /** The retransmission timer expired (RFC 6298 §5.4): recovery is over; the controller sets the loss window (RFC 5681 §3.1). */
  timeout(flight: number, mss: number, max: number): void {
    this.undoRetrans = undefined; // A timeout is not undone.
    this.cc.onTimeout(flight, mss);
    this.inRecovery = false;
    this.inLoss = true;
    this.recover = max;
    this.dupAcks = 0;
    this.limitedTransmit = 0;
  }

  /**
   * Before resending by the scoreboard: a hole resent that stays open while data sent after the resend
   * is SACKed was lost again (the idea of RACK, RFC 8985 §6.2): resend from SND.UNA again.
   */
  checkLostRetransmit(una: number, max: number): void {
    const sb = this.sb;
    if (seqGt(sb.highRxt, una) && seqGt(sb.highSacked(una), this.rxtFence)) {
      this.counters.lostRetransmits++;
      sb.highRxt = una;
      this.rxtFence = max;
    }
  }

  /** The resend at SND.UNA was found lost by time (rate.ts's RACK rule): in SACK recovery, resend from SND.UNA again. */
  resendLostAgain(una: number, max: number): void {
    this.counters.lostRetransmits++;
    this.sb.highRxt = una;
    this.rxtFence = max;
  }

  /**
   * RFC 6675 §4 NextSeg, while the pipe leaves a segment's room in the window: the next hole above
   * HighRxt (rule 1), else new data the peer's window allows (rule 3). Sets segSeq and segLen; a hole
   * chosen counts as resent (HighRxt moves past it).
   */
  nextSegment(una: number, nxt: number, max: number, queued: number, sndWnd: number, smss: number): SegmentChoice {
    const sb = this.sb;
    if (sb.pipe(una, max, this.lostTo) + smss > this.cc.cwnd) return NO_SEGMENT;
    if (sb.nextHole(sb.highRxt, una, smss, this.lostTo)) {
      this.segSeq = sb.holeSeq;
      this.segLen = sb.holeLen;
      sb.highRxt = seqAdd(sb.holeSeq, sb.holeLen);
      this.rxtFence = max;
      this.prrOut += this.segLen;
      return RESEND;
    }
    const off = seqDiff(max, una);
    const len = Math.min(smss, queued - off, sndWnd - off);
    if (len <= 0 || seqLt(nxt, max)) return NO_SEGMENT;
    this.segSeq = max;
    this.segLen = len;
    this.prrOut += len;
    return NEW_DATA;
  }

  /**
   * RFC 8985 §7.2: the probe timeout, two smoothed RTTs after the last send or ACK (plus the peer's worst
   * delayed ACK when one segment is out), unless the retransmission timer comes first. `allowed`: SACK is
   * on and the state sends data.
   */
  armProbe(now: bigint, srtt: number, flight: number, smss: number, allowed: boolean): void {
    const t = this.timers;
    if (this.inRecovery || this.tlpOut || srtt === 0 || !allowed || flight <= 0) {
      t.tlp = undefined;
      return;
    }
    let pto = Math.max(2 * srtt, TLP_MIN_PTO_NS);
    if (flight <= smss) pto += TLP_WORST_DELAYED_ACK_NS;
    const at = now + BigInt(Math.round(pto));
    t.tlp = t.rto !== undefined && at >= t.rto ? undefined : at;
  }

  /** RFC 8985 §7.3: the probe timer fired: one new segment if the windows allow, else the last one again. */
  tailProbe(una: number, nxt: number, max: number, queued: number, sndWnd: number, smss: number): SegmentChoice {
    this.timers.tlp = undefined;
    if (this.inRecovery || !seqGt(max, una)) return NO_SEGMENT;
    this.tlpOut = true;
    this.counters.tailProbes++;
    const off = seqDiff(max, una);
    const fresh = Math.min(smss, queued - off, sndWnd - off);
    if (fresh > 0 && nxt === max) {
      this.segSeq = max;
      this.segLen = fresh;
      return NEW_DATA;
    }
    const dataEnd = seqAdd(una, Math.min(queued, off));
    const len = Math.min(smss, seqDiff(dataEnd, una));
    if (len <= 0) return NO_SEGMENT;
    this.segSeq = seqAdd(dataEnd, -len);
    this.segLen = len;
    return RESEND;
  }

  /** The timer or an ACK stopped the probe. */
  stopProbe(): void {
    this.timers.tlp = undefined;
    this.tlpOut = false;
  }
}
