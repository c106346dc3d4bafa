/**
 * Density under `fata daemon`: sealed website unikernels created one after another on one bridge until the host's
 * memory says stop (MemAvailable under --min-available, 2 GiB by default), LIMIT (default 250) run at once, or
 * --max-seconds (900) of creating have passed; then as many bare engines (`node` serving HTTP, the same pinned
 * engine) started one after another in the same run, as the reference, once the sealed ones are destroyed. Needs root: its own namespace, bridge and
 * daemon; every unikernel is destroyed at the end (its tap with it), then the namespace goes, and no tap of the
 * daemon's may be left anywhere.
 *
 *   node bench/density.ts [LIMIT] [--mem=MB] [--min-available=GiB] [--max-seconds=S] [--no-code-cache]
 *
 * create→reply:   from a `create` request on the daemon's socket (as a driver sends it; the `fata` command's own
 *                 start, measured apart, comes on top from a shell) to the first HTTP 200 from the unikernel; bare:
 *                 from spawning the engine to its first HTTP 200. One poller in the namespace for both: a new GET
 *                 every 10 ms, earlier ones left running (none is cut short), the first 200 wins
 * create→serving: the same start to the unikernel's `event=serving` console line (its ts=, the engine's clock);
 *                 bare: to its `listening` line as read. Free of the network's part (ARP, a first SYN lost to
 *                 a tap not yet attached)
 * phases:         the same start to the daemon's reply, to its `started` note (the tender spawned), to the engine
 *                 process's start (its start time after its tender's, in the kernel's ticks of 10 ms), to the
 *                 service's `event=boot` line: where a create's time goes (docs/profiling.md, Create latency)
 * RSS:            each sealed engine's VmRSS once all run (from the daemon's stats), and the tenders' (the native
 *                 supervisor); bare engines' VmRSS. PSS (shared pages divided among their users) and how far
 *                 MemAvailable went down per unikernel say what each one costs the host
 * idle:           CPU the daemon and all engines used over 10 s with all of them running and nobody asking
 * creates/s:      unikernels made per second of the whole sequence (each waits for the one before to answer)
 * --no-code-cache: the engines' code cache off (the daemon's .v8-cache opened to others), for an A/B
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { emit, median, needRoot, netns, sh, sleep } from './lib.ts';
import { request } from '../src/daemon/client.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const FATA = join(ROOT, 'bin/fata');
const args = process.argv.slice(2);
const flag = (name: string, dflt: number): number =>
  Number(new RegExp(`^--${name}=([\\d.]+)$`).exec(args.find((a) => a.startsWith(`--${name}=`)) ?? '')?.[1] ?? dflt);
const limit = Number(args.find((a) => /^\d+$/.test(a)) ?? 250);
const memMb = flag('mem', 128);
const minAvailableKb = flag('min-available', 2) * 1048576;
const maxSeconds = flag('max-seconds', 900);
/** An A/B knob: the daemon's code cache folder opened to others, which turns it off (src/tender/code-cache.ts). */
const noCodeCache = args.includes('--no-code-cache');

needRoot('density');
const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const available = (): number => Number(/^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]);
const rssKb = (pid: number): number => {
  try {
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
};
/** `pid`'s proportional share of resident memory (shared pages divided among their users), in kB. */
const pssKb = (pid: number): number => {
  try {
    return Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
};
/** User + system CPU time of `pid` in clock ticks (100 per second here), 0 once it is gone. */
const cpuTicks = (pid: number): number => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
};
/** When process `pid` started, in ms since the host booted (the kernel's start time, in ticks of 10 ms). */
const startedMs = (pid: number): number => {
  try {
    return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]) * 10;
  } catch {
    return Number.NaN;
  }
};
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

sh([FATA, 'build', '-t', 'spt', 'examples/website']);
const image = join(ROOT, 'examples/website/dist/website.fata');
const NS = netns(`fata-density-${process.pid}`);
/** `ip netns exec NS` and the rest, as a command's arguments after `ip`. */
const inNs = (argv: string[]): string[] => ['netns', 'exec', NS, ...argv];
sh(['ip', '-n', NS, 'link', 'add', 'br0', 'type', 'bridge']);
sh(['ip', '-n', NS, 'link', 'set', 'br0', 'up']);
sh(['ip', '-n', NS, 'addr', 'add', '10.80.0.1/16', 'dev', 'br0']);
const dir = mkdtempSync(join(tmpdir(), 'fata-density-'));
const sock = join(dir, 'fata.sock');
const children: ChildProcess[] = [];

/**
 * The poller, in the namespace: for each URL on a line of its input, a GET every 10 ms (each with 5 s to answer,
 * none cut short) until one answers 200, then the URL on a line of its output; after 30 s, the URL and "timeout".
 */
