/**
 * BBR (src/net/tcp/bbr.ts) between two Fata stacks on the simulated switch, in virtual time: the netsim
 * table's conditions under BBR (a snapshot beside CUBIC's), bulk transfers on lossy short and long paths,
 * the bottleneck queue on a clean path, and two flows sharing one link.
 *
 * Every link is test/sim-tcp.test.ts's: 100 Mbit/s from each host, a 1000-frame queue, the faults applied
 * where a frame leaves and where it arrives (so "1% loss" drops about 2% of the data and 2% of the ACKs;
 * corruption only where it arrives: see linkFor in sim-helpers.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { type FaultOptions, SoftGso } from '../src/link/index.ts';
import type { Stack, TcpConfig, TcpConnection } from '../src/net/index.ts';
import { bulkTransfer, ip, linkFor, NETSIM_LINK, pattern, simNet, type SimNet } from './sim-helpers.ts';

const MS = 1_000_000n,
  S = 1_000_000_000n;
const LINK = NETSIM_LINK;
const BBR: TcpConfig = { congestion: 'bbr' };

/** Frames waiting for, or on, host `i`'s outgoing link now (the simulated bottleneck's queue). */
function queued(net: SimNet, i: number): number {
  // The fault injector's transmit path keeps the finish times of what its link has taken; those not yet due are queued.
  const path = (net.faults[i] as unknown as { txPath: { sending: bigint[] } }).txPath;
  const now = net.sched.clock.monotonicNs();
  let n = 0;
  for (const t of path.sending) if (t > now) n++;
  return n;
}

interface Run {
  ok: boolean;
  mbps: number;
  retransmitted: number;
  timeouts: number;
  fast: number;
  /** The most frames queued at the sender's link over the whole transfer, and after `steadyAfterNs`. */
  maxQueue: number;
  steadyQueue: number;
  queueDrops: number;
  conn: TcpConnection;
}

/** 10.0.0.1 sends `size` bytes to a sink on 10.0.0.2:9 and closes; checks every byte, and samples the sender's queue. */
function bulk(net: SimNet, size: number, cfg: TcpConfig, steadyAfterNs = 0n): Run {
  const t0 = net.sched.clock.monotonicNs();
  let maxQueue = 0,
    steadyQueue = 0;
  const t = bulkTransfer(net, size, cfg, {
    salt: 5,
    limitS: 3600n,
    watch: () => {
      const q = queued(net, 0);
      if (q > maxQueue) maxQueue = q;
      if (q > steadyQueue && net.sched.clock.monotonicNs() - t0 >= steadyAfterNs) steadyQueue = q;
    },
  });
  const k = net.stacks[0]!.tcp.counters;
  return {
    ok: t.ok,
    mbps: (size * 8) / t.seconds / 1e6,
    retransmitted: k.bytesRetransmitted,
    timeouts: k.timeouts,
    fast: k.fastRetransmits,
    maxQueue,
    steadyQueue,
    queueDrops: net.faults[0]!.counters.queueDrops,
    conn: t.conn,
  };
}

/** test/sim-tcp.test.ts's conditions, row for row, with its links (linkFor). */
const CONDITIONS: [string, FaultOptions, TcpConfig?][] = [
  ['clean', { delayNs: 5n * MS }],
  ['1% loss', { loss: 0.01, delayNs: 5n * MS }],
  ['5% loss', { loss: 0.05, delayNs: 5n * MS }],
  ['10% loss', { loss: 0.1, delayNs: 5n * MS }],
  ['reordering 10%', { reorder: 0.1, delayNs: 5n * MS, reorderDelayNs: 3n * MS }],
  ['duplication 10%', { duplicate: 0.1, delayNs: 5n * MS }],
  ['corruption 2%', { corrupt: 0.02, delayNs: 5n * MS }],
  ['tiny windows (4 KiB)', { delayNs: 5n * MS }, { receiveBuffer: 4096, sendBuffer: 4096 }],
  ['no window scaling, no timestamps', { loss: 0.02, delayNs: 5n * MS }, { windowScaling: false, timestamps: false }],
  ['long path (100 ms RTT)', { delayNs: 25n * MS }],
  ['long path, fixed 64 KiB window', { delayNs: 25n * MS }, { receiveBuffer: 65536 }],
];

