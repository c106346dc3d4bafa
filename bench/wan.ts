/**
 * TCP on long and lossy paths: one connection moving MB megabytes through
 * `fata relay` (a user-space netem) with the same impairment and seed for
 * the kernel's TCP and for Fata's, in the same run. The receiver is the
 * kernel (socat | head) in both; the sender is the kernel's socat (with
 * CUBIC, as Fata, and with the host's default, BBR here) or Fata's sealed
 * examples/echo chargen. Goodput and the ratio to the kernel, per
 * path and seed, and the spread over seeds.
 *
 * Topology (namespaces made here and removed at exit):
 *   A: the receiving client, 10.0.9.1 on tap ra ─ relay (in R) ─ tap rb on
 *   bridge br0 in B: the kernel's sender at 10.0.9.2, Fata's at 10.0.9.3 on tap w0.
 *
 *   node bench/wan.ts [MB] [SEEDS]   (root; default 50 MB, 3 seeds; the lossy rows at most 10 and 5 MB, see maxMb)
 *   FATA_WAN_CC=bbr: Fata's sender runs BBR (the boot argument --tcp-congestion=bbr) instead of CUBIC.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { emit, median, needRoot, netns, sh } from './lib.ts';

needRoot('wan');
const MB = Number(process.argv[2] ?? 50);
const SEEDS = Number(process.argv[3] ?? 3);
const ROOT = new URL('..', import.meta.url).pathname;
const FATA = join(ROOT, 'bin/fata.mjs');
const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

// maxMb: CUBIC (the kernel's and Fata's) moves about 3 Mbit/s at 1% loss and 0.9 at 5% here, so 50 MB would take
// 2 and 7 minutes a transfer (nine transfers a row); those rows move at most this much unless FATA_WAN_FULL=1.
const ALL_PATHS: { name: string; impair: string; floor: number; maxMb?: number }[] = [
  { name: '100 Mbit/s, 100 ms RTT, clean', impair: 'rate=100mbit,delay=50ms', floor: 0.9 },
  { name: '100 Mbit/s, 40 ms RTT, 1% loss each way', impair: 'rate=100mbit,delay=20ms,loss=1%', floor: 0.9, maxMb: 10 },
  { name: '100 Mbit/s, 40 ms RTT, 5% loss', impair: 'rate=100mbit,delay=20ms,loss=5%', floor: 0.8, maxMb: 5 },
  { name: '100 Mbit/s, 20 ms RTT, 10% reordering', impair: 'rate=100mbit,delay=10ms,reorder=10%', floor: 0.9 },
];

// FATA_WAN_PATHS=0,2: only those rows (by index).
// FATA_WAN_CC=NAME: Fata's congestion control (--tcp-congestion; the stack's default, CUBIC, when unset).
const FATA_CC = process.env.FATA_WAN_CC;
const PATHS = process.env.FATA_WAN_PATHS ? process.env.FATA_WAN_PATHS.split(',').map((i) => ALL_PATHS[Number(i)]!) : ALL_PATHS;
const children: ChildProcess[] = [];
const start = (ns: string, argv: string[]): ChildProcess => {
  const c = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: 'ignore', detached: true });
  children.push(c);
  return c;
};
const kill = (c: ChildProcess | undefined): void => {
  try {
    if (c) process.kill(-c.pid!, 'SIGKILL');
  } catch {
    /* gone */
  }
};
process.on('exit', () => {
  for (const c of children) kill(c);
});
const waitFor = (what: () => boolean, ms = 10_000): void => {
  for (let t = 0; t < ms && !what(); t += 100) spawnSync('sleep', ['0.1']);
};

const id = process.pid;
const R = netns(`fata-wan-r-${id}`),
  A = netns(`fata-wan-a-${id}`),
  B = netns(`fata-wan-b-${id}`);
say(
  `wan: building examples/echo (spt); ${MB} MB per transfer, ${SEEDS} seed(s), Fata with ${FATA_CC ?? 'cubic'}, engine ${process.version}`,
);
sh([process.execPath, FATA, 'build', '-t', 'spt', join(ROOT, 'examples/echo')]);
sh(['ip', '-n', B, 'link', 'add', 'br0', 'type', 'bridge']);
sh(['ip', '-n', B, 'addr', 'add', '10.0.9.2/24', 'dev', 'br0']);
sh(['ip', '-n', B, 'link', 'set', 'br0', 'up']);
sh(['ip', 'netns', 'exec', B, 'ip', 'tuntap', 'add', 'dev', 'w0', 'mode', 'tap']);
sh(['ip', '-n', B, 'link', 'set', 'w0', 'master', 'br0', 'up']);
start(B, [
  process.execPath,
  FATA,
  'run',
  '--net:service=w0',
  join(ROOT, 'examples/echo/dist/echo.fata'),
  '--ipv4=10.0.9.3/24',
  ...(FATA_CC ? [`--tcp-congestion=${FATA_CC}`] : []),
  '-l',
  'warn',
]);
// Two kernel senders: CUBIC, the algorithm Fata runs (the like-for-like reference), and the host's default
// (BBR on this machine, which does not back off on random loss). CUBIC is set per socket (TCP_CONGESTION,
// IPPROTO_TCP 6, option 13): a namespace may not change its default to an algorithm it does not allow.
const DEFAULT_CC = sh(['sysctl', '-n', 'net.ipv4.tcp_congestion_control']).trim();
const KERNELS = [{ cc: 'cubic', port: 5019 }, ...(DEFAULT_CC === 'cubic' ? [] : [{ cc: DEFAULT_CC, port: 5020 }])];
for (const k of KERNELS) {
  const opt = k.cc === DEFAULT_CC ? '' : `,setsockopt-string=6:13:${k.cc}`;
  start(B, ['socat', '-u', 'OPEN:/dev/zero', `TCP-LISTEN:${k.port},reuseaddr,fork${opt}`]);
  waitFor(() => sh(['ip', 'netns', 'exec', B, 'ss', '-ltn']).includes(`:${k.port}`));
}

