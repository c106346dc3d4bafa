/**
 * TCP segmentation offload on the simulated network: a sender behind
 * `SoftGso` (which cuts offloaded packets as the kernel does) moves data
 * byte-exact in 64 KB packets, clean and through loss, and without the
 * offload device the same stack sends plain segments.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createPipe, FaultInjector, SoftGso, type FaultOptions } from '../src/link/index.ts';
import { Stack } from '../src/net/index.ts';
import { Scheduler, SeededRandom } from '../src/sim/index.ts';
import { ip, pattern } from './sim-helpers.ts';

function transfer(size: number, faults: FaultOptions, seed: number, offload: boolean) {
  const sched = new Scheduler();
  const clock = sched.clock;
  const rnd = new SeededRandom(seed);
  const [pa, pb] = createPipe(Uint8Array.of(2, 0, 0, 0, 0, 1), Uint8Array.of(2, 0, 0, 0, 0, 2));
  const lossy = new FaultInjector(pa, clock, rnd.fork(), faults, faults);
  const gso = new SoftGso(lossy);
  const a = new Stack({ device: offload ? gso : lossy, clock, random: rnd.fork(), ipv4: { address: ip('10.0.0.1'), prefixLen: 24 } });
  const b = new Stack({ device: pb, clock, random: rnd.fork(), ipv4: { address: ip('10.0.0.2'), prefixLen: 24 } });
  for (const s of [a, b]) { sched.add(s); s.start(); }
  const data = pattern(size, 3);
  const h = createHash('sha256');
  let got = 0, done = false;
  b.tcp.listen(9, (c) => { c.events = { onData: (d) => { h.update(d); got += d.length; }, onEnd: () => { done = true; c.shutdown(); } }; });
  const c = a.tcp.connect(ip('10.0.0.2'), 9);
  let sent = 0;
  const pump = (): void => {
    while (sent < size) { const n = c.write(data.subarray(sent, Math.min(size, sent + 262144))); sent += n; if (!n) return; }
    c.shutdown();
  };
  c.events = { onConnect: pump, onDrain: pump };
  sched.run({ until: () => done, untilNs: 600_000_000_000n });
  return { got, same: h.digest('hex') === createHash('sha256').update(data).digest('hex'), gso: gso.counters, tcp: a.tcp.counters };
}

test('offloaded TCP: byte-exact in 64 KB packets, clean and with loss and reordering', () => {
  const clean = transfer(8_000_000, { delayNs: 1_000_000n }, 1, true);
  assert.equal(clean.got, 8_000_000);
  assert.ok(clean.same);
  assert.equal(clean.gso.badPartialChecksum, 0, 'every offloaded packet carried the pseudo-header sum');
  assert.ok(clean.tcp.offloadSends > 50, `offloaded ${clean.tcp.offloadSends} packets`);
  // Our receiver ACKs every second segment, so in steady state each ACK releases two; window growth releases more.
  assert.ok(clean.gso.largest >= 10, `one packet carried the initial window at least: ${JSON.stringify(clean.gso)}`);
  const lossy = transfer(4_000_000, { loss: 0.01, reorder: 0.05, delayNs: 5_000_000n }, 2, true);
  assert.equal(lossy.got, 4_000_000);
  assert.ok(lossy.same);
  assert.ok(lossy.tcp.retransmits > 0, 'the loss was felt');
  assert.ok(lossy.tcp.offloadSends > 0);
});

test('without an offload device the stack sends plain segments', () => {
  const r = transfer(1_000_000, { delayNs: 1_000_000n }, 3, false);
  assert.ok(r.same);
  assert.equal(r.tcp.offloadSends, 0);
  assert.equal(r.gso.offloaded, 0);
});