const POLLER = `
const http = require('node:http');
require('node:readline').createInterface({ input: process.stdin }).on('line', (url) => {
  const t0 = Date.now();
  let done = false;
  const finish = (what) => { if (!done) { done = true; clearInterval(timer); process.stdout.write(url + ' ' + what + '\\n'); } };
  const attempt = () => {
    if (Date.now() - t0 > 30000) return finish('timeout');
    const req = http.get(url, { timeout: 5000, agent: false }, (res) => { res.resume(); if (res.statusCode === 200) finish('ok'); });
    req.on('timeout', () => req.destroy()).on('error', () => {});
  };
  const timer = setInterval(attempt, 10);
  attempt();
});`;
const poller = spawn('ip', inNs([process.execPath, '-e', POLLER]), { stdio: ['pipe', 'pipe', 'inherit'] });
children.push(poller);
const waiting = new Map<string, (what: string) => void>();
createInterface({ input: poller.stdout! }).on('line', (l) => {
  const [url, what] = l.split(' ');
  waiting.get(url!)?.(what!);
  waiting.delete(url!);
});

/** Milliseconds from `t0` until `url` answers 200 inside the namespace. */
function firstReply(url: string, t0: number): Promise<number> {
  return new Promise((resolve, reject) => {
    waiting.set(url, (what) => (what === 'ok' ? resolve(Date.now() - t0) : reject(new Error(`${url} did not answer within 30 s`))));
    poller.stdin!.write(`${url}\n`);
  });
}

const ipOf = (i: number): string => `10.80.${1 + (i >> 8)}.${i & 255}`;

interface Sealed {
  /** CPU time (ms) the engine and its tender had used at the first reply, and the daemon per create. */
  cpu: number[];
  daemonCpu: number;
  latencies: number[];
  serving: number[];
  answered: number[];
  /** Phases of each create, in ms from its request: the tender spawned, the engine process made, its boot line. */
  spawned: number[];
  engine: number[];
  booted: number[];
  seconds: number;
  why: string;
  /** How much MemAvailable went down per unikernel, in kB. */
  hostKbEach: number;
}

async function sealed(daemonPid: number): Promise<Sealed> {
  const s: Sealed = {
    cpu: [],
    daemonCpu: 0,
    latencies: [],
    serving: [],
    answered: [],
    spawned: [],
    engine: [],
    booted: [],
    seconds: 0,
    why: `the limit (${limit})`,
    hostKbEach: 0,
  };
  const available0 = available();
  const start = Date.now();
  const daemon0 = cpuTicks(daemonPid);
  for (let i = 1; i <= limit; i++) {
    if (available() < minAvailableKb) {
      s.why = `the host's memory (MemAvailable ${(available() / 1048576).toFixed(1)} GiB)`;
      break;
    }
    if (Date.now() - start > maxSeconds * 1000) {
      s.why = `the time bound (${maxSeconds} s)`;
      break;
    }
    const t0 = Date.now();
    // Through the protocol, as a scheduler's driver would (the CLI's own start is measured apart).
    const spec = { name: `w${i}`, image, nets: [{ dev: 'service', bridge: 'br0' }], blocks: [], memMb, bootArgs: [`--ipv4=${ipOf(i)}/16`] };
    try {
      await request(sock, { op: 'create', spec });
      s.answered.push(Date.now() - t0);
    } catch (e) {
      s.why = `a refused create: ${(e as Error).message}`;
      break;
    }
    s.latencies.push(await firstReply(`http://${ipOf(i)}:8080/`, t0));
    const info = (await request(sock, { op: 'info', name: `w${i}` })) as { tenderPid?: number; enginePid?: number };
    s.cpu.push((cpuTicks(info.enginePid ?? 0) + cpuTicks(info.tenderPid ?? 0)) * 10);
    const lines = ((await request(sock, { op: 'console', name: `w${i}` })) as { lines: { t: number; stream: string; text: string }[] })
      .lines;
    // The line's own time (ts=…, the engine's clock, which is the host's): when the daemon read it may be later.
    const at = (event: string): number => {
      const line = lines.find((l) => l.text.includes(`event=${event}`));
      const ts = Date.parse(/\bts=(\S+)/.exec(line?.text ?? '')?.[1] ?? '');
      return (Number.isFinite(ts) ? ts : (line?.t ?? Number.NaN)) - t0;
    };
    s.serving.push(at('serving'));
    s.booted.push(at('boot'));
    s.spawned.push((lines.find((l) => l.stream === 'fata' && l.text.startsWith('started'))?.t ?? Number.NaN) - t0);
    // The engine's start after its tender's, in the kernel's ticks (the host's boot time is known to a second only).
    s.engine.push(s.spawned.at(-1)! + startedMs(info.enginePid ?? 0) - startedMs(info.tenderPid ?? 0));
    if (i % 25 === 0)
      say(
        `  ${i} sealed websites running, last create→reply ${s.latencies.at(-1)} ms, MemAvailable ${(available() / 1048576).toFixed(1)} GiB`,
      );
  }
  s.seconds = (Date.now() - start) / 1000;
  s.hostKbEach = (available0 - available()) / Math.max(1, s.latencies.length);
  s.daemonCpu = ((cpuTicks(daemonPid) - daemon0) * 10) / Math.max(1, s.latencies.length);
  return s;
}

