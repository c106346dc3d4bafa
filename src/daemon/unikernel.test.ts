/**
 * The supervisor's restart policy, without root or engines: a stand-in tender (a shell script taking `fata run`'s
 * arguments) exits with the code and after the time a plan in its boot arguments gives for each run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RestartPolicy } from './protocol.ts';
import type { UnikernelRecord } from './state.ts';
import { type SupervisorOptions, Unikernel } from './unikernel.ts';

/** Run N (counted in --count=FILE) sleeps MS and exits with CODE, as the Nth `CODE:MS` of --plan= says (the last one after). */
const STAND_IN = `#!/bin/sh
for a; do case $a in --count=*) f=\${a#--count=};; --plan=*) plan=\${a#--plan=};; esac; done
n=$(( $(cat "$f" 2>/dev/null || echo 0) + 1 )); echo $n > "$f"
step=$(echo "$plan" | cut -d, -f$n); [ -n "$step" ] || step=\${plan##*,}
echo "run $n"
ms=\${step#*:}
if [ "$ms" != 0 ]; then trap 'kill $p; exit 143' TERM; sleep $(awk "BEGIN { print $ms / 1000 }") & p=$!; wait $p; fi
exit \${step%%:*}
`;

async function until<T>(what: string, f: () => T | false | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A supervisor of the stand-in with `plan`, and what it noted. */
function supervise(
  plan: string,
  restart: RestartPolicy,
  o: Partial<SupervisorOptions> & { maxRestarts?: number } = {},
): { u: Unikernel; notes: () => string[]; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'fata-supervisor-'));
  const tender = join(dir, 'tender');
  writeFileSync(tender, STAND_IN);
  chmodSync(tender, 0o755);
  const rec: UnikernelRecord = {
    name: 'u',
    id: 1,
    image: { path: join(dir, 'x.fata'), sha256: '0'.repeat(64), name: 'x', source: join(dir, 'x.fata') },
    nets: [],
    blocks: [],
    memMb: 64,
    restart,
    maxRestarts: o.maxRestarts ?? 0,
    bootArgs: [`--count=${join(dir, 'count')}`, `--plan=${plan}`],
    createdAt: Date.now(),
  };
  const u = new Unikernel(rec, {
    volumePath: (n) => join(dir, n),
    consoleBytes: 65536,
    backoffMs: 20,
    maxBackoffMs: 80,
    stableMs: 1000,
    stopGraceMs: 1000,
    tender,
    ...o,
  });
  const notes = (): string[] => u.ring.lines().flatMap((l) => (l.stream === 'fata' ? [l.text] : []));
  return { u, notes, done: () => rmSync(dir, { recursive: true, force: true }) };
}

const delays = (notes: string[]): number[] => notes.flatMap((n) => /^restarting in (\d+) ms/.exec(n)?.[1] ?? []).map(Number);
const ON_ABORT: RestartPolicy = { kind: 'on-failure', codes: [255] };

test('restart on failure: the delay doubles up to its cap, and a run longer than the stable period starts it over', async () => {
  // Five quick aborts, one that runs 1.5 s (the stable period is 1 s), then quick ones again.
  const { u, notes, done } = supervise('255:0,255:0,255:0,255:0,255:0,255:1500,255:0', ON_ABORT);
  try {
    u.start();
    await until('seven restarts', () => delays(notes()).length >= 7);
    await u.destroy();
    assert.deepEqual(delays(notes()).slice(0, 7), [20, 40, 80, 80, 80, 20, 40]);
    assert.ok(notes().includes('restarting in 20 ms (restart 1 in a row)'));
  } finally {
    done();
  }
});

test('by default an abort restarts, exit 0 and exit 1 do not; --max-restarts ends a loop as failed', async () => {
  for (const [plan, state, restarts] of [
    ['1:0', 'stopped', 0],
    ['0:0', 'stopped', 0],
  ] as const) {
    const { u, notes, done } = supervise(plan, ON_ABORT);
    try {
      u.start();
      await until(`exit ${plan} noted`, () => notes().some((n) => n.startsWith('exited')));
      assert.equal(u.state, state);
      assert.equal(u.restarts, restarts);
    } finally {
      done();
    }
  }
  const { u, notes, done } = supervise('255:0', ON_ABORT, { maxRestarts: 2 });
  try {
    u.start();
    await until('failed', () => u.state === 'failed');
    assert.equal(u.restarts, 2);
    assert.match(notes().at(-1)!, /not restarted: 2 restarts in a row reached the cap \(--max-restarts=2\)/);
  } finally {
    done();
  }
  const always = supervise('0:0,0:0,1:0', { kind: 'always' }, { maxRestarts: 2 });
  try {
    always.u.start();
    await until('always: failed after two', () => always.u.state === 'failed');
    assert.deepEqual(delays(always.notes()), [20, 40], '--restart=always restarts after 0 too');
  } finally {
    always.done();
  }
});

test('destroy wins over a pending restart and over a running tender, at once', async () => {
  // A restart due 400 ms after the abort: the destroy comes first, and nothing starts after it, even later.
  const { u, notes, done } = supervise('255:0', ON_ABORT, { backoffMs: 400, maxBackoffMs: 400 });
  try {
    u.start();
    await until('in backoff', () => u.state === 'backoff');
    await u.destroy();
    assert.equal(u.state, 'destroyed');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(notes().filter((n) => n.startsWith('started')).length, 1, 'the pending restart never happens');
    assert.equal(u.restarts, 0);
  } finally {
    done();
  }
  const running = supervise('0:60000', ON_ABORT);
  try {
    running.u.start();
    await until('the stand-in runs', () => running.u.ring.lines().some((l) => l.text === 'run 1'));
    await running.u.destroy();
    assert.equal(running.u.state, 'destroyed');
    assert.match(running.notes().at(-1)!, /^exited: /, 'stopped by SIGTERM, its exit noted');
    assert.equal(running.u.pid, undefined);
  } finally {
    running.done();
  }
});
