/**
 * The whole stack on untrusted frames: arbitrary and mutated frames fed
 * straight into a running stack never throw, never loop, and leave it
 * answering pings. Everything that is not a valid packet lands in a counter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mutatedFrame } from './fixtures/mutate.ts';
import { equalBytes, ip, pattern, simNet } from './sim-helpers.ts';

test('arbitrary and mutated frames into a live stack: no throw, and it still answers', () => {
  const net = simNet(2, 11);
  const [a, b] = net.stacks;
  net.sched.run({ untilNs: 1_000_000n });
  let t = 1_000_000n;
  fc.assert(fc.property(fc.oneof(mutatedFrame, fc.uint8Array({ maxLength: 1600 })), (f) => {
    // Address the frame to the stack so that it climbs past the Ethernet filter.
    if (f.length >= 6 && (f[0]! & 1) === 0) f.set(b!.ethernet.mac, 0);
    b!.ethernet.input(f);
    t += 1_000_000n;
    net.sched.run({ untilNs: t, maxSteps: 1_000_000 });
  }), { numRuns: 3000, seed: 20261122 });
  // The corpus holds the kernel's real ARP request from 10.0.0.1, which rightly repoints b's
  // cache entry for 10.0.0.1 (RFC 826 merge); let that spoofed entry age out first.
  t += 61_000_000_000n;
  net.sched.run({ untilNs: t });
  let replies = 0;
  a!.icmp.onEchoReply((r) => { if (equalBytes(r.data, pattern(100))) replies++; });
  for (let seq = 0; seq < 3; seq++) a!.icmp.ping(ip('10.0.0.2'), 9, seq, pattern(100));
  net.sched.run({ untilNs: t + 1_000_000_000n });
  assert.equal(replies, 3);
  const drops = b!.drops();
  assert.ok(Object.keys(drops).length >= 5, `drops by reason: ${JSON.stringify(drops)}`);
  assert.ok(b!.ipv4.reassembly.bytesHeld <= 4 * 1024 * 1024);
});
