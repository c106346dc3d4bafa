/**
 * Properties over many crafted segment sequences (fast-check, seeded; the
 * seed is printed on failure): whatever order, overlap and duplication the
 * peer's data arrives in, the application gets the stream exactly, and the
 * stack never acknowledges a byte it does not hold; a soup of hostile
 * segments never throws nor makes the stack ACK beyond what it received.
 * See segment-harness.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fill, LOCAL_ISS, MS, REMOTE_ISS, SegmentHarness } from './segment-harness.ts';

const L = LOCAL_ISS + 1,
  R = REMOTE_ISS + 1;
const SEED = Number(process.env.FC_SEED ?? 20260101);

function check<T>(name: string, arb: fc.Arbitrary<T>, body: (v: T) => void, numRuns: number): void {
  try {
    fc.assert(fc.property(arb, body), { seed: SEED, numRuns });
  } catch (e) {
    process.stdout.write(`# ${name}: failed with seed ${SEED} (rerun with FC_SEED=${SEED})\n`);
    throw e;
  }
}

/** A piece of the peer's stream: bytes [off, off + len) with byte value (offset & 0xff). */
const piece = (total: number) => fc.record({ off: fc.nat(total - 1), len: fc.integer({ min: 1, max: 1500 }), gap: fc.nat(30) });

test('property: data in any order, overlapping and duplicated, reaches the application exactly once, in order', () => {
  const TOTAL = 6000;
  const arb = fc.record({
    pieces: fc.array(piece(TOTAL), { minLength: 1, maxLength: 40 }),
    sack: fc.boolean(),
    paused: fc.boolean(),
  });
  check(
    'stream reassembly',
    arb,
    ({ pieces, sack, paused }) => {
      const h = new SegmentHarness();
      const c = h.established({}, sack ? { sackPermitted: true } : {});
      if (paused) c.pause();
      let acked = R;
      const send = (off: number, len: number): void => {
        const n = Math.min(len, TOTAL - off);
        if (n <= 0) return;
        h.send({ seq: R + off, ack: L, flags: '.', payload: fill(n, off) });
        for (const s of h.recv()) {
          assert.ok(((s.ack - acked) | 0) >= 0, 'the ACK never goes back');
          acked = s.ack;
        }
      };
      for (const p of pieces) {
        send(p.off, p.len);
        h.advance(BigInt(p.gap) * MS);
      }
      // The peer's retransmissions fill whatever is still missing, in order.
      for (let off = 0; off < TOTAL; off += 1000) send(off, 1000);
      h.advance(100n * MS);
      for (const s of h.recv()) acked = s.ack;
      if (paused) c.resume();
      assert.equal(h.received.length, TOTAL);
      for (let i = 0; i < TOTAL; i++) if (h.received[i] !== (i & 0xff)) assert.fail(`byte ${i} is ${h.received[i]}`);
      assert.equal(acked, R + TOTAL, 'everything is ACKed, no more');
    },
    300,
  );
});

test('property: hostile segments (any flags, sequence and ACK numbers near the windows) never throw, nor draw an ACK beyond what was received', () => {
  const seg = fc.record({
    flags: fc.constantFrom('.', 'P.', 'F.', 'R', 'R.', 'S', 'S.', 'FP.', 'F', 'P', ''),
    dseq: fc.integer({ min: -70_000, max: 70_000 }),
    dack: fc.integer({ min: -70_000, max: 3000 }),
    len: fc.nat(1600),
    window: fc.nat(65535),
    gap: fc.nat(300),
  });
  const arb = fc.record({ segs: fc.array(seg, { maxLength: 30 }), writes: fc.nat(5000), ts: fc.boolean() });
  check(
    'hostile segments',
    arb,
    ({ segs, writes, ts }) => {
      const h = new SegmentHarness();
      const c = h.established({}, ts ? { ts: [100, 0], sackPermitted: true } : {}, ts ? { ts: [100, 0] } : {});
      if (writes > 0) c.write(new Uint8Array(writes));
      let tsVal = 101;
      for (const s of segs) {
        if (c.state === 'CLOSED') break; // A SYN now would open a new connection from the listener.
        const payload = s.flags.includes('S') || s.flags.includes('R') ? 0 : s.len;
        h.send({
          seq: R + h.received.length + s.dseq,
          ack: L + s.dack,
          flags: s.flags,
          window: s.window,
          payload,
          ...(ts ? { ts: [tsVal++, 0] as const } : {}),
        });
        h.advance(BigInt(s.gap) * MS);
        const got = h.received.length;
        for (const out of h.recv()) {
          if (out.flags.includes('R')) continue;
          const beyond = (out.ack - (R + got)) | 0;
          assert.ok(beyond === 0 || beyond === 1 || beyond < 0, `ACK ${out.ack - R} with ${got} bytes received`);
          assert.ok(((out.seq - L) | 0) >= -1 && ((out.seq - L) | 0) <= writes + 1, `seq ${out.seq - L} outside what we sent`);
        }
      }
      for (let i = 0; i < h.received.length; i++) if (h.received[i] === undefined) assert.fail('hole');
    },
    400,
  );
});
