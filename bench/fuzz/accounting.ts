/**
 * The live-stack targets' drop accounting: every frame a stack receives is
 * either dropped under exactly one reason of its drops() counters or
 * consumed, which shows as an effect the stack's own counters or state
 * record (a datagram delivered to a socket, a segment to a connection, a
 * fragment held, an answer sent or its send counted as a drop). A frame with
 * neither is a drop no counter saw; one with two reasons is counted twice.
 */
import assert from 'node:assert/strict';
import type { EthernetHandler } from '../../src/net/ethernet.ts';
import type { Stack } from '../../src/net/stack.ts';

/** Drop reasons of the transmit side and of time, not of the frame being received: they count as effects. */
const NOT_RX = new Set([
  'ethernet.rx-failed',
  'ethernet.tx-again',
  'ethernet.tx-invalid',
  'ethernet.tx-gone',
  'arp.queue-full',
  'arp.unresolved',
  'ipv4.no-address',
  'ipv4.no-route',
  'ipv4.frag-failed',
  'ipv4.frag-timeout',
  'ipv4.frag-evicted',
  'icmp.rate-limited',
]);

/** Counters that move when a frame is consumed (each a number; only changes matter). */
function effects(s: Stack, seen: { echoes: number; arp: number }): number[] {
  const r = s.ipv4.reassembly as unknown as { completed: number; datagramsHeld: number; pending: Map<string, { received: number }> };
  let fragBytes = 0;
  for (const p of r.pending.values()) fragBytes += p.received;
  const tcp = s.tcp;
  let errors = 0;
  for (const v of s.icmp.errorsReceived.values()) errors += v;
  return [
    // An ARP packet that passed its checks was consumed by RFC 826's merge: it may add or update an entry, or be answered.
    seen.arp,
    r.completed,
    r.datagramsHeld,
    fragBytes,
    s.icmp.echoRepliesSent,
    seen.echoes,
    errors,
    s.udp.rxDatagrams,
    tcp.counters.segmentsIn,
    tcp.rstsSent,
    tcp.cookiesSent,
    tcp.cookiesAccepted,
    tcp.connectionCount,
    s.ipv4.txDatagrams,
  ];
}

/** Per-reason totals of frames dropped, and frames in and consumed, over a run. */
export interface Ledger {
  framesIn: number;
  consumed: number;
  dropped: Record<string, number>;
}

/**
 * Wraps `s.ethernet.input` (which `poll` calls too) so that each frame is
 * classified as it is processed; throws when a frame is neither dropped under
 * one reason nor consumed. Returns the run's ledger.
 */
export function account(s: Stack): Ledger {
  const ledger: Ledger = { framesIn: 0, consumed: 0, dropped: {} };
  const seen = { echoes: 0, arp: 0 };
  s.icmp.onEchoReply(() => void seen.echoes++);
  const eth = s.ethernet;
  const handlers = (eth as unknown as { handlers: Map<number, EthernetHandler> }).handlers;
  const arp = handlers.get(0x0806);
  if (arp) {
    const before = (): number =>
      s.arp.drops.malformed + s.arp.drops.unsupported + s.arp.drops.conflict + s.arp.drops['looped-back'] + s.arp.drops['not-for-us'];
    handlers.set(0x0806, {
      receive: (buf, off, end, frame, verified) => {
        const d = before();
        arp.receive(buf, off, end, frame, verified);
        if (before() === d) seen.arp++;
      },
    });
  }
  const input = eth.input.bind(eth);
  // Every counter this frame moves, as `layer.reason` → change; and whether anything consumed it.
  eth.input = (frame: Uint8Array, len = frame.length, verified = false): void => {
    const before = s.drops();
    const fx = effects(s, seen);
    const rxBefore = eth.rxFrames;
    input(frame, len, verified);
    ledger.framesIn += eth.rxFrames - rxBefore;
    const after = s.drops();
    const rx: string[] = [];
    let tx = 0;
    for (const [k, v] of Object.entries(after)) {
      const d = v - (before[k] ?? 0);
      if (d === 0) continue;
      if (NOT_RX.has(k)) tx += d;
      else for (let i = 0; i < d; i++) rx.push(k);
    }
    const moved = effects(s, seen).some((v, i) => v !== fx[i]) || tx > 0;
    const hex = (): string => Buffer.from(frame.subarray(0, Math.min(len, 64))).toString('hex'); // only for a failure
    if (rx.length > 1) assert.fail(`one frame counted under ${rx.length} drop reasons (${rx.join(', ')}): ${hex()}`);
    if (rx.length === 1) ledger.dropped[rx[0]!] = (ledger.dropped[rx[0]!] ?? 0) + 1;
    else if (moved) ledger.consumed++;
    else assert.fail(`a frame was neither consumed nor counted under a drop reason (an uncounted drop): ${hex()}…`);
  };
  return ledger;
}

/** frames in = frames consumed + frames dropped, over the whole run. */
export function checkLedger(l: Ledger): void {
  const dropped = Object.values(l.dropped).reduce((a, b) => a + b, 0);
  assert.equal(l.framesIn, l.consumed + dropped, `${l.framesIn} frames in, ${l.consumed} consumed, ${dropped} dropped`);
}
