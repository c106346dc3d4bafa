/**
 * What the benchmarks share: running commands, namespaces they make and
 * always remove, and one machine-readable line per measurement
 * (`BENCH {json}`) that `bench/run.ts` collects into BENCHMARKS.md.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface Result {
  /** Which benchmark and which measurement: `http`, `1 KB keep-alive HTTP req/s`. */
  readonly bench: string;
  readonly metric: string;
  readonly value: number;
  readonly unit: string;
  /** The reference measured in the same run, and its name. */
  readonly reference?: number;
  readonly referenceName?: string;
  /** value / reference (or reference / value when lower is better): above 1 means Fata does better. */
  readonly ratio?: number;
  readonly lowerIsBetter?: boolean;
  /** The floor for the ratio, where it names one. */
  readonly floor?: number;
}

/** The ratio from the reference, oriented so that above 1 means Fata does better; none without a reference. */
function ratioOf(r: Result): number | undefined {
  if (!r.reference) return undefined;
  return r.lowerIsBetter ? r.reference / r.value : r.value / r.reference;
}

export function emit(r: Result): void {
  let ratio = r.ratio ?? ratioOf(r);
  if (ratio !== undefined && !Number.isFinite(ratio)) ratio = undefined; // A run with no result (all errors) has no ratio.
  process.stdout.write(`BENCH ${JSON.stringify({ ...r, ratio })}\n`);
}

export function sh(argv: string[], opts: { timeoutMs?: number; allowFail?: boolean } = {}): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 16 << 20, timeout: opts.timeoutMs ?? 300_000 });
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${argv.join(' ')}: ${r.stderr || r.error?.message}`);
  return r.stdout ?? '';
}

export const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

export function needRoot(name: string): void {
  if (process.getuid?.() !== 0) {
    process.stdout.write(`SKIP ${name}: needs root (namespaces, veth, tap)\n`);
    process.exit(0);
  }
}

/** Namespaces made through this are removed (taps first) at exit, whatever happens. */
const made: string[] = [];
export function netns(name: string): string {
  sh(['ip', 'netns', 'add', name]);
  made.push(name);
  sh(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
  return name;
}
export function cleanup(): void {
  for (const ns of made.splice(0)) {
    for (const tap of ['tap0', 'tap1']) spawnSync('ip', ['netns', 'exec', ns, 'ip', 'tuntap', 'del', 'dev', tap, 'mode', 'tap']);
    spawnSync('ip', ['netns', 'del', ns]);
  }
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });

/** A tap (`tap0` unless named) in `ns` with `cidr` on the kernel side. */
export function tapIn(ns: string, cidr: string, tap = 'tap0'): void {
  sh(['ip', 'netns', 'exec', ns, 'ip', 'tuntap', 'add', 'dev', tap, 'mode', 'tap']);
  sh(['ip', '-n', ns, 'addr', 'add', cidr, 'dev', tap]);
  sh(['ip', '-n', ns, 'link', 'set', tap, 'up']);
}

/** A veth pair between two namespaces with an address on each end. */
export function veth(a: string, aCidr: string, b: string, bCidr: string): void {
  const ea = `v${process.pid % 100000}a`,
    eb = `v${process.pid % 100000}b`;
  sh(['ip', 'link', 'add', ea, 'netns', a, 'type', 'veth', 'peer', 'name', eb, 'netns', b]);
  sh(['ip', '-n', a, 'addr', 'add', aCidr, 'dev', ea]);
  sh(['ip', '-n', b, 'addr', 'add', bCidr, 'dev', eb]);
  sh(['ip', '-n', a, 'link', 'set', ea, 'up']);
  sh(['ip', '-n', b, 'link', 'set', eb, 'up']);
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
};
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * CPU time (ns, on-CPU time of every thread, from /proc/PID/task/TID/schedstat) of the processes
 * `roots` and all their descendants: what a server costs, whatever the load of the machine (wall-clock
 * rates on a shared machine follow the other tenants; CPU per unit of work much less).
 */
export function treeCpuNs(roots: number[]): number {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  const all = new Set(roots);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, pp] of parent)
      if (all.has(pp) && !all.has(pid)) {
        all.add(pid);
        grew = true;
      }
  }
  let ns = 0;
  for (const pid of all) {
    try {
      for (const t of readdirSync(`/proc/${pid}/task`))
        ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      /* gone */
    }
  }
  return ns;
}

/**
 * When `ping -D` (reading `stdout`) first prints a reply: its timestamp, in seconds since the epoch. Rejects after
 * `timeoutMs` with `why()` in the message (what the unikernel said, say).
 */
export function firstEchoReply(stdout: NodeJS.ReadableStream, timeoutMs = 10_000, why: () => string = () => ''): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no echo reply within ${timeoutMs / 1000} s ${why()}`.trim())), timeoutMs);
    stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^\[(\d+\.\d+)\] \d+ bytes from/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
}