test('BBR: 10 MB under every condition of the netsim table arrives byte-exact (the BBR rows, snapshotted)', () => {
  const size = 10_000_000;
  const rows: string[] = [];
  for (const [name, faults, cfg] of CONDITIONS) {
    const r = bulk(simNet(2, 7, faults, 1500, linkFor(faults)), size, { ...BBR, ...cfg });
    rows.push(
      `${name.padEnd(34)} ${r.ok ? 'ok ' : 'BAD'} ${r.mbps.toFixed(2).padStart(8)} Mbit/s  retransmitted ${String(r.retransmitted).padStart(8)} B  ` +
        `timeouts ${String(r.timeouts).padStart(4)}  fast ${String(r.fast).padStart(4)}  most queued ${String(r.maxQueue).padStart(4)} frames`,
    );
    assert.ok(r.ok, `${name}: ${JSON.stringify({ ...r, conn: undefined })}`);
  }
  const table =
    'BBR (TcpConfig congestion: bbr), otherwise as test/snapshots/tcp-netsim.txt: 10 MB bulk transfer, 20 ms RTT, faults both ways (corruption only where a frame arrives), 100 Mbit/s links with 1000-frame queues, seed 7, virtual time (test/sim-tcp-bbr.test.ts)\n' +
    rows.join('\n') +
    '\n';
  const file = new URL('./snapshots/tcp-netsim-bbr.txt', import.meta.url);
  if (process.env.UPDATE_SNAPSHOTS === '1') writeFileSync(file, table);
  assert.equal(table, readFileSync(file, 'utf8'), 'the BBR throughput table changed: review it, then UPDATE_SNAPSHOTS=1');
});

test('BBR on lossy paths: 1% and 5% loss each way, 20 ms and 100 ms RTT, keep a large share of the 100 Mbit/s link', () => {
  // 40 MB so that the long path's start-up (about 2 s) does not dominate. Floors sit under the seed-7 results
  // (83.7, 70.7, 58.9, 32.4 Mbit/s); CUBIC's netsim rows at 20 ms are 3.85 and 0.68.
  const cases: [string, FaultOptions, number][] = [
    ['1% loss, 20 ms', { loss: 0.01, delayNs: 5n * MS }, 70],
    ['5% loss, 20 ms', { loss: 0.05, delayNs: 5n * MS }, 55],
    ['1% loss, 100 ms', { loss: 0.01, delayNs: 25n * MS }, 45],
    ['5% loss, 100 ms', { loss: 0.05, delayNs: 25n * MS }, 25],
  ];
  const seen: string[] = [];
  for (const [name, faults, floor] of cases) {
    const r = bulk(simNet(2, 7, faults, 1500, LINK), 40_000_000, BBR);
    seen.push(`${name}: ${r.mbps.toFixed(1)} Mbit/s, ${r.timeouts} timeouts`);
    assert.ok(r.ok, name);
    assert.ok(r.mbps >= floor, `${name}: ${r.mbps.toFixed(1)} Mbit/s < ${floor}`);
  }
  process.stdout.write(`# BBR, 40 MB: ${seen.join('; ')}\n`);
});

/** simNet's two hosts, but the sender offloads segmentation (software GSO, as on a tap): one record per 64 KB packet. */
function gsoNet(seed: number, faults: FaultOptions): SimNet {
  return simNet(2, seed, faults, 1500, LINK, { capture: false, device: (d, i) => (i === 0 ? new SoftGso(d) : d) });
}

test('BBR with segmentation offload (one record per packet of up to 64 KB) on a lossy 40 ms path keeps its rate', () => {
  // Found by bench/wan.ts through a real tap: 25 Mbit/s where the simulator, without offload, gave 60. Records of
  // whole packets partly resent or SACKed, and samples taken while the peer's window held data back in a recovery
  // (counted as path measurements, they ended STARTUP at 10 Mbit/s), were the causes.
  for (const [loss, floor] of [
    [0.01, 40],
    [0.05, 35],
  ] as const) {
    const r = bulk(gsoNet(7, { loss, delayNs: 10n * MS }), 10_000_000, BBR);
    process.stdout.write(`# offload, ${loss * 100}% loss, 40 ms, 10 MB: ${r.mbps.toFixed(1)} Mbit/s\n`);
    assert.ok(r.ok);
    assert.ok(r.conn.counters.offloadSends > 0, 'the sender offloaded');
    assert.ok(r.mbps >= floor, `${loss * 100}% loss: ${r.mbps.toFixed(1)} Mbit/s < ${floor}`);
  }
});

