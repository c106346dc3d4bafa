/**
 * Boot of ping-serve on spt with one or more bootstrap bundles, in
 * alternating rounds against a bare engine: a profiling aid for changes to
 * the boot path on a loaded machine, where `bench/boot.ts`'s wall times
 * move by tens of milliseconds from run to run. Needs root (its own
 * network namespace and tap, removed at exit).
 *
 *   node bench/boot-ab.ts ROUNDS NAME=BOOTSTRAP.cjs [NAME=BOOTSTRAP.cjs …]
 *   (a bootstrap copy must sit below the checkout's node_modules, where
 *   koffi is found; each is touched before its run, so that the native
 *   tender takes it as fresh)
 *
 * Per run: wall from spawning the native tender to the first echo reply
 * (ping every 2 ms); the engine's CPU time when idle 1 s later, all threads
 * (`/proc/PID/task/* /schedstat`, nanoseconds: steadier than wall time under
 * load); its VmRSS then. The bare engine: `node -e 0`'s wall and peak RSS
 * (bench/boot.ts's reference) and an idle bare engine's CPU and VmRSS.
 * Lines the engine writes to stderr starting with `MARK ` are collected, and
 * their third and fifth fields (ms since the time origin, main-thread CPU
 * ms) printed as medians: stage marks added to a copy of the bundle.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { firstEchoReply, median, needRoot, netns, sh } from './lib.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const TENDER = join(ROOT, 'node_modules/.cache/fata/spt-tender');
const IMAGE = join(ROOT, 'examples/ping-serve/dist/ping-serve.fata');
const rounds = Number(process.argv[2] ?? 3);
const variants = process.argv.slice(3).map((a) => {
  const [name, path] = a.split('=') as [string, string];
  return { name, path };
});
if (!(rounds > 0) || variants.length === 0 || variants.some((v) => !v.path)) {
  process.stderr.write('usage: node bench/boot-ab.ts ROUNDS NAME=BOOTSTRAP.cjs [NAME=BOOTSTRAP.cjs …]\n');
  process.exit(2);
}
needRoot('boot-ab');
// The native tender runs a bootstrap only when its NAME.inputs (the sources it was made from) lists none newer.
for (const v of variants) {
  const inputs = v.path.replace(/\.cjs$/, '.inputs');
  if (!existsSync(inputs)) copyFileSync(join(ROOT, 'node_modules/.cache/fata/bootstrap.inputs'), inputs);
}
sh([join(ROOT, 'bin/fata'), 'build', '-t', 'spt', '--net=direct', join(ROOT, 'examples/ping-serve')]);

const ns = netns(`fata-bootab-${process.pid}`);
const inNs = (argv: string[]): string[] => ['netns', 'exec', ns, ...argv];
sh(['ip', ...inNs(['ip', 'tuntap', 'add', 'dev', 'tap0', 'mode', 'tap'])]);
sh(['ip', '-n', ns, 'addr', 'add', '10.0.0.1/24', 'dev', 'tap0']);
sh(['ip', '-n', ns, 'link', 'set', 'tap0', 'up']);
sh(['ip', '-n', ns, 'neigh', 'replace', '10.0.0.2', 'lladdr', '02:00:00:00:00:02', 'dev', 'tap0', 'nud', 'permanent']);

const kib = (pid: number, field: string): number =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
const cpuMs = (pid: number): number =>
  readdirSync(`/proc/${pid}/task`).reduce((sum, t) => {
    try {
      return sum + Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
    } catch {
      return sum; // The thread ended between the listing and the read.
    }
  }, 0);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Runs {
  wall: number[];
  cpu: number[];
  rss: number[];
  marks: string[][];
}
const results = new Map<string, Runs>();
const runsOf = (name: string): Runs => {
  const r = results.get(name) ?? { wall: [], cpu: [], rss: [], marks: [] };
  results.set(name, r);
  return r;
};

for (let round = 0; round < rounds; round++) {
  const t0 = process.hrtime.bigint();
  const peak = sh(['ip', ...inNs([process.execPath, '-e', 'process.stdout.write(String(process.resourceUsage().maxRSS))'])]);
  runsOf('bare').wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
  runsOf('bare').rss.push(Number(peak) / 1024);
  const idle = spawn('ip', inNs([process.execPath, '-e', 'setTimeout(() => {}, 1500)']), { stdio: 'ignore' });
  await sleep(1000);
  runsOf('bare idle').cpu.push(cpuMs(idle.pid!)); // `ip netns exec` execs the engine: the same pid
  runsOf('bare idle').rss.push(kib(idle.pid!, 'VmRSS') / 1024);
  await new Promise((r) => idle.on('exit', r));

  for (const v of variants) {
    const ping = spawn('ip', inNs(['ping', '-D', '-n', '-i', '0.002', '-c', '5000', '-W', '1', '10.0.0.2']), {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    await sleep(50);
    const now = new Date();
    utimesSync(v.path, now, now);
    const start = Date.now() / 1000;
    const tender = spawn(
      'ip',
      inNs([
        TENDER,
        process.execPath,
        v.path,
        join(ROOT, 'bin/fata.mjs'),
        'run',
        '--net:service=tap0',
        '--net-mac:service=02:00:00:00:00:02',
        IMAGE,
        '--ipv4=10.0.0.2/24',
        '-l',
        'warn',
      ]),
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    tender.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const first = await firstEchoReply(ping.stdout, 10_000, () => `(${v.name}): ${stderr}`);
    ping.kill();
    await sleep(1000);
    const engine = Number(
      spawnSync('pgrep', ['-P', String(tender.pid)], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n')[0],
    );
    // A tender that declined hands the run to the CLI, whose engine runs the cached bootstrap instead: not this variant.
    if (!readFileSync(`/proc/${engine}/cmdline`, 'utf8').includes(v.path))
      throw new Error(`${v.name}: the native tender did not run ${v.path}`);
    const r = runsOf(v.name);
    r.wall.push((first - start) * 1000);
    r.cpu.push(cpuMs(engine));
    r.rss.push(kib(engine, 'VmRSS') / 1024);
    tender.kill('SIGTERM');
    await new Promise((res) => tender.on('exit', res));
    r.marks.push(stderr.split('\n').filter((l) => l.startsWith('MARK ')));
  }
}

const bare = results.get('bare')!,
  bareIdle = results.get('bare idle')!;
const list = (xs: number[], digits = 0): string => xs.map((x) => x.toFixed(digits)).join(' ');
process.stdout.write(
  `bare engine: node -e 0 ${median(bare.wall).toFixed(1)} ms [${list(bare.wall)}], peak RSS ${median(bare.rss).toFixed(1)} MiB; ` +
    `idle: CPU ${median(bareIdle.cpu).toFixed(1)} ms [${list(bareIdle.cpu)}], VmRSS ${median(bareIdle.rss).toFixed(1)} MiB\n`,
);
for (const v of variants) {
  const r = results.get(v.name)!;
  process.stdout.write(
    `${v.name}: first reply ${median(r.wall).toFixed(1)} ms [${list(r.wall)}] (${(median(r.wall) / median(bare.wall)).toFixed(2)}×), ` +
      `CPU to idle ${median(r.cpu).toFixed(1)} ms [${list(r.cpu)}] (${(median(r.cpu) / median(bareIdle.cpu)).toFixed(2)}× idle bare), ` +
      `idle VmRSS ${median(r.rss).toFixed(1)} MiB [${list(r.rss, 1)}] (${(median(r.rss) / median(bare.rss)).toFixed(3)}× bare peak)\n`,
  );
  const names = r.marks[0]?.map((l) => l.split(' ')[1]!) ?? [];
  if (names.length === 0) continue;
  const at = (field: number): string =>
    names.map((n, i) => `${n} ${median(r.marks.map((ls) => Number(ls[i]?.split(' ')[field] ?? NaN))).toFixed(1)}`).join(', ');
  process.stdout.write(`  marks, ms since the time origin: ${at(2)}\n  marks, main-thread CPU ms: ${at(4)}\n`);
}
