/**
 * Density under `fata daemon`: sealed website unikernels created one after another on one bridge until the host's
 * memory says stop (MemAvailable under 2 GiB) or LIMIT (default 250) run at once; then as many bare engines
 * (`node` serving HTTP, the same pinned engine) started one after another in the same run, as the reference.
 * Needs root: its own namespace, bridge and daemon (all removed at exit).
 *
 *   node bench/density.ts [LIMIT] [--mem=MB]
 *
 * create→reply: from a `create` request on the daemon's socket (as a driver sends it; the `fata` command's own
 *               start, measured apart, comes on top from a shell) to the first HTTP 200 from the
 *               unikernel (curl every 20 ms); bare: from spawning the engine to its first HTTP 200, the same way
 * RSS:          each sealed engine's VmRSS once all run (from the daemon's stats), and the tenders' (the native
 *               supervisor); bare engines' VmRSS
 * creates/s:    unikernels made per second of the whole sequence (each waits for the one before to answer)
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emit, median, needRoot, netns, sh, sleep } from './lib.ts';
import { request } from '../src/daemon/client.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const FATA = join(ROOT, 'bin/fata');
const args = process.argv.slice(2);
const limit = Number(args.find((a) => /^\d+$/.test(a)) ?? 250);
const memMb = Number(/^--mem=(\d+)$/.exec(args.find((a) => a.startsWith('--mem=')) ?? '')?.[1] ?? 128);
const MIN_AVAILABLE_KB = 2 << 20;

needRoot('density');
const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const available = (): number => Number(/^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]);
const rssKb = (pid: number): number => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
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

/** Milliseconds until `url` answers 200 inside the namespace, polled every 20 ms (at most `timeoutMs`). */
async function firstReply(url: string, t0: number, timeoutMs = 30_000): Promise<number> {
  for (;;) {
    const r = spawnSync('ip', inNs(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '1', url]), { encoding: 'utf8' });
    if (r.stdout === '200') return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await sleep(20);
  }
}

const ipOf = (i: number): string => `10.80.${1 + (i >> 8)}.${i & 255}`;

async function sealed(): Promise<{ latencies: number[]; answered: number[]; seconds: number; why: string }> {
  const latencies: number[] = [],
    answered: number[] = [];
  const start = Date.now();
  let why = `the limit (${limit})`;
  for (let i = 1; i <= limit; i++) {
    if (available() < MIN_AVAILABLE_KB) {
      why = `the host's memory (MemAvailable ${(available() / 1048576).toFixed(1)} GiB)`;
      break;
    }
    const t0 = Date.now();
    // Through the protocol, as a scheduler's driver would (the CLI's own start is measured apart).
    const spec = { name: `w${i}`, image, nets: [{ dev: 'service', bridge: 'br0' }], blocks: [], memMb, bootArgs: [`--ipv4=${ipOf(i)}/16`] };
    try {
      await request(sock, { op: 'create', spec });
      answered.push(Date.now() - t0);
    } catch (e) {
      why = `a refused create: ${(e as Error).message}`;
      break;
    }
    latencies.push(await firstReply(`http://${ipOf(i)}:8080/`, t0));
    if (i % 25 === 0) say(`  ${i} sealed websites running, last create→reply ${latencies.at(-1)} ms`);
  }
  return { latencies, answered, seconds: (Date.now() - start) / 1000, why };
}

async function bare(n: number): Promise<{ latencies: number[]; rss: number[] }> {
  const latencies: number[] = [],
    pids: number[] = [];
  for (let i = 0; i < n; i++) {
    const port = 20000 + i;
    const t0 = Date.now();
    const c = spawn('ip', inNs([process.execPath, '-e', `require('http').createServer((q,s)=>s.end('ok')).listen(${port},'127.0.0.1')`]), {
      stdio: 'ignore',
    });
    children.push(c);
    latencies.push(await firstReply(`http://127.0.0.1:${port}/`, t0));
    pids.push(c.pid!);
  }
  return { latencies, rss: pids.map(rssKb) };
}

try {
  const daemon = spawn('ip', inNs([FATA, 'daemon', `--state-dir=${join(dir, 'state')}`, `--socket=${sock}`]), {
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
  const s = await sealed();
  const n = s.latencies.length;
  say(`sealed: ${n} websites ran at once (stopped by ${s.why})`);
  const list = JSON.parse(sh([FATA, 'list', '--json', `--socket=${sock}`])) as { name: string; rssBytes?: number }[];
  const engineRss = list.map((u) => (u.rssBytes ?? NaN) / 1024);
  const tenderRss = list.map((u) => {
    const info = JSON.parse(sh([FATA, 'info', u.name, '--json', `--socket=${sock}`])) as { tenderPid?: number };
    return info.tenderPid ? rssKb(info.tenderPid) : NaN;
  });
  const daemonRss = rssKb(daemon.pid!);
  const b = await bare(n);
  const cli: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = Date.now();
    spawnSync(FATA, ['list', `--socket=${sock}`]);
    cli.push(Date.now() - t0);
  }
  const row = (name: string, xs: number[]): string => `${name}: p50 ${pct(xs, 50)} ms, p99 ${pct(xs, 99)} ms`;
  say(row('create→first reply, sealed under the daemon', s.latencies));
  say(row('  of which the daemon answering the create (checks, image copy, taps, state, tender spawned)', s.answered));
  say(row('start→first reply, bare engine', b.latencies));
  say(`the fata command's own start and one request (fata list): median ${median(cli)} ms, on top of a create from the shell`);
  say(`creates/s: ${(n / s.seconds).toFixed(2)} (each waits for the one before to answer)`);
  say(
    `RSS per unikernel: engine median ${(median(engineRss) / 1024).toFixed(1)} MiB + tender ${(median(tenderRss) / 1024).toFixed(1)} MiB; bare engine ${(median(b.rss) / 1024).toFixed(1)} MiB; the daemon ${(daemonRss / 1024).toFixed(1)} MiB`,
  );
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
    metric: 'RSS per sealed website (engine + tender)',
    value: (median(engineRss) + median(tenderRss)) / 1024,
    unit: 'MiB',
    reference: median(b.rss) / 1024,
    referenceName: 'bare engine',
    lowerIsBetter: true,
  });
  emit({ bench: 'density', metric: 'creates/s', value: n / s.seconds, unit: '1/s' });
} finally {
  for (const c of children.reverse()) c.kill('SIGTERM'); // The daemon stops its engines; the bare ones just end.
  await sleep(4000);
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
