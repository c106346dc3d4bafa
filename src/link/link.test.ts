import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CAPTURED } from '../../test/fixtures/captured.ts';
import { SeededRandom } from '../sim/random.ts';
import { VirtualClock } from '../sim/clock.ts';
import { createLoopback, createPipe } from './pipe.ts';
import { FaultInjector } from './fault.ts';
import { PcapDevice, PcapWriter } from './pcap.ts';
import { drainFrames } from './queue.ts';
import { Switch } from './switch.ts';
import type { NetDevice } from '../devices/index.ts';

const mac = (n: number): Uint8Array => Uint8Array.of(2, 0, 0, 0, 0, n);
const frameTo = (dst: Uint8Array, src: Uint8Array, tag = 0): Uint8Array => {
  const f = new Uint8Array(60);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  f[14] = tag;
  return f;
};
const drain = (d: NetDevice): Uint8Array[] => drainFrames(d);
const rx = { checksumVerified: false };

test('loopback returns what it sends; the writer may reuse its buffer', () => {
  const lo = createLoopback(mac(1));
  const f = frameTo(mac(1), mac(1), 7);
  assert.equal(lo.write(f), 'ok');
  f[14] = 9;
  assert.deepEqual(
    drain(lo).map((x) => x[14]),
    [7],
  );
  assert.equal(lo.read(new Uint8Array(1518), rx), 'again');
});

test('pipe: each end reads what the other wrote; sizes are checked', () => {
  const [a, b] = createPipe(mac(1), mac(2));
  a.write(frameTo(mac(2), mac(1), 1));
  b.write(frameTo(mac(1), mac(2), 2));
  assert.deepEqual(
    drain(b).map((x) => x[14]),
    [1],
  );
  assert.deepEqual(
    drain(a).map((x) => x[14]),
    [2],
  );
  assert.equal(a.write(new Uint8Array(13)), 'invalid');
  assert.equal(a.write(new Uint8Array(1519)), 'invalid');
  assert.throws(() => a.read(new Uint8Array(100), rx), /too small/);
});

test('a full queue drops and says again', () => {
  const [a, b] = createPipe(mac(1), mac(2), 1500, 2);
  assert.deepEqual(
    [1, 2, 3].map((i) => a.write(frameTo(mac(2), mac(1), i))),
    ['ok', 'ok', 'again'],
  );
  assert.equal(drain(b).length, 2);
});

test('switch floods unknown destinations, learns, then forwards only to the owner', () => {
  const sw = new Switch();
  const [h1, h2, h3] = [sw.attach(mac(1)), sw.attach(mac(2)), sw.attach(mac(3))];
  h1!.write(frameTo(mac(2), mac(1)));
  assert.equal(drain(h2!).length, 1);
  assert.equal(drain(h3!).length, 1, 'unknown destination floods');
  h2!.write(frameTo(mac(1), mac(2)));
  assert.equal(drain(h1!).length, 1);
  assert.equal(drain(h3!).length, 0, 'learned destination does not flood');
  h1!.write(frameTo(Uint8Array.of(255, 255, 255, 255, 255, 255), mac(1)));
  assert.deepEqual([drain(h1!).length, drain(h2!).length, drain(h3!).length], [0, 1, 1]);
});

test('switch table is bounded and ages out', () => {
  const clock = new VirtualClock();
  const sw = new Switch({ tableSize: 2, clock, agingNs: 1000n });
  const [h1, h2, h3] = [sw.attach(mac(1)), sw.attach(mac(2)), sw.attach(mac(3))];
  h2!.write(frameTo(mac(9), mac(2)));
  drain(h1!);
  drain(h3!);
  h1!.write(frameTo(mac(2), mac(1)));
  assert.equal(drain(h3!).length, 0);
  clock.advanceTo(5000n);
  h1!.write(frameTo(mac(2), mac(1)));
  assert.equal(drain(h3!).length, 1, 'an aged entry floods again');
});

