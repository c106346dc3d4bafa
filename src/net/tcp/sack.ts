/**
 * The sender's SACK scoreboard (RFC 2018, RFC 6675 §3): which octets
 * between SND.UNA and SND.MAX the receiver holds, from the blocks its ACKs
 * carry; from it, the holes to resend, the data in flight ("pipe", §4), and
 * HighRxt, how far this recovery has resent. Allocation-free: the ranges are
 * one flat array edited in place, and a hole is returned in two fields.
 * Sequence numbers come in as arguments; the connection owns them.
 */
import type { TcpOptions } from '../../wire/tcp.ts';
import { seqDiff, seqGt, seqInWindow, seqLe, seqLt } from './seq.ts';

export class Scoreboard {
  /** SACKed ranges above SND.UNA as [left, right, …]: sorted, disjoint, and apart (ranges that touch are merged). */
  readonly ranges: number[] = [];
  /** RFC 6675 §2 HighRxt: the highest sequence retransmitted in the current recovery. */
  highRxt = 0;
  /** The hole `nextHole` found: where it starts and how much of it fits a segment. */
  holeSeq = 0;
  holeLen = 0;

  get empty(): boolean {
    return this.ranges.length === 0;
  }

  /** Forgets every SACKed range (RFC 6675 §5.1: a receiver may renege). */
  clear(): void {
    this.ranges.length = 0;
  }

  /**
   * An ACK arrived with SND.UNA now `una`: forget what it passed, and add its SACK blocks
   * (RFC 2018 §3), each clamped to [SND.UNA, SND.MAX] so that a hostile block cannot claim what was never sent.
   */
  update(o: TcpOptions, una: number, max: number): void {
    const a = this.ranges;
    let drop = 0;
    while (drop < a.length && !seqGt(a[drop + 1]!, una)) drop += 2; // Sorted: the passed ranges come first.
    if (drop > 0) {
      a.copyWithin(0, drop);
      a.length -= drop;
    }
    if (a.length > 0 && !seqGt(a[0]!, una)) a[0] = una;
    for (let k = 0; k < o.sackCount; k++) {
      let l = o.sack[2 * k]!,
        r = o.sack[2 * k + 1]!;
      if (seqLt(l, una)) l = una;
      if (seqGt(r, max)) r = max;
      if (seqLt(l, r)) this.add(l, r);
    }
  }

  /** Merges [l, r) into the ranges, joining every range it overlaps or touches. */
  private add(l: number, r: number): void {
    const a = this.ranges,
      n = a.length;
    let i = 0;
    while (i < n && seqLt(a[i + 1]!, l)) i += 2; // Ranges wholly before [l, r), apart from it.
    let j = i;
    while (j < n && seqLe(a[j]!, r)) j += 2; // Ranges i … j-2 overlap or touch [l, r).
    if (i === j) {
      a.push(0, 0);
      a.copyWithin(i + 2, i, n);
      a[i] = l;
      a[i + 1] = r;
      return;
    }
    if (seqLt(l, a[i]!)) a[i] = l;
    a[i + 1] = seqGt(a[j - 1]!, r) ? a[j - 1]! : r;
    if (j > i + 2) {
      a.copyWithin(i + 2, j);
      a.length -= j - i - 2;
    }
  }

  /** Octets SACKed in all, or only those below `below`. */
  sackedBytes(below?: number): number {
    const a = this.ranges;
    let n = 0;
    for (let i = 0; i < a.length; i += 2) {
      const l = a[i]!,
        r = below !== undefined && seqLt(below, a[i + 1]!) ? below : a[i + 1]!;
      if (seqLt(l, r)) n += seqDiff(r, l);
    }
    return n;
  }

  /** If `seq` lies in a SACKed range, that range's end. */
  sackedEnd(seq: number): number | undefined {
    const a = this.ranges;
    for (let i = 0; i < a.length; i += 2) if (seqInWindow(seq, a[i]!, a[i + 1]!)) return a[i + 1];
    return undefined;
  }

  /** The start of the first SACKed range above `seq`. */
  sackedStartAfter(seq: number): number | undefined {
    const a = this.ranges;
    for (let i = 0; i < a.length; i += 2) if (seqGt(a[i]!, seq)) return a[i];
    return undefined;
  }

  /** The end of the highest SACKed range, or SND.UNA when none. */
  highSacked(una: number): number {
    const a = this.ranges;
    return a.length ? a[a.length - 1]! : una;
  }

  /**
   * RFC 6675 §4 SetPipe, simplified: the octets in flight, less those SACKed and those presumed lost
   * (every hole below `lostTo`: by default the highest SACK; RACK's boundary, RFC 8985, when the connection
   * keeps send times), plus the lost ones resent (the holes below HighRxt).
   */
  pipe(una: number, max: number, lostTo = this.highSacked(una)): number {
    const hs = seqGt(lostTo, una) ? lostTo : una;
    const holes = seqDiff(hs, una) - this.sackedBytes(hs);
    const upTo = seqLt(this.highRxt, hs) ? this.highRxt : hs;
    const resent = seqGt(upTo, una) ? seqDiff(upTo, una) - this.sackedBytes(upTo) : 0;
    return seqDiff(max, una) - this.sackedBytes() - holes + resent;
  }

  /**
   * RFC 6675 §4 NextSeg rule 1, by sequence: the first unSACKed hole at or above `from` (and SND.UNA)
   * and below `lostTo` (by default the highest SACKed octet; see `pipe`). Sets holeSeq and holeLen (at most
   * `smss`); false when there is none.
   */
  nextHole(from: number, una: number, smss: number, lostTo = this.highSacked(una)): boolean {
    const a = this.ranges;
    let start = seqGt(from, una) ? from : una;
    for (let i = 0; i <= a.length; i += 2) {
      const l = i < a.length && seqLt(a[i]!, lostTo) ? a[i]! : lostTo;
      if (seqLt(start, l)) {
        this.holeSeq = start;
        this.holeLen = Math.min(smss, seqDiff(l, start));
        return true;
      }
      if (i >= a.length || !seqLt(a[i]!, lostTo)) return false;
      if (seqLt(start, a[i + 1]!)) start = a[i + 1]!;
    }
    return false;
  }
}
