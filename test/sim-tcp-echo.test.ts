/** A TCP echo server that pauses its reader under back-pressure, against a client sending and reading at once. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { FaultOptions } from '../src/link/index.ts';
import { ip, pattern, simNet } from './sim-helpers.ts';

function echoRun(size: number, faults: FaultOptions, seed: number): { got: number; same: boolean } {
  const net = simNet(2, seed, faults);
  const [a, b] = net.stacks;
  b!.tcp.listen(
    7,
    (c) => {
      let pending: Uint8Array | undefined;
      const flush = (): void => {
        if (!pending) return;
        const n = c.write(pending);
        pending = n < pending.length ? pending.slice(n) : undefined;
        if (!pending) {
          c.resume();
          if (ended && !pending) c.shutdown();
        } // resume() may deliver more, and refill pending.
      };
      let ended = false;
      c.events = {
        onData: (d) => {
          if (pending) {
            const j = new Uint8Array(pending.length + d.length);
            j.set(pending);
            j.set(d, pending.length);
            pending = j;
            return;
          }
          const n = c.write(d);
          if (n < d.length) {
            pending = d.slice(n);
            c.pause();
          }
        },
        onDrain: flush,
        onEnd: () => {
          ended = true;
          if (!pending) c.shutdown();
        },
      };
    },
    { sendBuffer: 32768, receiveBuffer: 32768 },
  );
  const data = pattern(size, 5);
  const h = createHash('sha256');
  let got = 0,
    sent = 0,
    done = false;
  const c = a!.tcp.connect(ip('10.0.0.2'), 7);
  const pump = (): void => {
    while (sent < size) {
      const n = c.write(data.subarray(sent, Math.min(size, sent + 65536)));
      sent += n;
      if (!n) return;
    }
    c.shutdown();
  };
  c.events = {
    onConnect: pump,
    onDrain: pump,
    onData: (d) => {
      h.update(d);
      got += d.length;
    },
    onEnd: () => {
      done = true;
    },
  };
  net.sched.run({ until: () => done, untilNs: 600_000_000_000n });
  return { got, same: h.digest('hex') === createHash('sha256').update(data).digest('hex') };
}

test('echo of 2 MB through a back-pressured echo server, clean and lossy', () => {
  for (const [faults, seed] of [
    [{ delayNs: 1_000_000n }, 1],
    [{ loss: 0.02, reorder: 0.05, delayNs: 2_000_000n }, 2],
  ] as const) {
    const r = echoRun(2_000_000, faults, seed);
    assert.equal(r.got, 2_000_000, `seed ${seed}`);
    assert.ok(r.same);
  }
});
