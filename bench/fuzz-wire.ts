/**
 * A long fuzzing run of the properties the tests run briefly: arbitrary and
 * mutated frames through every parser and through a live stack. Bounded by
 * count; prints progress. `npm run fuzz -- 200000` (default 100000 runs each).
 */
import fc from 'fast-check';
import { mutatedFrame, parseAll } from '../test/fixtures/mutate.ts';
import { simNet } from '../test/sim-helpers.ts';

const runs = Number(process.argv[2] ?? 100_000);
if (!Number.isInteger(runs) || runs <= 0) {
  process.stderr.write('usage: npm run fuzz -- [RUNS]\n');
  process.exit(64);
}
const seed = Date.now() >>> 0;
process.stdout.write(`fuzz: ${runs} runs per property, seed ${seed} (pass it to fc.assert to replay a failure)\n`);
let done = 0;
const progress = (): void => {
  if (++done % 10_000 === 0) process.stdout.write(`  ${done} / ${runs * 3}\n`);
};
fc.assert(
  fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => {
    parseAll(b);
    progress();
  }),
  { numRuns: runs, seed },
);
fc.assert(
  fc.property(mutatedFrame, (f) => {
    parseAll(f);
    progress();
  }),
  { numRuns: runs, seed },
);
const net = simNet(2, seed);
const b = net.stacks[1]!;
let t = 0n;
fc.assert(
  fc.property(fc.oneof(mutatedFrame, fc.uint8Array({ maxLength: 1600 })), (f) => {
    if (f.length >= 6 && (f[0]! & 1) === 0) f.set(b.ethernet.mac, 0);
    b.ethernet.input(f);
    t += 1_000_000n;
    net.sched.run({ untilNs: t, maxSteps: 1_000_000 });
    progress();
  }),
  { numRuns: runs, seed },
);
process.stdout.write(`fuzz: ok, ${done} inputs, stack drops ${JSON.stringify(b.drops())}\n`);