async function bare(n: number): Promise<{ latencies: number[]; listening: number[]; cpu: number[]; rss: number[] }> {
  const latencies: number[] = [],
    listening: number[] = [],
    cpu: number[] = [],
    pids: number[] = [];
  for (let i = 0; i < n; i++) {
    if (available() < minAvailableKb) throw new Error(`the bare engines ran out of memory after ${i} (MemAvailable ${available()} kB)`);
    const port = 20000 + i;
    const t0 = Date.now();
    const c = spawn(
      'ip',
      inNs([
        process.execPath,
        '-e',
        `require('http').createServer((q,s)=>s.end('ok')).listen(${port},'127.0.0.1',()=>console.log('listening'))`,
      ]),
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    children.push(c);
    const listened = new Promise<number>((resolve) => c.stdout!.once('data', () => resolve(Date.now() - t0)));
    latencies.push(await firstReply(`http://127.0.0.1:${port}/`, t0));
    listening.push(await listened);
    // `ip netns exec` execs the engine in its place: the pid is the engine's.
    cpu.push(cpuTicks(c.pid!) * 10);
    pids.push(c.pid!);
  }
  return { latencies, listening, cpu, rss: pids.map(rssKb) };
}

let daemon: ChildProcess | undefined;
/** The daemon's tap names start with fk + this (docs/daemon.md). */
let tag = '';
try {
  daemon = spawn('ip', inNs([FATA, 'daemon', `--state-dir=${join(dir, 'state')}`, `--socket=${sock}`]), {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(daemon);
  let log = '';
  daemon.stderr!.on('data', (d: Buffer) => {
    log += d.toString();
  });
  while (!log.includes('listening on')) {
    if (daemon.exitCode !== null) throw new Error(log);
    await sleep(50);
  }
  const daemonPid = daemon.pid!; // `ip netns exec` execs the daemon in its place.
  tag = (JSON.parse(readFileSync(join(dir, 'state', 'state.json'), 'utf8')) as { tag: string }).tag;
  if (noCodeCache) chmodSync(join(dir, 'state', 'images', '.v8-cache'), 0o755);
  const s = await sealed(daemonPid);
  const n = s.latencies.length;
  say(`sealed: ${n} websites ran at once (stopped by ${s.why})`);
  const list = JSON.parse(sh([FATA, 'list', '--json', `--socket=${sock}`])) as { name: string; rssBytes?: number }[];
  const engineRss = list.map((u) => (u.rssBytes ?? Number.NaN) / 1024);
  const infos = list.map(
    (u) => JSON.parse(sh([FATA, 'info', u.name, '--json', `--socket=${sock}`])) as { tenderPid?: number; enginePid?: number },
  );
  const tenderRss = infos.map((i) => (i.tenderPid ? rssKb(i.tenderPid) : Number.NaN));
  const engines = infos.map((i) => i.enginePid ?? 0).filter((p) => p > 0);
  const pss = infos.map((i) => pssKb(i.enginePid ?? 0) + pssKb(i.tenderPid ?? 0));
  // Idle: nobody asks anything for 10 s.
  const d0 = cpuTicks(daemonPid),
    e0 = engines.reduce((t, p) => t + cpuTicks(p), 0);
  await sleep(10_000);
  // Ticks of 10 ms over 10 s: a tenth of one is a percent of one core.
  const idleDaemonPct = (cpuTicks(daemonPid) - d0) / 10;
  const idleEnginesPct = (engines.reduce((t, p) => t + cpuTicks(p), 0) - e0) / 10;
  const daemonRss = rssKb(daemonPid);
  const cli: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = Date.now();
    spawnSync(FATA, ['list', `--socket=${sock}`]);
    cli.push(Date.now() - t0);
  }
  // Destroyed one after another (each waits for its engine to stop and its tap to go), before the bare engines
  // start: the host holds one set at a time.
  const d = Date.now();
  for (const u of list) await request(sock, { op: 'destroy', name: u.name });
  const destroySeconds = (Date.now() - d) / 1000;
  const b = await bare(n);
  const row = (name: string, xs: number[]): string => `${name}: p50 ${pct(xs, 50)} ms, p99 ${pct(xs, 99)} ms`;
  say(row('create→first reply, sealed under the daemon', s.latencies));
  say(row('  create→serving (its console line)', s.serving));
  say(row('  of which the daemon answering the create (checks, image copy, taps, tender spawned, state written)', s.answered));
  say(row('  the tender spawned (the daemon\'s "started" note)', s.spawned));
  say(row('  the engine process made (its start time, in ticks of 10 ms)', s.engine));
  say(row("  the engine's boot line (service code running)", s.booted));
  say(row('start→first reply, bare engine', b.latencies));
  say(row('  start→listening (its output line)', b.listening));
  say(
    `CPU to the first reply: sealed engine + tender median ${median(s.cpu)} ms (mean ${mean(s.cpu).toFixed(1)}), the daemon ${s.daemonCpu.toFixed(1)} ms per create; bare engine median ${median(b.cpu)} ms (mean ${mean(b.cpu).toFixed(1)}) (the kernel counts ticks of 10 ms; a mean over many creates resolves finer than the median)`,
  );
  say(`the fata command's own start and one request (fata list): median ${median(cli)} ms, on top of a create from the shell`);
  say(`creates/s: ${(n / s.seconds).toFixed(2)} (each waits for the one before to answer); destroys/s: ${(n / destroySeconds).toFixed(2)}`);
  say(
    `RSS per unikernel: engine median ${(median(engineRss) / 1024).toFixed(1)} MiB + tender ${(median(tenderRss) / 1024).toFixed(1)} MiB; bare engine ${(median(b.rss) / 1024).toFixed(1)} MiB; the daemon ${(daemonRss / 1024).toFixed(1)} MiB with ${n} running`,
  );
  say(
    `memory per unikernel: PSS (shared pages divided among their users) engine + tender median ${(median(pss) / 1024).toFixed(1)} MiB; MemAvailable went down ${(s.hostKbEach / 1024).toFixed(1)} MiB per unikernel`,
  );
  say(`idle for 10 s with ${n} running: the daemon ${idleDaemonPct}% of a core, all ${engines.length} engines together ${idleEnginesPct}%`);
  emit({ bench: 'density', metric: 'sealed websites at once', value: n, unit: 'unikernels' });
  emit({
    bench: 'density',
    metric: 'create→first reply p50',
    value: pct(s.latencies, 50),
    unit: 'ms',
    reference: pct(b.latencies, 50),
    referenceName: 'bare engine start→reply p50',
    lowerIsBetter: true,
    floor: 1 / 1.5,
  });
  emit({
    bench: 'density',
    metric: 'create→first reply p99',
    value: pct(s.latencies, 99),
    unit: 'ms',
    reference: pct(b.latencies, 99),
    referenceName: 'bare engine start→reply p99',
    lowerIsBetter: true,
  });
  emit({
    bench: 'density',
    metric: 'create→serving p50',
    value: pct(s.serving, 50),
    unit: 'ms',
    reference: pct(b.listening, 50),
    referenceName: 'bare engine start→listening p50',
    lowerIsBetter: true,
  });
  emit({
    bench: 'density',
    metric: 'RSS per sealed website (engine + tender)',
    value: (median(engineRss) + median(tenderRss)) / 1024,
    unit: 'MiB',
    reference: median(b.rss) / 1024,
    referenceName: 'bare engine',
    lowerIsBetter: true,
  });
  emit({
    bench: 'density',
    metric: 'CPU to first reply (engine + tender + daemon share)',
    value: median(s.cpu) + s.daemonCpu,
    unit: 'ms',
    reference: median(b.cpu),
    referenceName: 'bare engine',
    lowerIsBetter: true,
  });
  emit({ bench: 'density', metric: 'PSS per sealed website (engine + tender)', value: median(pss) / 1024, unit: 'MiB' });
  emit({ bench: 'density', metric: 'creates/s', value: n / s.seconds, unit: '1/s' });
  emit({ bench: 'density', metric: 'daemon RSS with all running', value: daemonRss / 1024, unit: 'MiB' });
  emit({ bench: 'density', metric: 'daemon CPU, idle with all running', value: idleDaemonPct, unit: '% of a core' });
} finally {
  for (const c of children.reverse()) c.kill('SIGTERM'); // The daemon stops what is left; the bare ones just end.
  await sleep(4000);
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  // The daemon's taps (fk + its tag): none may be left, in the namespace or (moved out of it) in the host's.
  const ours = (out: string): string[] =>
    out
      .split('\n')
      .flatMap((l) => /^\d+: (fk[^:@]+)/.exec(l)?.[1] ?? [])
      .filter((t) => tag && t.startsWith(`fk${tag}-`));
  const left = [
    ...ours(sh(['ip', '-o', 'link', 'show'], { allowFail: true })),
    ...ours(sh(['ip', '-n', NS, '-o', 'link', 'show'], { allowFail: true })),
  ];
  say(left.length ? `taps left behind: ${left.join(' ')}` : `no tap of the daemon's (fk${tag}-) left`);
}
