/**
 * The out-of-order queue by itself (RFC 9293 §3.10.7.4, RFC 2018 §4): held
 * segments come back in sequence order once RCV.NXT reaches them, duplicates
 * are held once, the total is bounded, a FIN beyond RCV.NXT is remembered,
 * and the SACK blocks put the latest segment's block first, then the highest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reassembly } from './reassembly.ts';
import { fill } from './segment-harness.ts';

const taken = (r: Reassembly, rcvNxt: number): [number, number] | undefined => {
  const s = r.takeReady(rcvNxt >>> 0);
  return s && [s.seq, s.data.length];
};

for (const base of [1000, 0xfffffc00]) {
  const at = (n: number): number => (base + n) >>> 0;
  const rel = (a: number[]): number[] => a.map((x) => (x - base) >>> 0);
  const name = (t: string): string => `${t} (base 0x${base.toString(16)})`;

  test(name('held segments come back in sequence order, each once RCV.NXT reaches its start'), () => {
    const r = new Reassembly(100_000);
    assert.equal(r.empty, true);
    r.store(at(300), fill(100), false);
    r.store(at(100), fill(100), false);
    r.store(at(200), fill(100), false);
    assert.equal(r.empty, false);
    assert.equal(taken(r, at(99)), undefined, 'RCV.NXT short of the first');
    assert.deepEqual(taken(r, at(100)), [at(100), 100]);
    assert.equal(taken(r, at(199)), undefined);
    assert.deepEqual(taken(r, at(250)), [at(200), 100], 'RCV.NXT inside it: taken (the connection skips the overlap)');
    assert.deepEqual(taken(r, at(400)), [at(300), 100]);
    assert.equal(taken(r, at(1000)), undefined);
    assert.equal(r.empty, true);
  });

  test(name('the data is a copy: the frame it came in may be reused'), () => {
    const r = new Reassembly(1000);
    const frame = fill(10);
    r.store(at(0), frame, false);
    frame.fill(0);
    assert.deepEqual([...r.takeReady(at(0))!.data], [...fill(10)]);
  });

  test(name('a duplicate is held once; a longer segment at the same start is held as well'), () => {
    const r = new Reassembly(1000);
    r.store(at(0), fill(100), false);
    r.store(at(0), fill(100), false);
    r.store(at(0), fill(50), false);
    assert.deepEqual(taken(r, at(0)), [at(0), 100]);
    assert.equal(taken(r, at(100)), undefined, 'only one was held');
    r.store(at(0), fill(50), false);
    r.store(at(0), fill(100), false);
    assert.deepEqual(taken(r, at(0)), [at(0), 100], 'the longer one first');
    assert.deepEqual(taken(r, at(0)), [at(0), 50]);
  });

  test(name('at most `limit` bytes are held; a segment that would pass it is dropped, its FIN still noted'), () => {
    const r = new Reassembly(300);
    r.store(at(0), fill(200), false);
    r.store(at(500), fill(101), true);
    assert.equal(r.fin, at(601), 'the FIN sits after its data');
    r.store(at(300), fill(100), false);
    assert.deepEqual(taken(r, at(0)), [at(0), 200]);
    assert.deepEqual(taken(r, at(300)), [at(300), 100], 'exactly at the limit: held');
    assert.equal(taken(r, at(601)), undefined, 'the one past it was not');
    r.store(at(700), fill(300), false);
    assert.deepEqual(taken(r, at(700)), [at(700), 300], 'what was taken back no longer counts');
  });

  test(name('RFC 2018 §4: the block holding the latest segment first, then the others from the highest down'), () => {
    const r = new Reassembly(100_000);
    r.store(at(100), fill(100), false);
    r.store(at(500), fill(100), false);
    r.store(at(300), fill(100), false);
    assert.deepEqual(rel(r.sackBlocks(4)), [300, 400, 500, 600, 100, 200]);
    r.store(at(700), fill(100), false);
    assert.deepEqual(rel(r.sackBlocks(4)), [700, 800, 500, 600, 300, 400, 100, 200]);
    assert.deepEqual(rel(r.sackBlocks(3)), [700, 800, 500, 600, 300, 400], 'at most `max` blocks');
    r.store(at(150), fill(100), false);
    assert.deepEqual(rel(r.sackBlocks(2)), [100, 250, 700, 800], 'overlapping segments are one block');
    r.store(at(250), fill(50), false);
    assert.deepEqual(rel(r.sackBlocks(4)), [100, 400, 700, 800, 500, 600], 'touching segments are one block');
  });

  test(name('RFC 2018 §4: once the latest segment is taken back, the blocks are the rest, highest first'), () => {
    const r = new Reassembly(100_000);
    r.store(at(500), fill(100), false);
    r.store(at(300), fill(100), false);
    r.store(at(100), fill(100), false);
    assert.deepEqual(taken(r, at(100)), [at(100), 100]);
    assert.deepEqual(rel(r.sackBlocks(4)), [500, 600, 300, 400]);
  });

  test(name('a segment inside a held one adds nothing to its block'), () => {
    const r = new Reassembly(100_000);
    r.store(at(100), fill(200), false);
    r.store(at(150), fill(50), false);
    assert.deepEqual(rel(r.sackBlocks(4)), [100, 300]);
  });

  test(name('RFC 2018 §4: the latest segment at the end of its block still picks that block'), () => {
    const r = new Reassembly(100_000);
    r.store(at(100), fill(100), false);
    r.store(at(500), fill(100), false);
    r.store(at(199), fill(1), false);
    assert.deepEqual(rel(r.sackBlocks(4)), [100, 200, 500, 600]);
    r.store(at(600), fill(50), false);
    assert.deepEqual(rel(r.sackBlocks(1)), [500, 650]);
  });
}
