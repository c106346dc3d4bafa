/**
 * Before and after, in one run: the website unikernel built from another
 * revision (A) and from this checkout (B), both sealed on spt, side by side
 * in one namespace, and wrk alternating between them round by round (ABBA…).
 * On a shared machine whose speed drifts by 2× within minutes, only an
 * interleaved comparison says whether a change cost anything; the spread of
 * A's own rounds is the noise.
 *
 *   node bench/ab.ts REV [ROUNDS] [SECONDS] [ROWS]   (root)
 *   ROWS: comma-separated proto:path:mode, mode ka (keep-alive) or close;
 *         default http:/1k.html:ka,http:/1m.bin:ka,https:/1k.html:ka,https:/1m.bin:ka
 *
 * REV is checked out with `git worktree` under out/ (removed at exit) and
 * runs with this checkout's node_modules.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { has, median, needRoot, netns, sh, sleep, tapIn } from './lib.ts';

needRoot('ab');
if (!has('wrk')) {
  process.stdout.write(`SKIP ab: needs 'wrk' (apt-get install wrk)\n`);
  process.exit(0);
}
const [rev, rounds = '5', seconds = '6', rowList = 'http:/1k.html:ka,http:/1m.bin:ka,https:/1k.html:ka,https:/1m.bin:ka'] =
  process.argv.slice(2);
if (!rev) {
  process.stderr.write('usage: node bench/ab.ts REV [ROUNDS] [SECONDS] [ROWS]  (REV: a commit to compare this checkout with)\n');
  process.exit(2);
}
const ROOT = new URL('..', import.meta.url).pathname;
const ROUNDS = Number(rounds),
  SECONDS = Number(seconds);
const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

const A = join(ROOT, 'out', `ab-${process.pid}`);
const children: ChildProcess[] = [];
const sites: string[] = [];
process.on('exit', () => {
  for (const c of children) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  for (const s of sites) rmSync(s, { recursive: true, force: true });
  spawnSync('git', ['-C', ROOT, 'worktree', 'remove', '--force', A]);
});
mkdirSync(join(ROOT, 'out'), { recursive: true });
sh(['git', '-C', ROOT, 'worktree', 'add', '--detach', A, rev]);
if (!existsSync(join(A, 'node_modules'))) symlinkSync(join(ROOT, 'node_modules'), join(A, 'node_modules'));
const sha = sh(['git', '-C', A, 'rev-parse', '--short', 'HEAD']).trim();
const here = sh(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD']).trim();

// The same site (this checkout's examples/website plus the two bench files), built by each revision's own `fata build`.
for (const [i, root] of [A, ROOT].entries()) {
  const site = join(root, 'out', `ab-site-${process.pid}-${i}`);
  sites.push(site);
  cpSync(join(ROOT, 'examples/website'), site, { recursive: true, filter: (p) => !p.includes('/dist') && !p.includes('/.fata') });
  writeFileSync(join(site, 'htdocs/1k.html'), Buffer.from(`<p>${'x'.repeat(1016)}</p>\n\n`).subarray(0, 1024));
  writeFileSync(join(site, 'htdocs/1m.bin'), Buffer.alloc(1 << 20, 7));
  say(`ab: building the website with ${i ? `this checkout (${here})` : `${rev} (${sha})`}`);
  sh([process.execPath, join(root, 'bin/fata.mjs'), 'build', '-t', 'spt', site]);
}
const C = netns(`fata-ab-${process.pid}`);
const ips = ['10.0.0.2', '10.0.2.2'];
tapIn(C, '10.0.0.1/24', 'tap0');
tapIn(C, '10.0.2.1/24', 'tap1');
/** Starts revision i's unikernel and waits for its first echo reply (up to 10 s); false with its log shown if none came. */
function start(i: number): boolean {
  const root = [A, ROOT][i]!,
    logFile = join(sites[i]!, 'run.log');
  const log = openSync(logFile, 'w');
  const c = spawn(
    'ip',
    [
      ...['netns', 'exec', C, process.execPath, join(root, 'bin/fata.mjs'), 'run', `--net:service=tap${i}`],
      ...[join(sites[i]!, 'dist/website.fata'), `--ipv4=${ips[i]}/24`, '--http-port=80', '--https-port=443'],
      ...['--access-log=false', '-l', 'info'],
    ],
    { stdio: ['ignore', log, log], detached: true },
  );
  children.push(c);
  if (/ 1 received/.test(sh(['ip', 'netns', 'exec', C, 'ping', '-c1', '-w10', ips[i]!], { allowFail: true }))) return true;
  say(`ab: ${ips[i]} (${i ? 'B' : 'A'}) did not answer; its log:\n${readFileSync(logFile, 'utf8')}`);
  try {
    process.kill(-c.pid!, 'SIGKILL');
  } catch {
    /* already gone */
  }
  return false;
}
// An old revision may carry a start-up race fixed since (9d02b34): three tries each.
for (const i of [0, 1]) {
  if (!start(i) && !start(i) && !start(i)) process.exit(1);
}
await sleep(500);

const UNIT: Record<string, number> = { us: 1e-3, ms: 1, s: 1000 };
function wrk(url: string, close: boolean): { rps: number; p99: number } {
  const out = sh(
    [
      ...['ip', 'netns', 'exec', C, 'wrk', '-t1', '-c50', `-d${SECONDS}s`, '--timeout', '5s', '--latency'],
      ...(close ? ['-H', 'Connection: close'] : []),
      url,
    ],
    { timeoutMs: (SECONDS + 30) * 1000 },
  );
  const m = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0), p99: m ? Number(m[1]) * UNIT[m[2]!]! : Number.NaN };
}

say(
  `ab: wrk -t1 -c50 -d${SECONDS}s, ${ROUNDS} rounds per row, A = ${rev} (${sha}), B = this checkout (${here}); B/A above 1 is faster (req/s) or slower (p99)`,
);
const fmt = (xs: number[]): string => xs.map((x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1))).join(' ');
const spread = (xs: number[]): string => `±${((100 * (Math.max(...xs) - Math.min(...xs))) / 2 / median(xs)).toFixed(0)}%`;
for (const row of rowList.split(',')) {
  const [proto, path, mode] = row.split(':');
  const got = [
    { rps: [] as number[], p99: [] as number[] },
    { rps: [] as number[], p99: [] as number[] },
  ];
  for (let r = 0; r < ROUNDS; r++) {
    for (const i of r % 2 ? [1, 0] : [0, 1]) {
      const x = wrk(`${proto}://${ips[i]}${path}`, mode === 'close');
      got[i]!.rps.push(x.rps);
      got[i]!.p99.push(x.p99);
    }
  }
  const [a, b] = got as [(typeof got)[0], (typeof got)[0]];
  say(
    `  ${row.padEnd(20)} req/s A ${fmt(a.rps)} | B ${fmt(b.rps)} | B/A ${(median(b.rps) / median(a.rps)).toFixed(2)} (A's spread ${spread(a.rps)})`,
  );
  say(
    `  ${''.padEnd(20)} p99 ms A ${fmt(a.p99)} | B ${fmt(b.p99)} | B/A ${(median(b.p99) / median(a.p99)).toFixed(2)} (A's spread ${spread(a.p99)})`,
  );
}
process.exit(0);
