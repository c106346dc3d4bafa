/**
 * The receiver's out-of-order queue: segments beyond RCV.NXT held for later
 * (RFC 9293 §3.10.7.4 allows it; RFC 5681 §4.2 wants them acknowledged at
 * once), at most a receive buffer's worth, copied out of the frame; and the
 * SACK blocks that report them to the sender (RFC 2018 §4). The connection
 * takes each held segment back once RCV.NXT reaches it.
 */
import { seqAdd, seqDiff, seqGe, seqGt, seqInWindow, seqLt } from './seq.ts';

/** A held segment: where it starts and its bytes (a copy). */
export interface HeldSegment {
  readonly seq: number;
  readonly data: Uint8Array;
}

/** Appends [l, r) to flat sorted ranges [l0, r0, l1, r1, …], merging it with the last when they touch. */
function pushMerged(ranges: number[], l: number, r: number): void {
  const n = ranges.length;
  if (n > 0 && seqGe(ranges[n - 1]!, l)) {
    if (seqGt(r, ranges[n - 1]!)) ranges[n - 1] = r;
  } else {
    ranges.push(l, r);
  }
}

export class Reassembly {
  /** Held segments, sorted by start; they may overlap. */
  private readonly held: HeldSegment[] = [];
  private heldBytes = 0;
  /** Start of the most recent segment held: its block goes first (RFC 2018 §4). */
  private lastSeq = 0;
  /** Where a FIN that came beyond RCV.NXT sits (undefined: none did). */
  fin: number | undefined;
  private readonly limit: number;
  /** Scratch for sackBlocks. */
  private readonly ranges: number[] = [];

  /** `limit`: the most bytes held at once (the receive buffer). */
  constructor(limit: number) {
    this.limit = limit;
  }

  get empty(): boolean {
    return this.held.length === 0;
  }
  /** Bytes of the segments held (copies). */
  get bytes(): number {
    return this.heldBytes;
  }

  /**
   * Holds `data` (a view of the frame, copied here) that starts at `seq`; `fin`: the segment carried FIN. Returns true
   * when a held segment at the same place already had all of it (a duplicate, for a D-SACK block: RFC 2883 §4).
   */
  store(seq: number, data: Uint8Array, fin: boolean): boolean {
    if (fin) this.fin = seqAdd(seq, data.length);
    if (this.heldBytes + data.length > this.limit) return false;
    const q = this.held;
    let i = 0;
    while (i < q.length && seqLt(q[i]!.seq, seq)) i++;
    this.lastSeq = seq;
    if (i < q.length && q[i]!.seq === seq && q[i]!.data.length >= data.length) return true; // Duplicate.
    q.splice(i, 0, { seq, data: data.slice() });
    this.heldBytes += data.length;
    return false;
  }

  /** The first held segment that RCV.NXT (`rcvNxt`) has reached, taken out of the queue; undefined when none has. */
  takeReady(rcvNxt: number): HeldSegment | undefined {
    const s = this.held[0];
    if (s === undefined || seqDiff(rcvNxt, s.seq) < 0) return undefined;
    this.held.shift();
    this.heldBytes -= s.data.length;
    return s;
  }

  /** RFC 2018 §4: the held data as at most `max` blocks, the one holding the latest segment first, then the highest. */
  sackBlocks(max: number): number[] {
    const ranges = this.ranges;
    ranges.length = 0;
    for (const s of this.held) pushMerged(ranges, s.seq, seqAdd(s.seq, s.data.length));
    const out: number[] = [];
    let first = -1;
    for (let i = 0; i < ranges.length; i += 2) if (seqInWindow(this.lastSeq, ranges[i]!, ranges[i + 1]!)) first = i;
    if (first >= 0) out.push(ranges[first]!, ranges[first + 1]!);
    for (let i = ranges.length - 2; i >= 0 && out.length < 2 * max; i -= 2) if (i !== first) out.push(ranges[i]!, ranges[i + 1]!);
    return out;
  }
}
