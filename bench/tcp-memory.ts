/**
 * What TCP connections cost in memory (issue 20: "per-connection memory
 * stays bounded"), in the simulator, in virtual time, so the figures do
 * not depend on the machine's load:
 *
 *   idle: N connections (default 1000) established between two stacks
 *         and left idle; the heap they hold, per connection (both ends);
 *   busy: 100 connections moving data at once over a 100 ms path, on a
 *         shared 100 Mbit/s link and on an unlimited one (where every
 *         window may grow to its bound); the peak heap while they run.
 *
 * The reference, in the same run: the Linux kernel's own accounting for
 * N idle loopback connections (its TCP socket and socket-inode slabs and
 * the socket buffer pages `/proc/net/sockstat` counts; needs /proc/slabinfo,
 * i.e. root), which leaves out the file and epoll structures a process
 * also pays for.
 *
 *   node bench/tcp-memory.ts [N]
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { FaultInjector, type FaultOptions, Switch } from '../src/link/index.ts';
import { Stack, type TcpConnection } from '../src/net/index.ts';
import { Scheduler, SeededRandom } from '../src/sim/index.ts';
import { emit } from './lib.ts';

if (typeof globalThis.gc !== 'function') {
  // Heap figures need a full collection before each reading.
  const r = spawnSync(process.execPath, ['--expose-gc', ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const gc = globalThis.gc as () => void;
const N = Number(process.argv[2] ?? 1000);
const MS = 1_000_000n,
  S = 1_000_000_000n;
const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const ip = (s: string): number => s.split('.').reduce((a, b) => a * 256 + Number(b), 0) >>> 0;

/** Heap and array-buffer bytes in use after a full collection. */
function used(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Two stacks on a switch, each behind a fault injector for delay and rate; no capture (it would hold every frame). */
function net(faults: FaultOptions, link: FaultOptions) {
  const sched = new Scheduler();
  const clock = sched.clock;
  const rnd = new SeededRandom(5);
  const sw = new Switch({ clock });
  const stacks = [1, 2].map((i) => {
    const port = sw.attach(Uint8Array.of(0x02, 0, 0, 0, 0, i), 1500);
    const dev = new FaultInjector(port, clock, rnd.fork(), faults, { ...faults, ...link });
    const s = new Stack({ device: dev, clock, random: rnd.fork(), ipv4: { address: ip(`10.0.0.${i}`), prefixLen: 24 } });
    sched.add(s);
    return s;
  });
  for (const s of stacks) s.start();
  return { sched, a: stacks[0]!, b: stacks[1]! };
}

// Idle connections.
{
  const before = used();
  const n = net({ delayNs: 1n * MS }, {});
  const base = used();
  const server: TcpConnection[] = [];
  const client: TcpConnection[] = [];
  n.b.tcp.listen(80, (c) => {
    server.push(c);
  });
  let up = 0;
  for (let i = 0; i < N; i++) {
    const c = n.a.tcp.connect(ip('10.0.0.2'), 80);
    c.events = {
      onConnect: () => {
        up++;
      },
    };
    client.push(c);
  }
  n.sched.run({ until: () => up === N && server.length === N, untilNs: 60n * S });
  n.sched.run({ untilNs: n.sched.clock.monotonicNs() + 2n * S }); // Let the last ACKs settle.
  const idle = used() - base;
  const per = idle / N;
  say(
    `tcp-memory: ${N} idle connections (both ends in one process): ${(idle / 1048576).toFixed(2)} MiB, ${per.toFixed(0)} B per connection (two stacks: ${((base - before) / 1024).toFixed(0)} KiB)`,
  );
  const kernel = await kernelIdle(N);
  if (kernel !== undefined)
    say(
      `tcp-memory: the kernel, ${N} idle loopback connections: ${(kernel / 1048576).toFixed(2)} MiB, ${(kernel / N).toFixed(0)} B per connection (TCP and socket-inode slabs, socket buffer pages)`,
    );
  emit({
    bench: 'tcp-memory',
    metric: `${N} idle connections, bytes per connection (both ends)`,
    value: per,
    unit: 'B',
    ...(kernel === undefined ? {} : { reference: kernel / N, referenceName: 'kernel TCP slabs and buffers per loopback connection' }),
    lowerIsBetter: true,
  });
  if (server.length + client.length !== 2 * N) throw new Error('not every connection came up');
}

// Busy connections over a long path: 100 senders at once, 25 ms of delay at each end of each hop (100 ms RTT).
for (const [name, link] of [
  ['a shared 100 Mbit/s link, 1000-frame queue', { rateBitsPerSec: 100e6, queueFrames: 1000, maxHeld: 100_000 }],
  ['an unlimited link', { maxHeld: 1_000_000 }],
] as const) {
  const n = net({ delayNs: 25n * MS }, link);
  const base = used();
  const CONNS = 100,
    EACH = 4 << 20;
  const chunk = new Uint8Array(65536).fill(7);
  let received = 0,
    done = 0;
  const conns: TcpConnection[] = [];
  n.b.tcp.listen(9, (c) => {
    conns.push(c);
    c.events = {
      onData: (d) => {
        received += d.length;
      },
      onEnd: () => {
        done++;
        c.close();
      },
    };
  });
  for (let i = 0; i < CONNS; i++) {
    const c = n.a.tcp.connect(ip('10.0.0.2'), 9);
    conns.push(c);
    let sent = 0;
    const pump = (): void => {
      while (sent < EACH) {
        const k = c.write(chunk.subarray(0, Math.min(chunk.length, EACH - sent)));
        sent += k;
        if (k === 0) return;
      }
      c.shutdown();
    };
    c.events = { onConnect: pump, onDrain: pump };
  }
  let peak = 0,
    held = 0;
  const t0 = n.sched.clock.monotonicNs();
  while (done < CONNS && n.sched.clock.monotonicNs() - t0 < 600n * S) {
    n.sched.run({ untilNs: n.sched.clock.monotonicNs() + 250n * MS });
    peak = Math.max(peak, used() - base); // After a full collection: what is held, not garbage not yet collected.
    held = Math.max(
      held,
      conns.reduce((sum, c) => sum + c.memoryBytes, 0),
    );
  }
  const seconds = Number(n.sched.clock.monotonicNs() - t0) / 1e9;
  say(
    `tcp-memory: 100 connections × 4 MiB over a 100 ms path on ${name}: the connections' buffers at most ${(held / 1048576).toFixed(1)} MiB (${(held / CONNS / 1024).toFixed(0)} KiB per connection, both ends); the whole heap at most ${(peak / 1048576).toFixed(1)} MiB above the idle stacks, with the frames the simulated link holds in flight; ${(received / 1048576).toFixed(0)} MiB in ${seconds.toFixed(1)} virtual s`,
  );
  if (received !== CONNS * EACH) throw new Error(`only ${received} of ${CONNS * EACH} bytes arrived`);
  emit({
    bench: 'tcp-memory',
    metric: `100 busy connections over a 100 ms path, ${name}: buffers per connection at most`,
    value: held / CONNS / 1024,
    unit: 'KiB',
    lowerIsBetter: true,
  });
}

/** Bytes the kernel accounts to N idle loopback TCP connections, or undefined where /proc/slabinfo cannot be read. */
async function kernelIdle(count: number): Promise<number | undefined> {
  const read = (): number | undefined => {
    try {
      let bytes = 0;
      for (const line of readFileSync('/proc/slabinfo', 'utf8').split('\n')) {
        const f = line.split(/\s+/);
        if (f[0] === 'TCP' || f[0] === 'sock_inode_cache') bytes += Number(f[1]) * Number(f[3]);
      }
      const mem = /TCP: .* mem (\d+)/.exec(readFileSync('/proc/net/sockstat', 'utf8'));
      return bytes + Number(mem?.[1] ?? 0) * 4096;
    } catch {
      return undefined;
    }
  };
  const before = read();
  if (before === undefined) return undefined;
  // A plain Node process holds the connections (both ends) until its stdin closes; the slabs are read while it does.
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const net=require('net');const n=${count};let up=0;const keep=[];
const srv=net.createServer((s)=>{keep.push(s);if(keep.length===2*n)process.stdout.write('up\\n');}).listen(0,'127.0.0.1',()=>{
for(let i=0;i<n;i++){keep.push(net.connect(srv.address().port,'127.0.0.1'));}});
process.stdin.on('end',()=>process.exit(0));process.stdin.resume();`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const up = await new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), 60_000);
    child.stdout.on('data', () => {
      clearTimeout(t);
      resolve(true);
    });
    child.on('exit', () => resolve(false));
  });
  await new Promise((r) => setTimeout(r, 500)); // The last handshakes' ACKs.
  const during = up ? read() : undefined;
  child.stdin.end();
  child.kill();
  return during === undefined ? undefined : during - before;
}
