/**
 * examples/dns-server against NSD serving the same zone, in the same run,
 * with the same bounded load client (dnsperf): queries per second and p99
 * latency, as a ratio to NSD.
 *
 * Topology (namespaces made here and removed at exit):
 *   client ns: dnsperf; tap0 10.0.0.1 ⇄ Fata's dns-server sealed on spt at 10.0.0.2;
 *              veth 10.0.1.1 ⇄ server ns 10.0.1.2: NSD (1 server process, RRL off).
 * The query mix: an A, a CNAME chain, a wildcard TXT, an NXDOMAIN, a NODATA,
 * an MX with additional data and an AAAA, in turn. Besides the rates, each
 * server's CPU per answered query (every thread of every process it runs:
 * Fata's CLI, tender and sealed engine; NSD's processes), which on a shared
 * 2-core machine says more than the rate: one load client and the server
 * share the cores, and the client is often the one that runs out.
 *
 *   node bench/dns.ts [SECONDS]   (per run, default 8; 2 runs each, alternating)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNsd } from '../test/nsd.ts';
import { emit, has, median, needRoot, netns, sh, sleep, tapIn, treeCpuNs, veth } from './lib.ts';

needRoot('dns');
for (const c of ['dnsperf', 'nsd']) {
  if (!has(c)) {
    process.stdout.write(`SKIP dns: needs '${c}' (apt-get install dnsperf nsd)\n`);
    process.exit(0);
  }
}
const SECONDS = Number(process.argv[2] ?? 8);
const ROOT = new URL('..', import.meta.url).pathname;
const FATA = join(ROOT, 'bin/fata.mjs');
const say = (s: string): void => {
  process.stdout.write(s + '\n');
};

mkdirSync(join(ROOT, 'out'), { recursive: true });
const dir = mkdtempSync(join(ROOT, 'out', 'bench-dns-'));
const children: ChildProcess[] = [];
process.on('exit', () => {
  // The whole process group: a server that forks (nginx's workers) must not outlive its master.
  for (const c of children) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

say('dns: building the dns-server image (spt)');
sh([process.execPath, FATA, 'build', '-t', 'spt', 'examples/dns-server']);
const C = netns(`fata-bd-c-${process.pid}`),
  S = netns(`fata-bd-s-${process.pid}`);
tapIn(C, '10.0.0.1/24');
veth(C, '10.0.1.1/24', S, '10.0.1.2/24');
const inNs = (ns: string, argv: string[]): ChildProcess => {
  const c = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: 'ignore', detached: true });
  children.push(c);
  return c;
};
// The server's journal device (dynamic updates; none are sent here).
const journal = join(dir, 'journal.img');
writeFileSync(journal, new Uint8Array(1 << 20));
const fataProc = inNs(C, [
  process.execPath,
  FATA,
  'run',
  '--net:service=tap0',
  `--block:journal=${journal}`,
  join(ROOT, 'examples/dns-server/dist/dns-server.fata'),
  '--ipv4=10.0.0.2/24',
  '-l',
  'warn',
]);
startNsd(
  { start: (argv) => inNs(S, argv) },
  dir,
  '10.0.1.2',
  'example.test.',
  readFileSync(join(ROOT, 'examples/dns-server/zones/example.test.zone'), 'utf8'),
);
await sleep(3000);

const queries = join(dir, 'queries');
writeFileSync(
  queries,
  [
    'www.example.test A',
    'alias.example.test A',
    'x.wild.example.test TXT',
    'nope.example.test A',
    'www.example.test MX',
    'example.test MX',
    'www.example.test AAAA',
  ].join('\n') + '\n',
);

/** The servers' process trees: Fata's `fata run` (its tender and engine below it), and every process in NSD's namespace. */
const serverCpuNs = (server: string): number =>
  server === '10.0.0.2' ? treeCpuNs([fataProc.pid!]) : treeCpuNs(sh(['ip', 'netns', 'pids', S]).split(/\s+/).filter(Boolean).map(Number));

