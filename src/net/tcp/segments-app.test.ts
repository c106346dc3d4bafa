/**
 * Application callbacks against the segments they cause: a callback runs once
 * the segment that raised it has been processed in full (RCV.NXT, the state,
 * the delayed-ACK bookkeeping), never in the middle of it, so what the
 * application sends from it carries the ACK of everything that segment held
 * and no redundant pure ACK follows. See segment-harness.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LOCAL_ISS, MS, REMOTE_ISS, S, SegmentHarness } from './segment-harness.ts';

const L = LOCAL_ISS + 1,
  R = REMOTE_ISS + 1,
  W = 65535;

test('a response written from onData carries the ACK; no pure ACK follows it', () => {
  const h = new SegmentHarness();
  const c = h.established();
  h.hook(c, {
    onData: (d) => {
      c.write(d);
    },
  });
  h.send({ seq: R, ack: L, flags: 'P.', payload: 5 });
  h.advance(100n * MS); // past the delayed-ACK time, short of the RTO
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L, ack: R + 5, window: W, len: 5 }]);
});

test('after a response from onData, the next request without one is ACKed after the delay, not at once', () => {
  // The ACK carried by the response acknowledged everything: the request that follows is the first
  // unacknowledged segment, not the second (RFC 9293 §3.8.6.3).
  const h = new SegmentHarness();
  const c = h.established();
  let respond = true;
  h.hook(c, {
    onData: (d) => {
      if (respond) c.write(d);
    },
  });
  h.send({ seq: R, ack: L, flags: 'P.', payload: 5 });
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L, ack: R + 5, window: W, len: 5 }]);
  respond = false;
  h.send({ seq: R + 5, ack: L + 5, flags: 'P.', payload: 5 });
  assert.deepEqual(h.recv(), []);
  h.advance(40n * MS);
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L + 5, ack: R + 10, window: W, len: 0 }]);
});

test('data and FIN in one segment: onData sees the whole segment processed; its response ACKs the FIN too', () => {
  const h = new SegmentHarness();
  const c = h.established();
  const seen: string[] = [];
  h.hook(c, {
    onData: (d) => {
      seen.push(c.state);
      c.write(d);
    },
  });
  h.send({ seq: R, ack: L, flags: 'FP.', payload: 5 });
  h.advance(100n * MS);
  assert.deepEqual(seen, ['CLOSE-WAIT']);
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L, ack: R + 6, window: W, len: 5 }]);
  assert.deepEqual(h.events, ['data 5', 'end']);
});

test('data and FIN in one segment, answered and closed from onData: LAST-ACK, not a simultaneous close', () => {
  const h = new SegmentHarness();
  const c = h.established();
  h.hook(c, {
    onData: (d) => {
      c.write(d);
      c.close();
    },
  });
  h.send({ seq: R, ack: L, flags: 'FP.', payload: 5 });
  // One segment: the answer, its FIN and the ACK of the peer's (what the callback queued leaves when it returns).
  assert.deepEqual(h.recv(), [{ flags: 'FP.', seq: L, ack: R + 6, window: W, len: 5 }]);
  assert.equal(c.state, 'LAST-ACK');
  h.send({ seq: R + 6, ack: L + 6, flags: '.' });
  assert.equal(c.state, 'CLOSED');
  assert.deepEqual(h.events, ['data 5', 'end', 'close undefined']);
  assert.deepEqual(h.recv(), []);
});

test('a response written from onEnd carries the ACK of the FIN; no pure ACK goes before it', () => {
  const h = new SegmentHarness();
  const c = h.established();
  h.hook(c, {
    onEnd: () => {
      c.write(new Uint8Array(3));
      c.close();
    },
  });
  h.send({ seq: R, ack: L, flags: 'F.' });
  assert.deepEqual(h.recv(), [{ flags: 'FP.', seq: L, ack: R + 1, window: W, len: 3 }]);
  assert.equal(c.state, 'LAST-ACK');
});

test('a response written and closed from onData leaves with its FIN in one segment (the peer must not close first)', () => {
  const h = new SegmentHarness();
  const c = h.established();
  h.hook(c, {
    onData: () => {
      c.write(new Uint8Array(300));
      c.close();
    },
  });
  h.send({ seq: R, ack: L, flags: 'P.', payload: 100 });
  assert.deepEqual(h.recv(), [{ flags: 'FP.', seq: L, ack: R + 100, window: W, len: 300 }]);
  assert.equal(c.state, 'FIN-WAIT-1');
});

test('outside a callback, a write goes at once (nothing waits for a close that may never come)', () => {
  const h = new SegmentHarness();
  const c = h.established();
  c.write(new Uint8Array(10));
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L, ack: R, window: W, len: 10 }]);
});

test('a write from onConnection on the passive side goes out after the handshake completes, as data', () => {
  const h = new SegmentHarness();
  h.listen({}, true);
  h.tcp.listen(81, (c) => {
    c.write(new Uint8Array(7));
  });
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, dstPort: 81 });
  assert.equal(h.recv().length, 1);
  h.send({ seq: R, ack: L, flags: '.', dstPort: 81 });
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L, ack: R, window: W, len: 7 }]);
});

test('a response from onConnection to data on the third segment of the handshake carries its ACK', () => {
  const h = new SegmentHarness();
  h.tcp.listen(82, (c) => {
    c.events = {
      onData: (d) => {
        c.write(d);
      },
    };
  });
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, dstPort: 82 });
  h.recv();
  h.send({ seq: R, ack: L, flags: 'P.', payload: 4, dstPort: 82 });
  h.advance(100n * MS); // past the delayed-ACK time, short of the RTO
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L, ack: R + 4, window: W, len: 4 }]);
});

test('onConnect on the active side: data written there follows the ACK of the SYN-ACK', () => {
  const h = new SegmentHarness();
  const c = h.synSent();
  h.hook(c, {
    onConnect: () => {
      c.write(new Uint8Array(9));
    },
  });
  h.send({ seq: REMOTE_ISS, ack: L, flags: 'S.', mss: 1460 });
  assert.deepEqual(h.recv(), [
    { flags: '.', seq: L, ack: R, window: W, len: 0 },
    { flags: 'P.', seq: L, ack: R, window: W, len: 9 },
  ]);
});

test("pausing from onData keeps the rest of the segment's data queued, in order, and the window shows it", () => {
  const h = new SegmentHarness();
  const c = h.established({ receiveBuffer: 1000 });
  h.hook(c, {
    onData: () => {
      c.pause();
    },
  });
  h.send({ seq: R + 100, ack: L, flags: '.', payload: 100 }); // out of order, held
  h.recv();
  h.send({ seq: R, ack: L, flags: '.', payload: 100 }); // fills the gap: two chunks for the application
  assert.deepEqual(h.events, ['data 100'], 'paused after the first');
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 200, window: 900, len: 0 }]);
  h.hook(c, {});
  c.resume();
  assert.deepEqual(h.events, ['data 100', 'data 100']);
  assert.deepEqual(h.received.slice(0, 3), [0, 1, 2]);
  assert.deepEqual(h.received.slice(100, 103), [0, 1, 2]);
});

test('onDrain runs once the ACK is processed; what it writes goes out in the same turn', () => {
  const h = new SegmentHarness();
  const c = h.established({ sendBuffer: 1000 });
  assert.equal(c.write(new Uint8Array(1500)), 1000);
  h.recv();
  let more = true;
  c.events = {
    onDrain: () => {
      if (more) {
        more = false;
        c.write(new Uint8Array(500));
      }
    },
  };
  h.send({ seq: R, ack: L + 1000, flags: '.' });
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L + 1000, ack: R, window: W, len: 500 }]);
});

test('aborting from onData sends one RST; the segments after it find no connection', () => {
  const h = new SegmentHarness();
  const c = h.established();
  h.hook(c, {
    onData: () => {
      c.abort();
    },
  });
  h.send({ seq: R, ack: L, flags: 'P.', payload: 5 });
  h.send({ seq: R + 5, ack: L, flags: 'P.', payload: 5 });
  h.advance(1n * S);
  assert.deepEqual(h.recv(), [
    { flags: 'R', seq: L, ack: 0, window: 0, len: 0 }, // the abort
    { flags: 'R', seq: L, ack: 0, window: 0, len: 0 }, // the second segment finds no connection (§3.10.7.1)
  ]);
  assert.equal(c.state, 'CLOSED');
});

test('a RST reaches the application as onClose after the segment is processed', () => {
  const h = new SegmentHarness();
  const c = h.established();
  let stateSeen = '';
  c.events = {
    onClose: () => {
      stateSeen = c.state;
    },
  };
  h.send({ seq: R, flags: 'R' });
  assert.equal(stateSeen, 'CLOSED');
  assert.equal(h.tcp.connectionCount, 0);
});

/** Sends as much as the windows allow and ACKs each segment, `rounds` times (slow start doubles cwnd each round). */
function growCwnd(h: SegmentHarness, c: ReturnType<SegmentHarness['established']>, rounds: number): void {
  for (let i = 0; i < rounds; i++) {
    if (c.sendBufferFree > 0) c.write(new Uint8Array(c.sendBufferFree));
    const sent = h.recv();
    h.advance(MS);
    for (const s of sent) h.send({ seq: R, ack: s.seq + s.len, flags: '.', window: 65535 });
  }
}