test('BBR on a clean path keeps the bottleneck queue short; CUBIC keeps a standing one', () => {
  const bbr = bulk(simNet(2, 7, { delayNs: 5n * MS }, 1500, LINK), 40_000_000, BBR, 2n * S);
  const cubic = bulk(simNet(2, 7, { delayNs: 5n * MS }, 1500, LINK), 40_000_000, { congestion: 'cubic' }, 2n * S);
  process.stdout.write(
    `# clean 20 ms, 40 MB: BBR ${bbr.mbps.toFixed(1)} Mbit/s, queue at most ${bbr.maxQueue} (${bbr.steadyQueue} after 2 s), ${bbr.queueDrops} drops; ` +
      `CUBIC ${cubic.mbps.toFixed(1)} Mbit/s, queue at most ${cubic.maxQueue} (${cubic.steadyQueue} after 2 s), ${cubic.queueDrops} drops\n`,
  );
  assert.ok(bbr.ok && cubic.ok);
  // One BDP (100 Mbit/s × 20 ms) is 171 full frames; PROBE_BW keeps at most about 2 BDP in flight.
  assert.equal(bbr.queueDrops, 0, 'BBR never overflowed the queue');
  assert.ok(bbr.maxQueue < 500, `BBR's queue peaked at ${bbr.maxQueue} frames (STARTUP's overshoot)`);
  assert.ok(bbr.steadyQueue <= 260, `BBR's queue after start-up peaked at ${bbr.steadyQueue} frames`);
  assert.ok(bbr.mbps > 85, `BBR still fills the link: ${bbr.mbps.toFixed(1)} Mbit/s`);
  // The contrast: CUBIC has no model of the pipe. HyStart ends its slow start once the queue shows in the RTT, and the
  // window it had then (more than the pipe holds) stays in flight: a standing queue BBR drains. (Before HyStart ended
  // slow start at the increase, CUBIC's slow start overflowed the 1000-frame queue here; within 40 MB its cubic probe
  // does not come back to the limit.)
  assert.equal(cubic.queueDrops, 0, 'CUBIC did not overflow the queue either');
  assert.ok(cubic.steadyQueue > bbr.steadyQueue, `CUBIC ${cubic.steadyQueue} vs BBR ${bbr.steadyQueue} frames after start-up`);
  assert.ok(cubic.mbps > 85, `CUBIC fills the link: ${cubic.mbps.toFixed(1)} Mbit/s`);
});

test('two BBR flows through one 100 Mbit/s link share it: neither starves, and together they fill it', () => {
  // Host 1 sends to hosts 2 and 3 over its one link; the second flow starts 2 s after the first.
  const net = simNet(3, 9, { delayNs: 5n * MS }, 1500, LINK);
  const [a, b, c] = net.stacks as [Stack, Stack, Stack];
  const got = [0, 0];
  const sinks = [b, c];
  for (let i = 0; i < 2; i++) {
    sinks[i]!.tcp.listen(
      9,
      (conn) => {
        conn.events = {
          onData: (d) => {
            got[i]! += d.length;
          },
        };
      },
      BBR,
    );
  }
  const chunk = pattern(65536, 1);
  const start = (dst: string): TcpConnection => {
    const conn = a.tcp.connect(ip(dst), 9, BBR);
    const pump = (): void => {
      while (conn.write(chunk) === chunk.length) {}
    };
    conn.events = { onConnect: pump, onDrain: pump };
    return conn;
  };
  start('10.0.0.2');
  net.sched.run({ untilNs: 2n * S });
  start('10.0.0.3');
  net.sched.run({ untilNs: 12n * S });
  const from = [...got];
  net.sched.run({ untilNs: 32n * S });
  const mbps = got.map((g, i) => ((g - from[i]!) * 8) / 20 / 1e6);
  const jain = (mbps[0]! + mbps[1]!) ** 2 / (2 * (mbps[0]! ** 2 + mbps[1]! ** 2));
  process.stdout.write(`# two BBR flows, 12-32 s: ${mbps.map((m) => m.toFixed(1)).join(' and ')} Mbit/s, Jain index ${jain.toFixed(3)}\n`);
  assert.ok(mbps[0]! + mbps[1]! > 85, `together ${(mbps[0]! + mbps[1]!).toFixed(1)} Mbit/s`);
  for (const m of mbps) assert.ok(m > 25, `a flow got only ${m.toFixed(1)} Mbit/s`);
  assert.ok(jain > 0.85, `Jain's fairness index ${jain.toFixed(3)}`);
});