function dnsperf(server: string): { qps: number; p99: number; lost: number; cpuUs: number } {
  // -v prints one line per query with its latency (p99 comes from those): too much for a pipe, so to a file.
  const file = join(dir, 'dnsperf.out');
  const cpu0 = serverCpuNs(server);
  sh(['sh', '-c', `ip netns exec ${C} dnsperf -s ${server} -d ${queries} -l ${SECONDS} -c 4 -q 64 -t 2 -v > ${file}`], {
    timeoutMs: (SECONDS + 30) * 1000,
  });
  const cpu = serverCpuNs(server) - cpu0;
  const out = readFileSync(file, 'utf8');
  const completed = Number(/Queries completed:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const lost = Number(/Queries lost:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const lat: number[] = [];
  for (const m of out.matchAll(/^> \w+ .* ([\d.]+)$/gm)) lat.push(Number(m[1]));
  lat.sort((a, b) => a - b);
  const p99 = lat.length ? lat[Math.floor(lat.length * 0.99)]! * 1000 : NaN;
  return { qps, p99, lost, cpuUs: completed ? cpu / 1000 / completed : NaN };
}

// Both answer correctly before anything is timed.
for (const s of ['10.0.0.2', '10.0.1.2']) {
  const o = sh(['ip', 'netns', 'exec', C, 'kdig', `@${s}`, '+short', 'alias.example.test', 'A'], { allowFail: true });
  if (!o.includes('192.0.2.80')) {
    say(`dns: ${s} does not answer correctly: ${o}`);
    process.exit(1);
  }
}
say(
  `dns: dnsperf -c4 -q64 -l${SECONDS} against each server, alternating, 2 runs (Fata on spt, NSD 1 process, RRL off), engine ${process.version}`,
);
type Run = { qps: number; p99: number; lost: number; cpuUs: number };
const runs: Record<'fata' | 'nsd', Run[]> = { fata: [], nsd: [] };
for (let i = 0; i < 2; i++) {
  runs.fata.push(dnsperf('10.0.0.2'));
  runs.nsd.push(dnsperf('10.0.1.2'));
}
const pick = (xs: Run[]): Run => ({
  qps: median(xs.map((x) => x.qps)),
  p99: median(xs.map((x) => x.p99)),
  lost: xs.reduce((a, x) => a + x.lost, 0),
  cpuUs: median(xs.map((x) => x.cpuUs)),
});
const f = pick(runs.fata),
  n = pick(runs.nsd);
say(
  `  fata ${f.qps.toFixed(0)} q/s p99 ${f.p99.toFixed(2)} ms (lost ${f.lost}) | nsd ${n.qps.toFixed(0)} q/s p99 ${n.p99.toFixed(2)} ms (lost ${n.lost}) | fata/nsd ${(f.qps / n.qps).toFixed(2)}×`,
);
say(
  `  CPU per answered query: fata ${f.cpuUs.toFixed(2)} µs | nsd ${n.cpuUs.toFixed(2)} µs | nsd/fata ${(n.cpuUs / f.cpuUs).toFixed(2)}× (above 1: Fata does a query's work in less)`,
);
emit({
  bench: 'dns',
  metric: 'authoritative UDP queries/s',
  value: f.qps,
  unit: 'q/s',
  reference: n.qps,
  referenceName: 'NSD (1 process, RRL off)',
  floor: 0.3,
});
emit({
  bench: 'dns',
  metric: 'CPU per answered query',
  value: f.cpuUs,
  unit: 'µs',
  reference: n.cpuUs,
  referenceName: 'NSD (all its processes)',
  lowerIsBetter: true,
});
emit({
  bench: 'dns',
  metric: 'authoritative UDP p99 latency',
  value: f.p99,
  unit: 'ms',
  reference: n.p99,
  referenceName: 'NSD (1 process, RRL off)',
  lowerIsBetter: true,
});
process.exit(0);