test('fault injector: same seed, same impairment; rates roughly as asked', () => {
  const run = (seed: number): string => {
    const clock = new VirtualClock();
    const [a, b] = createPipe(mac(1), mac(2));
    const f = new FaultInjector(b, clock, new SeededRandom(seed), {
      loss: 0.2,
      duplicate: 0.1,
      corrupt: 0.05,
      reorder: 0.1,
      delayNs: 100n,
      jitterNs: 50n,
    });
    const got: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const fr = frameTo(mac(2), mac(1));
      fr[15] = i & 0xff;
      fr[16] = i >> 8;
      a.write(fr);
      clock.advanceTo(clock.monotonicNs() + 10n);
      for (const x of drain(f)) got.push(x[15]! | (x[16]! << 8));
    }
    clock.advanceTo(clock.monotonicNs() + 10_000_000n);
    for (const x of drain(f)) got.push(x[15]! | (x[16]! << 8));
    const c = f.counters;
    assert.ok(c.dropped > 150 && c.dropped < 250, `dropped ${c.dropped}`);
    assert.ok(c.duplicated > 50 && c.corrupted > 20 && c.reordered > 50, JSON.stringify(c));
    let inversions = 0;
    for (let i = 1; i < got.length; i++) if (got[i]! < got[i - 1]!) inversions++;
    assert.ok(inversions > 20, `${inversions} reorderings seen`);
    return JSON.stringify(got);
  };
  assert.equal(run(5), run(5));
  assert.notEqual(run(5), run(6));
});

test('fault injector holds delayed frames and reports when they fall due', () => {
  const clock = new VirtualClock();
  const [a, b] = createPipe(mac(1), mac(2));
  const f = new FaultInjector(b, clock, new SeededRandom(1), { delayNs: 1000n });
  a.write(frameTo(mac(2), mac(1)));
  assert.equal(f.read(new Uint8Array(1518), rx), 'again');
  assert.equal(f.readyAtNs(), 1000n);
  clock.advanceTo(1000n);
  assert.equal(f.read(new Uint8Array(1518), rx), 60);
  // Egress delay: sent on the next read or write after it falls due.
  const g = new FaultInjector(a, clock, new SeededRandom(1), {}, { delayNs: 500n });
  g.write(frameTo(mac(2), mac(1)));
  assert.equal(drain(b).length, 0);
  clock.advanceTo(1500n);
  g.read(new Uint8Array(1518), rx);
  assert.equal(drain(b).length, 1);
});

test('pcap: a file tshark reads back frame for frame, with valid checksums', {
  skip: spawnSync('sh', ['-c', 'command -v tshark']).status !== 0 ? 'needs tshark (apt-get install tshark; .ci/run does)' : false,
}, () => {
  const clock = new VirtualClock();
  const pcap = new PcapWriter();
  const [a, b] = createPipe(mac(1), mac(2));
  const rec = new PcapDevice(a, pcap, clock);
  const frames = Object.values(CAPTURED);
  for (const f of frames) {
    clock.advanceTo(clock.monotonicNs() + 1_500_000n);
    rec.write(f);
  }
  drain(b);
  const dir = mkdtempSync(join(tmpdir(), 'fata-pcap-'));
  try {
    const file = join(dir, 't.pcap');
    writeFileSync(file, pcap.bytes());
    const r = spawnSync(
      'tshark',
      [
        '-n',
        '-r',
        file,
        '-o',
        'ip.check_checksum:TRUE',
        '-o',
        'udp.check_checksum:TRUE',
        '-T',
        'fields',
        '-e',
        'frame.len',
        '-e',
        'frame.time_relative',
        '-e',
        '_ws.expert',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(
      lines.map((l) => Number(l.split('\t')[0])),
      frames.map((f) => f.length),
    );
    assert.equal(lines[1]!.split('\t')[1], '0.001500000');
    assert.ok(!/[Bb]ad checksum|[Mm]alformed/.test(r.stdout), r.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