test('the send buffer follows the congestion window: twice cwnd, from 64 KiB up to maxSendBuffer', () => {
  const h = new SegmentHarness();
  const c = h.established({}, { wscale: 7 });
  assert.equal(c.sendBufferFree, 64 * 1024, 'the initial bound');
  assert.equal(c.memoryBytes, 0, 'no memory before data');
  growCwnd(h, c, 6);
  const cwnd = c.cc.cwnd;
  assert.ok(cwnd > 128 * 1024 && cwnd < 1 << 20, `slow start grew cwnd (${cwnd})`);
  let doubling = 64 * 1024;
  while (doubling < 2 * cwnd) doubling *= 2;
  // In doublings of 64 KiB, so that the queue's buffer is reallocated (and copied) only when its bound doubles.
  assert.equal(c.bufferedSend + c.sendBufferFree, doubling, 'at least twice cwnd, in doublings');
  growCwnd(h, c, 20);
  assert.equal(c.bufferedSend + c.sendBufferFree, 4 << 20, 'the default maximum');
});

test('a send buffer the application sized stays that size; maxSendBuffer bounds an auto-tuned one', () => {
  const fixed = new SegmentHarness();
  const a = fixed.established({ sendBuffer: 100_000 }, { wscale: 7 });
  growCwnd(fixed, a, 14);
  assert.ok(a.cc.cwnd > 100_000);
  assert.equal(a.bufferedSend + a.sendBufferFree, 100_000);
  const bounded = new SegmentHarness();
  const b = bounded.established({ maxSendBuffer: 512 * 1024 }, { wscale: 7 });
  growCwnd(bounded, b, 20);
  assert.equal(b.bufferedSend + b.sendBufferFree, 512 * 1024);
});
