/**
 * The whole stack on untrusted frames: arbitrary and mutated frames fed
 * straight into a running stack never throw, never loop, and leave it
 * answering pings, and keep reassembly within its bounds after every frame.
 * Everything that is not a valid packet lands in a counter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mutatedFrame } from './fixtures/mutate.ts';
import { equalBytes, ip, pattern, simNet } from './sim-helpers.ts';
import { emitIpv4 } from '../src/wire/ipv4.ts';

/**
 * A well-formed IPv4 fragment from 10.0.0.1 (right checksum, random
 * identification, offset up to 64000, 8 to 1480 bytes) so the fuzz reaches
 * reassembly with many distinct incomplete datagrams, each holding a buffer
 * as large as its furthest fragment. The destination MAC is filled in below.
 */
const fragment = fc
  .record({
    ident: fc.integer({ min: 0, max: 0xffff }),
    off8: fc.integer({ min: 0, max: 8000 }),
    len8: fc.integer({ min: 1, max: 185 }),
    more: fc.boolean(),
  })
  .map(({ ident, off8, len8, more }) => {
    const f = new Uint8Array(14 + 20 + len8 * 8);
    f.set([0x02, 0, 0, 0, 0, 0x01], 6);
    f[12] = 0x08;
    f[13] = 0x00;
    emitIpv4(
      {
        src: ip('10.0.0.1'),
        dst: ip('10.0.0.2'),
        protocol: 17,
        ttl: 64,
        ident,
        fragOffset: off8 * 8,
        moreFragments: more,
        payloadLen: len8 * 8,
      },
      f,
      14,
    );
    return f;
  });

/** fast-check's seed: FC_SEED to replay a failure. */
const SEED = Number(process.env.FC_SEED ?? 20261122);
process.stdout.write(`# fast-check seed ${SEED} (FC_SEED=${SEED} to replay)\n`);

test('arbitrary and mutated frames into a live stack: no throw, and it still answers', () => {
  const net = simNet(2, 11);
  const [a, b] = net.stacks;
  net.sched.run({ untilNs: 1_000_000n });
  let t = 1_000_000n;
  // Reassembly's defaults (64 datagrams, 4 MiB) hold after every frame, not only once everything has timed out.
  const r = b!.ipv4.reassembly;
  let peakDatagrams = 0,
    peakBytes = 0;
  fc.assert(
    fc.property(fc.oneof(mutatedFrame, fc.uint8Array({ maxLength: 1600 }), fragment), (f) => {
      // Address the frame to the stack so that it climbs past the Ethernet filter.
      if (f.length >= 6 && (f[0]! & 1) === 0) f.set(b!.ethernet.mac, 0);
      b!.ethernet.input(f);
      t += 1_000_000n;
      net.sched.run({ untilNs: t, maxSteps: 1_000_000 });
      assert.ok(r.datagramsHeld <= 64, `${r.datagramsHeld} datagrams held`);
      assert.ok(r.bytesHeld <= 4 * 1024 * 1024, `${r.bytesHeld} bytes held`);
      peakDatagrams = Math.max(peakDatagrams, r.datagramsHeld);
      peakBytes = Math.max(peakBytes, r.bytesHeld);
    }),
    { numRuns: 3000, seed: SEED },
  );
  process.stdout.write(`# reassembly peak: ${peakDatagrams} datagrams, ${peakBytes} bytes\n`);
  assert.equal(peakDatagrams, 64, 'the fuzz filled reassembly to its bound, so the bound was tested');
  assert.ok(r.drops['frag-evicted'] > 0, 'and went past it');
  // The corpus holds the kernel's real ARP request from 10.0.0.1, which rightly repoints b's
  // cache entry for 10.0.0.1 (RFC 826 merge); let that spoofed entry age out first.
  t += 61_000_000_000n;
  net.sched.run({ untilNs: t });
  let replies = 0;
  a!.icmp.onEchoReply((r) => {
    if (equalBytes(r.data, pattern(100))) replies++;
  });
  for (let seq = 0; seq < 3; seq++) a!.icmp.ping(ip('10.0.0.2'), 9, seq, pattern(100));
  net.sched.run({ untilNs: t + 1_000_000_000n });
  assert.equal(replies, 3);
  const drops = b!.drops();
  assert.ok(Object.keys(drops).length >= 5, `drops by reason: ${JSON.stringify(drops)}`);
  assert.equal(r.datagramsHeld, 0, 'every incomplete datagram timed out (30 s) and was freed');
  assert.equal(r.bytesHeld, 0);
});
