/**
 * Loss recovery where the sequence space wraps and where duplicate ACKs
 * carry no loss signal, segment by segment (see segment-harness.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MS, REMOTE_ISS, SegmentHarness } from './segment-harness.ts';

const R = REMOTE_ISS + 1,
  W = 65535,
  M = 1460;

/** A passive open whose own ISS is `iss`. */
function establishedAt(iss: number, opts: { sack?: boolean } = {}, sackPermitted = false): SegmentHarness {
  const h = new SegmentHarness();
  h.random.value = iss;
  h.listen(opts);
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, ...(sackPermitted ? { sackPermitted: true } : {}) });
  assert.equal(h.recv()[0]?.seq, iss >>> 0);
  h.advance(1n * MS);
  h.send({ seq: R, ack: (iss + 1) >>> 0, flags: '.' });
  return h;
}

for (const iss of [0x07070707, 0x90000000, 0xfffffff0]) {
  test(`RFC 6582 §3.2: "recover" starts at the ISS, so the third duplicate ACK resends at once (ISS 0x${iss.toString(16)})`, () => {
    const h = establishedAt(iss, { sack: false });
    const L = (iss + 1) >>> 0;
    const c = h.only()!;
    c.noDelay = true;
    c.write(new Uint8Array(5 * M));
    assert.equal(h.recv().length, 5);
    for (let i = 0; i < 3; i++) h.send({ seq: R, ack: L, flags: '.' });
    assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: M }], 'fast retransmit, no timeout needed');
  });
}

test('RFC 6675 §2: with SACK, duplicate ACKs that SACK nothing new (a duplicated segment) resend nothing', () => {
  const h = establishedAt(0x07070707, {}, true);
  const L = 0x07070708;
  const c = h.only()!;
  c.noDelay = true;
  c.write(new Uint8Array(5 * M));
  assert.equal(h.recv().length, 5);
  for (let i = 0; i < 4; i++) h.send({ seq: R, ack: L, flags: '.' });
  assert.deepEqual(h.recv(), [], 'no loss signalled: nothing resent');
  // The same duplicates with blocks above a hole are a loss signal.
  h.send({ seq: R, ack: L, flags: '.', sack: [L + M, L + 2 * M] });
  h.send({ seq: R, ack: L, flags: '.', sack: [L + M, L + 3 * M] });
  h.send({ seq: R, ack: L, flags: '.', sack: [L + M, L + 4 * M] });
  assert.deepEqual(
    h.recv().map((s) => [s.seq, s.len]),
    [[L, M]],
    'the hole is resent',
  );
});
