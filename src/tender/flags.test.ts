import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseImpair } from './flags.ts';

test('impairments with units: percentages, times, rates, queue, seed; bare numbers keep their old meaning', () => {
  assert.deepEqual(parseImpair('delay=50ms,jitter=5ms,loss=1%,rate=100mbit,queue=200,seed=9'), {
    faults: { delayNs: 50_000_000n, jitterNs: 5_000_000n, loss: 0.01, rateBitsPerSec: 100e6, queueFrames: 200 },
    seed: 9,
  });
  assert.deepEqual(parseImpair('loss=0.01,delay=20'), { faults: { loss: 0.01, delayNs: 20_000_000n }, seed: 1 });
  assert.deepEqual(parseImpair('delay=250us,jitter=1s,rate=64kbit'), {
    faults: { delayNs: 250_000n, jitterNs: 1_000_000_000n, rateBitsPerSec: 64_000 },
    seed: 1,
  });
  assert.deepEqual(parseImpair('reorder=10%'), { faults: { reorderDelayNs: 2_000_000n, reorder: 0.1 }, seed: 1 });
  assert.deepEqual(parseImpair('rate=1gbit,duplicate=0.5,corrupt=100%'), {
    faults: { rateBitsPerSec: 1e9, duplicate: 0.5, corrupt: 1 },
    seed: 1,
  });
});

test('impairments that make no sense are refused with what to write', () => {
  const cases: [string, RegExp][] = [
    ['loss=101%', /a probability/],
    ['loss=2', /a probability/],
    ['loss=1ms', /a probability/],
    ['delay=5h', /a time in ms/],
    ['rate=0', /bits per second/],
    ['rate=10mbps', /bits per second/],
    ['queue=0', /whole number/],
    ['queue=1.5', /whole number/],
    ['seed=x', /NAME=NUMBER/],
    ['loss', /NAME=VALUE/],
    ['wobble=1', /unknown impairment 'wobble'/],
    ['loss=-1', /NAME=NUMBER/],
  ];
  for (const [text, why] of cases) {
    const r = parseImpair(text);
    assert.ok('error' in r, text);
    assert.match(r.error, why, text);
  }
});
