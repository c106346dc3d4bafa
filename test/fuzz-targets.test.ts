/**
 * Every fuzz target of `npm run fuzz` (bench/fuzz), briefly: its corpus
 * replayed (seeds and every crash found so far, each a regression test),
 * then mutated and random inputs for a fraction of a second. The seed is
 * printed; FC_SEED=N replays it. A failure names the crash file and the
 * command that replays it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CORPUS, corpus, fuzz, replay, TARGETS } from '../bench/fuzz/run.ts';
import { nextInput, records, joinRecords, Rng } from '../bench/fuzz/mutate.ts';
import { stackTarget } from '../bench/fuzz/stack-targets.ts';
import { makeTlsTarget } from '../bench/fuzz/tls-target.ts';
import type { Target } from '../bench/fuzz/target.ts';

const SEED = Number(process.env.FC_SEED ?? 20261201) >>> 0;
process.stdout.write(`# fuzz seed ${SEED} (FC_SEED=${SEED} to replay)\n`);

// First in the file: V8 counts blocks only in functions compiled after coverage started.
test('coverage guidance: an input down a new path of src/ counts new blocks, the same input again none', async () => {
  const { CoverageGuide } = await import('../bench/fuzz/coverage.ts');
  const { parseBootArgs } = await import('../src/runtime/args.ts');
  const g = new CoverageGuide('/src/runtime/args.ts');
  try {
    parseBootArgs(['--help'], {});
    g.take();
    parseBootArgs(['--help'], {});
    assert.equal(g.take(), 0, 'nothing new');
    const r = parseBootArgs(['--ipv4=10.0.0.2/24', '--ipv4-gateway=10.0.0.1'], {});
    assert.ok(!('error' in r));
    const fresh = g.take();
    assert.ok(fresh > 0, `the address branches are new blocks (${fresh})`);
    parseBootArgs(['--ipv4=10.0.0.2/24', '--ipv4-gateway=10.0.0.1'], {});
    assert.equal(g.take(), 0);
  } finally {
    g.stop();
  }
});

test('every target has a corpus in the repository, and the harness knows the inputs the issue names', () => {
  const names = TARGETS.map((t) => t.name);
  for (const n of ['ethernet', 'arp', 'ipv4', 'icmpv4', 'udp', 'tcp', 'dns', 'dhcp', 'http-parser', 'http-server', 'dns-zone'])
    assert.ok(names.includes(n), n);
  for (const n of ['dns-server', 'dhcp-server', 'boot-args', 'manifest', 'image', 'tcp-conn', 'stack', 'tls'])
    assert.ok(names.includes(n), n);
  for (const t of TARGETS) {
    const dir = new URL(`${t.name}/`, CORPUS);
    assert.ok(existsSync(dir) && readdirSync(dir).length > 0, `bench/fuzz/corpus/${t.name}/ holds inputs`);
  }
});

test('each target: its corpus, then mutated and random inputs, never fail the oracle', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fata-fuzz-'));
  try {
    for (const t of TARGETS) {
      const n = corpus(t).length;
      const r = await fuzz(t, { runs: n + 2000, seconds: 0.3, seed: SEED, crashDir: pathToFileURL(`${dir}/`) });
      assert.ok(!r.crash, r.crash && `${t.name}: ${r.crash.error}\n  replay: npm run fuzz -- --replay ${r.crash.file}`);
      assert.ok(r.inputs > n, `${t.name}: ${r.inputs} inputs, past its ${n} corpus entries`);
      process.stdout.write(`# ${t.name}: ${r.inputs} inputs in ${Math.round(r.ms)} ms\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failing input is caught, saved with its seed and replay command, and replays', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fata-fuzz-'));
  try {
    // A planted bug: a "parser" that throws on a length field of 0xffff, which only a mutation of its seed reaches.
    const planted: Target = {
      name: 'planted',
      maxLen: 64,
      seeds: () => [Uint8Array.of(0, 4, 1, 2, 3, 4)],
      run: (b) => {
        if (b.length >= 2 && b[0] === 0xff && b[1] === 0xff) throw new RangeError('length 65535');
      },
    };
    const r = await fuzz(planted, { runs: 200_000, seconds: 20, seed: SEED, crashDir: pathToFileURL(`${dir}/`) });
    assert.ok(r.crash, `not found in ${r.inputs} inputs`);
    assert.match(r.crash.error, /RangeError: length 65535/);
    const saved = JSON.parse(readFileSync(r.crash.file, 'utf8')) as Record<string, unknown>;
    assert.equal(saved.seed, SEED);
    assert.equal(saved.replay, `npm run fuzz -- --replay ${r.crash.file}`);
    assert.match((await replay(r.crash.file, [planted])) ?? '', /length 65535/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the live stack's drop accounting fails on a frame swallowed uncounted, or counted twice, and passes on the stack as it is", () => {
  const udpSeed = stackTarget().seeds().at(-1)!; // datagrams to the UDP echo port
  stackTarget().run(udpSeed);
  // Planted: UDP takes the datagram and neither delivers nor counts it.
  const swallowed = stackTarget((s) => {
    s.udp.receive = () => {};
  });
  assert.throws(() => swallowed.run(udpSeed), /neither consumed nor counted under a drop reason/);
  // Planted: UDP counts one datagram under two reasons.
  const twice = stackTarget((s) => {
    s.udp.receive = () => {
      s.udp.drops.length++;
      s.udp.drops.checksum++;
    };
  });
  assert.throws(() => twice.run(udpSeed), /counted under 2 drop reasons \(udp\.length, udp\.checksum\)/);
  // Planted: a frame dropped and counted by a layer that also keeps no state: fine (the count is the accounting).
  const counted = stackTarget((s) => {
    s.udp.receive = () => void s.udp.drops['no-socket']++;
  });
  counted.run(udpSeed);
});

test('the TLS target fails when the adapter never closes its TCP connection, and passes with it as it is', async () => {
  const hello = makeTlsTarget().seeds()[0]!; // a TLS 1.3 ClientHello, then the peer's FIN
  await makeTlsTarget().run(hello);
  // Planted: the stream under TLS ignores end(), close() and destroy(), as an adapter that leaks connections would.
  const leaky = makeTlsTarget((tcp) => ({ ...tcp, end: () => {}, close: () => {}, destroy: () => {} }));
  await assert.rejects(leaky.run(hello) as Promise<void>, /the server's TCP connection ended|the HTTP server let the connection go/);
});

test('the mutator: the same seed gives the same inputs, within the length bound; records round trip', () => {
  const pool = [Uint8Array.of(1, 2, 3), new Uint8Array(100)];
  const a = new Rng(7),
    b = new Rng(7);
  for (let i = 0; i < 500; i++) {
    const x = nextInput(pool, a, 50);
    assert.deepEqual(x, nextInput(pool, b, 50));
    assert.ok(x.length <= 50);
  }
  const parts = [Uint8Array.of(1), new Uint8Array(0), new Uint8Array(300).fill(9)];
  assert.deepEqual(records(joinRecords(parts)), parts);
});
