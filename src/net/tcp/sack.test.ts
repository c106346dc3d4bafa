/**
 * The sender's SACK scoreboard by itself (RFC 2018 §3, RFC 6675 §3-4): the
 * ranges it keeps from the blocks ACKs carry (sorted, merged, clamped to
 * what was sent), what a cumulative ACK removes, the pipe, and the holes
 * NextSeg resends. Sequence numbers wrap modulo 2^32; each case runs at a
 * base near the wrap too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyTcpOptions, type TcpOptions } from '../../wire/tcp.ts';
import { Scoreboard } from './sack.ts';

const blocks = (...b: number[]): TcpOptions => {
  const o = emptyTcpOptions();
  for (let i = 0; i < b.length; i++) o.sack[i] = b[i]! >>> 0;
  o.sackCount = b.length / 2;
  return o;
};

for (const base of [0, 0xffffe000]) {
  const at = (n: number): number => (base + n) >>> 0;
  const rel = (a: readonly number[]): number[] => a.map((x) => (x - base) >>> 0);
  const sb = (una: number, max: number, ...b: number[]): Scoreboard => {
    const s = new Scoreboard();
    s.update(blocks(...b.map(at)), at(una), at(max));
    return s;
  };
  const add = (s: Scoreboard, una: number, max: number, ...b: number[]): void => s.update(blocks(...b.map(at)), at(una), at(max));
  const name = (t: string): string => `${t} (base 0x${base.toString(16)})`;

  test(name('RFC 2018 §3: blocks are kept sorted, whatever order they come in'), () => {
    const s = sb(0, 10000, 7000, 8000, 3000, 5000);
    assert.deepEqual(rel(s.ranges), [3000, 5000, 7000, 8000]);
    add(s, 0, 10000, 5500, 6000);
    assert.deepEqual(rel(s.ranges), [3000, 5000, 5500, 6000, 7000, 8000]);
    add(s, 0, 10000, 1000, 2000);
    assert.deepEqual(rel(s.ranges), [1000, 2000, 3000, 5000, 5500, 6000, 7000, 8000]);
    add(s, 0, 10000, 9000, 9500);
    assert.deepEqual(rel(s.ranges), [1000, 2000, 3000, 5000, 5500, 6000, 7000, 8000, 9000, 9500]);
    assert.equal(s.empty, false);
  });

  test(name('ranges that touch are merged; ranges one octet apart are not'), () => {
    const s = sb(0, 10000, 1000, 2000, 2000, 3000);
    assert.deepEqual(rel(s.ranges), [1000, 3000]);
    add(s, 0, 10000, 3001, 4000);
    assert.deepEqual(rel(s.ranges), [1000, 3000, 3001, 4000]);
    add(s, 0, 10000, 500, 1000);
    assert.deepEqual(rel(s.ranges), [500, 3000, 3001, 4000], 'touching on the left');
    add(s, 0, 10000, 4000, 4001);
    assert.deepEqual(rel(s.ranges), [500, 3000, 3001, 4001], 'touching on the right');
  });

  test(name('a block overlapping several ranges joins them all into one'), () => {
    const s = sb(0, 10000, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000);
    add(s, 0, 10000, 1500, 5500);
    assert.deepEqual(rel(s.ranges), [1000, 6000, 7000, 8000]);
    add(s, 0, 10000, 500, 9000);
    assert.deepEqual(rel(s.ranges), [500, 9000]);
    const t = sb(0, 10000, 1000, 2000, 3000, 4000, 5000, 6000);
    add(t, 0, 10000, 2000, 3000);
    assert.deepEqual(rel(t.ranges), [1000, 4000, 5000, 6000], 'a block that exactly fills a gap');
    add(t, 0, 10000, 3500, 5200);
    assert.deepEqual(rel(t.ranges), [1000, 6000]);
    const mid = sb(0, 10000, 100, 200, 300, 400, 500, 600, 700, 800);
    add(mid, 0, 10000, 900, 950);
    add(mid, 0, 10000, 350, 650);
    assert.deepEqual(rel(mid.ranges), [100, 200, 300, 650, 700, 800, 900, 950], 'a merge behind a range it leaves alone');
  });

  test(name('a block inside a range, or extending it on one side, keeps one range'), () => {
    const s = sb(0, 10000, 3000, 5000);
    add(s, 0, 10000, 3500, 4500);
    assert.deepEqual(rel(s.ranges), [3000, 5000]);
    add(s, 0, 10000, 4000, 5500);
    assert.deepEqual(rel(s.ranges), [3000, 5500]);
    add(s, 0, 10000, 2500, 3100);
    assert.deepEqual(rel(s.ranges), [2500, 5500]);
  });

  test(name('RFC 2018 §3: blocks are clamped to [SND.UNA, SND.MAX]; one wholly below SND.UNA (a D-SACK) or empty is ignored'), () => {
    const s = sb(1000, 9000, 500, 1500, 8500, 9999);
    assert.deepEqual(rel(s.ranges), [1000, 1500, 8500, 9000]);
    const d = sb(1000, 9000, 200, 900, 9500, 9800, 4000, 4000, 5000, 4000);
    assert.deepEqual(rel(d.ranges), [], 'below SND.UNA, beyond SND.MAX, empty, backwards');
    assert.equal(d.empty, true);
    const edge = sb(1000, 9000, 0, 1000, 9000, 9100);
    assert.deepEqual(rel(edge.ranges), [], 'ending at SND.UNA, starting at SND.MAX');
  });

  test(name('a cumulative ACK forgets the ranges it passed and trims the one it enters'), () => {
    const s = sb(0, 10000, 1000, 2000, 3000, 4000, 5000, 6000);
    add(s, 2000, 10000);
    assert.deepEqual(rel(s.ranges), [3000, 4000, 5000, 6000], 'an ACK at the end of a range passes it');
    add(s, 3500, 10000);
    assert.deepEqual(rel(s.ranges), [3500, 4000, 5000, 6000], 'inside a range: it starts at SND.UNA');
    add(s, 5000, 10000);
    assert.deepEqual(rel(s.ranges), [5000, 6000]);
    add(s, 7000, 10000);
    assert.deepEqual(rel(s.ranges), []);
    const c = sb(0, 10000, 1000, 2000);
    c.clear();
    assert.equal(c.empty, true, 'RFC 6675 §5.1: reneging clears it');
  });

  test(name('sackedBytes in all and below a point; sackedEnd, sackedStartAfter, highSacked'), () => {
    const s = sb(0, 10000, 3000, 5000, 7000, 8000);
    assert.equal(s.sackedBytes(), 3000);
    assert.equal(s.sackedBytes(at(4000)), 1000, 'part of the first');
    assert.equal(s.sackedBytes(at(3000)), 0, 'up to the start of the first');
    assert.equal(s.sackedBytes(at(7500)), 2500);
    assert.equal(s.sackedBytes(at(8000)), 3000);
    assert.equal(s.sackedBytes(at(9000)), 3000);
    assert.equal(s.sackedEnd(at(2999)), undefined);
    assert.equal(s.sackedEnd(at(3000)), at(5000));
    assert.equal(s.sackedEnd(at(4999)), at(5000));
    assert.equal(s.sackedEnd(at(5000)), undefined, 'the range ends before its right edge');
    assert.equal(s.sackedEnd(at(7000)), at(8000));
    assert.equal(s.sackedStartAfter(at(0)), at(3000));
    assert.equal(s.sackedStartAfter(at(3000)), at(7000), 'strictly after');
    assert.equal(s.sackedStartAfter(at(7000)), undefined);
    assert.equal(s.highSacked(at(0)), at(8000));
    assert.equal(new Scoreboard().highSacked(at(1234)), at(1234), 'SND.UNA when nothing is SACKed');
  });

  test(name('RFC 6675 §4 SetPipe: in flight, less SACKed, less the holes below the highest SACK, plus what of them was resent'), () => {
    const s = sb(0, 10000, 3000, 5000, 7000, 8000);
    s.highRxt = at(0); // Recovery starts with HighRxt at SND.UNA.
    assert.equal(s.pipe(at(0), at(10000)), 2000, 'only 8000-10000, above every SACK, is in flight');
    s.highRxt = at(1000);
    assert.equal(s.pipe(at(0), at(10000)), 3000, '0-1000 resent');
    s.highRxt = at(6000);
    assert.equal(s.pipe(at(0), at(10000)), 6000, 'the holes 0-3000 and 5000-6000 resent');
    s.highRxt = at(9000);
    assert.equal(s.pipe(at(0), at(10000)), 7000, 'resent counts only up to the highest SACK');
    const none = new Scoreboard();
    none.highRxt = at(0);
    assert.equal(none.pipe(at(0), at(4000)), 4000, 'nothing SACKed: everything is in flight');
  });

  test(name('RFC 6675 §4 NextSeg rule 1: the first hole at or above a point, below the highest SACK, a segment at most'), () => {
    const s = sb(0, 10000, 3000, 5000, 7000, 8000);
    const hole = (from: number, una = 0): [number, number] | false =>
      s.nextHole(at(from), at(una), 1460) ? [(s.holeSeq - base) >>> 0, s.holeLen] : false;
    assert.deepEqual(hole(0), [0, 1460]);
    assert.deepEqual(hole(1460), [1460, 1460]);
    assert.deepEqual(hole(2920), [2920, 80], 'cut at the SACKed range');
    assert.deepEqual(hole(3000), [5000, 1460], 'from inside a range: the next hole');
    assert.deepEqual(hole(6500), [6500, 500]);
    assert.equal(hole(7000), false, 'nothing below the highest SACK is left');
    assert.equal(hole(9000), false);
    assert.deepEqual(hole(0, 2000), [2000, 1000], 'never below SND.UNA');
    assert.equal(new Scoreboard().nextHole(at(0), at(0), 1460), false, 'no SACK, no hole');
  });
}