let relay: ChildProcess | undefined;
/** A fresh relay with this impairment: its taps are made in R and moved to A and B's bridge. */
function relayWith(impair: string): void {
  kill(relay);
  waitFor(() => !sh(['ip', '-n', R, 'link', 'show']).includes('ra'));
  const argv = [process.execPath, FATA, 'relay', '--a=ra,create', '--b=rb,create', `--impair=${impair}`];
  // FATA_WAN_LOG=FILE: the relay's per-second counts, for seeing where a slow transfer lost its time.
  const log = process.env.FATA_WAN_LOG;
  relay = log ? start(R, ['sh', '-c', `exec "$@" --stats=1 >> ${log}`, 'relay', ...argv]) : start(R, argv);
  waitFor(() => sh(['ip', '-n', R, 'link', 'show']).includes('rb:'));
  sh(['ip', '-n', R, 'link', 'set', 'ra', 'netns', A]);
  sh(['ip', '-n', R, 'link', 'set', 'rb', 'netns', B]);
  sh(['ip', '-n', A, 'addr', 'add', '10.0.9.1/24', 'dev', 'ra']);
  sh(['ip', '-n', A, 'link', 'set', 'ra', 'up']);
  sh(['ip', '-n', B, 'link', 'set', 'rb', 'master', 'br0', 'up']);
  waitFor(() => spawnSync('ip', ['netns', 'exec', A, 'ping', '-c1', '-W1', '10.0.9.3']).status === 0, 20_000);
}

/**
 * Mbit/s of one connection reading `mb` megabytes from HOST:PORT in A; 0 when it did not finish in time: 5 minutes,
 * or as long as the transfer takes at 0.4 Mbit/s when that is longer (50 MB at 5% loss moves at about 0.9 Mbit/s).
 */
function goodput(host: string, port: number, mb: number): number {
  const limitS = Math.max(300, Math.ceil((mb * 8) / 0.4));
  const t0 = process.hrtime.bigint();
  // `timeout` ends socat itself (a timed-out spawnSync killed only the shell and left socat running).
  const r = spawnSync(
    'ip',
    ['netns', 'exec', A, 'sh', '-c', `timeout ${limitS} socat -u TCP:${host}:${port} - | head -c ${mb}000000 | wc -c`],
    {
      encoding: 'utf8',
      timeout: (limitS + 10) * 1000,
    },
  );
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return Number(r.stdout.trim()) === mb * 1e6 ? (mb * 8) / s : 0;
}

for (const p of PATHS) {
  const mb = p.maxMb !== undefined && !process.env.FATA_WAN_FULL ? Math.min(MB, p.maxMb) : MB;
  const kernel: Record<string, number[]> = Object.fromEntries(KERNELS.map((k) => [k.cc, []]));
  const fata: number[] = [];
  for (let seed = 1; seed <= SEEDS; seed++) {
    for (const k of KERNELS) {
      relayWith(`${p.impair},seed=${seed}`);
      kernel[k.cc]!.push(goodput('10.0.9.2', k.port, mb));
    }
    relayWith(`${p.impair},seed=${seed}`);
    fata.push(goodput('10.0.9.3', 19, mb));
  }
  const fmt = (xs: number[]): string => xs.map((x) => (x > 0 ? x.toFixed(1) : 'timed out')).join(' / ');
  const ratio = (ref: number[]): string => fata.map((f, i) => (f / ref[i]!).toFixed(2)).join(' / ');
  say(
    `  ${p.name.padEnd(42)} ${mb} MB: fata (${FATA_CC ?? 'cubic'}) ${fmt(fata)} Mbit/s | ` +
      KERNELS.map((k) => `kernel ${k.cc} ${fmt(kernel[k.cc]!)} (fata/${k.cc} ${ratio(kernel[k.cc]!)})`).join(' | ') +
      ` (floor ${p.floor})`,
  );
  for (const k of KERNELS)
    emit({
      bench: 'wan',
      metric: `${p.name}: one connection, ${mb} MB, Fata${FATA_CC ? ` (${FATA_CC})` : ''} sends (median of ${SEEDS} seeds), against the kernel's ${k.cc}`,
      value: median(fata),
      unit: 'Mbit/s',
      reference: median(kernel[k.cc]!),
      referenceName: `kernel TCP (${k.cc}) through the same relay and seeds`,
      floor: k.cc === (FATA_CC ?? 'cubic') ? p.floor : undefined,
    });
}
kill(relay);
process.exit(0);
