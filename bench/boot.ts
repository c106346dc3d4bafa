/**
 * Boot time and memory of ping-serve on the spt target against a bare start
 * of the same pinned engine, measured in the same run (medians of RUNS,
 * default 10), plus the examples' image sizes. Needs root: it makes its own
 * network namespace with a tap (and removes it), and pings only inside it.
 *
 *   node bench/boot.ts [RUNS]
 *   FATA_ENGINE_FLAGS='--max-semi-space-size=1' node bench/boot.ts   (tuning for both engines)
 *
 * boot:   from spawning `fata run` to the first echo reply seen by the
 *         kernel's ping (sending every 2 ms; the kernel has a static
 *         neighbour entry so ARP does not pace it)
 * bare:   spawning `node -e 0` to its exit, through `ip netns exec` like the unikernel,
 *         one before each unikernel run (alternating rounds)
 * RSS:    the sealed engine's VmRSS after 1 s idle and its VmHWM after
 *         2000 pings, against `node -e 0`'s peak (getrusage maxrss)
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { emit, firstEchoReply, median, needRoot, sh } from './lib.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const FATA = join(ROOT, 'bin/fata'); // As users run it: the native tender's one-engine path where it is built.
const runs = Number(process.argv[2] ?? 10);
const engineFlags = (process.env.FATA_ENGINE_FLAGS ?? '').split(/\s+/).filter(Boolean);
const NS = `fata-bench-${process.pid}`;
const inNs = (argv: string[]): string[] => ['ip', 'netns', 'exec', NS, ...argv];
const kib = (pid: number, field: string): number =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);

needRoot('boot');
const say = (s: string): void => {
  process.stdout.write(s + '\n');
};

for (const ex of ['hello', 'ping-serve', 'block-test']) {
  for (const t of ['node', 'spt']) sh([FATA, 'build', '-t', t, ...(ex === 'ping-serve' ? ['--net=direct'] : []), `examples/${ex}`]);
}
const sizes = ['hello', 'ping-serve', 'block-test'].map((ex) => `${ex} ${statSync(join(ROOT, `examples/${ex}/dist/${ex}.fata`)).size} B`);
sh(['ip', 'netns', 'add', NS]);
const boot: number[] = [],
  idle: number[] = [],
  peak: number[] = [],
  tender: number[] = [];
const bare: number[] = [],
  bareRss: number[] = [];
try {
  sh(inNs(['ip', 'link', 'set', 'lo', 'up']));
  sh(inNs(['ip', 'tuntap', 'add', 'dev', 'tap0', 'mode', 'tap']));
  sh(inNs(['ip', 'addr', 'add', '10.0.0.1/24', 'dev', 'tap0']));
  sh(inNs(['ip', 'link', 'set', 'tap0', 'up']));
  sh(inNs(['ip', 'neigh', 'replace', '10.0.0.2', 'lladdr', '02:00:00:00:00:02', 'dev', 'tap0', 'nud', 'permanent']));
  // Bare engine: start to exit, and its peak RSS; launched through `ip netns exec` as the unikernel is. One before each
  // unikernel run (alternating rounds): on a loaded machine, all of one and then all of the other measured the load's drift.
  const bareRun = (): void => {
    const t0 = process.hrtime.bigint();
    const out = sh(inNs([process.execPath, ...engineFlags, '-e', 'process.stdout.write(String(process.resourceUsage().maxRSS))']));
    bare.push(Number(process.hrtime.bigint() - t0) / 1e6);
    bareRss.push(Number(out));
  };

  for (let i = 0; i < runs; i++) {
    bareRun();
    const ping = spawn(
      inNs(['ping', '-D', '-n', '-i', '0.002', '-c', '5000', '-W', '1', '10.0.0.2'])[0]!,
      inNs(['ping', '-D', '-n', '-i', '0.002', '-c', '5000', '-W', '1', '10.0.0.2']).slice(1),
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now() / 1000;
    const tenderProc = spawn(
      'ip',
      inNs([
        FATA,
        'run',
        '--net:service=tap0',
        '--net-mac:service=02:00:00:00:00:02',
        join(ROOT, 'examples/ping-serve/dist/ping-serve.fata'),
        '--ipv4=10.0.0.2/24',
        '-l',
        'warn',
      ]).slice(1),
      { stdio: 'ignore' },
    );
    const first = await firstEchoReply(ping.stdout);
    boot.push((first - t0) * 1000);
    ping.kill();
    await new Promise((r) => setTimeout(r, 1000));
    // Either tender starts the engine as its one child (the native one stays as a small supervisor).
    const kids = spawnSync('pgrep', ['-P', String(tenderProc.pid)], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
    const child = kids[0] ?? tenderProc.pid!;
    idle.push(kib(child, 'VmRSS'));
    tender.push(kids.length ? kib(tenderProc.pid!, 'VmRSS') : 0);
    spawnSync('ip', inNs(['ping', '-f', '-c', '2000', '-s', '1400', '10.0.0.2']).slice(1));
    peak.push(kib(child, 'VmHWM'));
    tenderProc.kill('SIGTERM');
    await new Promise((r) => tenderProc.on('exit', r));
  }
} finally {
  spawnSync('ip', inNs(['ip', 'tuntap', 'del', 'dev', 'tap0', 'mode', 'tap']).slice(1));
  spawnSync('ip', ['netns', 'del', NS]);
}
say(
  `bare engine (${process.version}${engineFlags.length ? ' ' + engineFlags.join(' ') : ''}): start→exit median ${median(bare).toFixed(1)} ms, peak RSS ${(median(bareRss) / 1024).toFixed(1)} MiB`,
);
say(`  runs: bare ms ${bare.map((x) => x.toFixed(0)).join(' ')}`);
const b = median(boot),
  rIdle = median(idle) / 1024,
  rPeak = median(peak) / 1024,
  bareMiB = median(bareRss) / 1024;
say(`ping-serve on spt: fata run → first echo reply median ${b.toFixed(1)} ms (${(b / median(bare)).toFixed(2)}× the bare engine)`);
say(
  `  sealed engine RSS: idle ${rIdle.toFixed(1)} MiB (${(rIdle / bareMiB).toFixed(2)}×), peak after 2000 pings ${rPeak.toFixed(1)} MiB (${(rPeak / bareMiB).toFixed(2)}×); tender ${(median(tender) / 1024).toFixed(1)} MiB`,
);
say(`  runs: boot ms ${boot.map((x) => x.toFixed(0)).join(' ')}`);
say(`image sizes (spt): ${sizes.join(', ')}`);
const bareMs = median(bare);
emit({
  bench: 'boot',
  metric: 'fata run → first ping reply (spt)',
  value: b,
  unit: 'ms',
  reference: bareMs,
  referenceName: 'bare node -e 0',
  lowerIsBetter: true,
  floor: 0.5,
});
emit({
  bench: 'boot',
  metric: 'idle RSS (spt)',
  value: rIdle,
  unit: 'MiB',
  reference: bareMiB,
  referenceName: 'bare engine peak',
  lowerIsBetter: true,
  floor: 1 / 1.5,
});
emit({
  bench: 'boot',
  metric: 'peak RSS after 2000 pings (spt)',
  value: rPeak,
  unit: 'MiB',
  reference: bareMiB,
  referenceName: 'bare engine peak',
  lowerIsBetter: true,
  floor: 1 / 1.5,
});
