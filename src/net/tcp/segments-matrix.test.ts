/**
 * RFC 9293 §3.10.7.4 as a matrix: every state past the handshake × the same
 * crafted segments (SYN, RST exact / in the window / outside it, a segment
 * outside the window, an ACK of data never sent, data after the peer's FIN),
 * each a case of its own: this segment in, exactly these segments out. See
 * segment-harness.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LOCAL_ISS, REMOTE_ISS, SegmentHarness, type SegOut } from './segment-harness.ts';
import type { TcpConnection } from './connection.ts';

const L = LOCAL_ISS + 1,
  R = REMOTE_ISS + 1,
  W = 65535;

interface State {
  name: string;
  make: (h: SegmentHarness) => TcpConnection;
  /** Our SND.MAX and RCV.NXT there. */
  snd: number;
  rcv: number;
  /** Whether the application has the connection (and hears of a reset). */
  app: boolean;
}

const STATES: State[] = [
  { name: 'SYN-RECEIVED', make: (h) => h.synReceived(), snd: L, rcv: R, app: false },
  { name: 'ESTABLISHED', make: (h) => h.established(), snd: L, rcv: R, app: true },
  { name: 'FIN-WAIT-1', make: (h) => h.finWait1(), snd: L + 1, rcv: R, app: true },
  { name: 'FIN-WAIT-2', make: (h) => h.finWait2(), snd: L + 1, rcv: R, app: true },
  { name: 'CLOSE-WAIT', make: (h) => h.closeWait(), snd: L, rcv: R + 1, app: true },
  { name: 'CLOSING', make: (h) => h.closing(), snd: L + 1, rcv: R + 1, app: true },
  { name: 'LAST-ACK', make: (h) => h.lastAck(), snd: L + 1, rcv: R + 1, app: true },
  { name: 'TIME-WAIT', make: (h) => h.timeWait(), snd: L + 1, rcv: R + 1, app: false },
];

const ackOf = (s: State): SegOut => ({ flags: '.', seq: s.snd, ack: s.rcv, window: W, len: 0 });

function setup(s: State): { h: SegmentHarness; c: TcpConnection } {
  const h = new SegmentHarness();
  const c = s.make(h);
  assert.equal(c.state, s.name);
  h.events.length = 0;
  return { h, c };
}

for (const s of STATES) {
  test(`${s.name}: RST at RCV.NXT closes the connection; nothing is sent (§3.10.7.4, RFC 5961 §3.2)`, () => {
    const { h, c } = setup(s);
    h.send({ seq: s.rcv, flags: 'R' });
    assert.deepEqual(h.recv(), []);
    assert.equal(c.state, 'CLOSED');
    assert.equal(h.tcp.connectionCount, 0);
    assert.deepEqual(h.events, s.app && s.name !== 'TIME-WAIT' ? ['close reset'] : []);
  });

  test(`${s.name}: RST in the window, not at RCV.NXT: challenge ACK, state unchanged (RFC 5961 §3.2)`, () => {
    const { h, c } = setup(s);
    h.send({ seq: s.rcv + 1, flags: 'R' });
    assert.deepEqual(h.recv(), [ackOf(s)]);
    assert.equal(c.state, s.name);
  });

  test(`${s.name}: RST outside the window: dropped silently (RFC 5961 §3.2)`, () => {
    const { h, c } = setup(s);
    h.send({ seq: s.rcv + 100_000, flags: 'R' });
    assert.deepEqual(h.recv(), []);
    assert.equal(c.state, s.name);
  });

  test(`${s.name}: a segment outside the window is answered with an ACK and dropped (§3.10.7.4)`, () => {
    const { h, c } = setup(s);
    h.send({ seq: s.rcv + 100_000, ack: s.snd, flags: 'P.', payload: 10 });
    assert.deepEqual(h.recv(), [ackOf(s)]);
    assert.equal(c.state, s.name);
    assert.deepEqual(h.events, []);
  });

  if (s.name !== 'SYN-RECEIVED') {
    // SYN-RECEIVED answers these with RST or a challenge of its own (see segments-rfc9293.test.ts).
    test(`${s.name}: a SYN at RCV.NXT draws a challenge ACK and changes nothing (§3.10.7.4 fourth, RFC 5961 §4.2)`, () => {
      const { h, c } = setup(s);
      h.send({ seq: s.rcv, flags: 'S', mss: 1460 });
      assert.deepEqual(h.recv(), [ackOf(s)]);
      assert.equal(c.state, s.name);
    });

    test(`${s.name}: an ACK of data never sent is answered with an ACK and the segment dropped (§3.10.7.4 fifth)`, () => {
      const { h, c } = setup(s);
      h.send({ seq: s.rcv, ack: s.snd + 1, flags: 'F.' });
      assert.deepEqual(h.recv(), [ackOf(s)]);
      assert.equal(c.state, s.name);
    });

    test(`${s.name}: a segment without ACK is dropped silently (§3.10.7.4 fifth)`, () => {
      const { h, c } = setup(s);
      h.send({ seq: s.rcv, flags: 'F' });
      assert.deepEqual(h.recv(), []);
      assert.equal(c.state, s.name);
    });
  }

  if (s.rcv === R + 1 && s.name !== 'TIME-WAIT') {
    test(`${s.name}: data after the peer's FIN is ignored and ACKed (§3.10.7.4 seventh)`, () => {
      const { h, c } = setup(s);
      h.send({ seq: s.rcv, ack: L, flags: 'P.', payload: 10 }); // not acknowledging our FIN, if sent
      assert.deepEqual(h.recv(), [ackOf(s)]);
      assert.deepEqual(h.events, []);
      assert.equal(c.state, s.name);
    });
  }
}
