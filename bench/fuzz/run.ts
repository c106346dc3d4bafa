/**
 * `npm run fuzz -- [--target NAME[,NAME]] [--runs N | --inputs N] [--seconds S] [--seed S]`:
 * feeds each target (bench/fuzz/*-targets.ts) its corpus
 * (bench/fuzz/corpus/NAME/) mutated, and random bytes, until N inputs or S
 * seconds, printing progress. A failing input is written to
 * bench/fuzz/crashes/ with its seed, and `npm run fuzz -- --replay FILE`
 * runs it again. `--init-corpus` (re)writes each target's seeds into its
 * corpus folder; `--minimize-corpus` removes the entries that reach no block
 * the others do not. `npm run fuzz -- 200000` (a bare number) is `--runs 200000`.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { APP_TARGETS } from './app-targets.ts';
import { CoverageGuide } from './coverage.ts';
import { nextInput, Rng } from './mutate.ts';
import { STACK_TARGETS } from './stack-targets.ts';
import type { Target } from './target.ts';
import { tlsTarget } from './tls-target.ts';
import { WIRE_TARGETS } from './wire-targets.ts';

export const TARGETS: Target[] = [...WIRE_TARGETS, ...APP_TARGETS, ...STACK_TARGETS, tlsTarget];
const HERE = new URL('.', import.meta.url);
export const CORPUS = new URL('corpus/', HERE);
export const CRASHES = new URL('crashes/', HERE);

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex').slice(0, 16);

/** A target's corpus: the files in its folder, or its seeds when there are none. */
export function corpus(t: Target): Uint8Array[] {
  try {
    const dir = new URL(`${t.name}/`, CORPUS);
    const files = readdirSync(dir).sort();
    if (files.length) return files.map((f) => new Uint8Array(readFileSync(new URL(f, dir))));
  } catch {}
  return t.seeds();
}

export interface Crash {
  readonly target: string;
  readonly seed: number;
  readonly input: number;
  readonly error: string;
  readonly hex: string;
  readonly file: string;
}

export interface FuzzResult {
  readonly target: string;
  readonly inputs: number;
  readonly ms: number;
  /** With coverage guidance: blocks of src/ covered, and inputs kept for reaching new ones. */
  readonly blocks?: number;
  readonly kept?: number;
  readonly crash?: Crash;
}

export interface FuzzOptions {
  readonly runs: number;
  readonly seconds: number;
  readonly seed: number;
  readonly crashDir?: URL;
  readonly progress?: (line: string) => void;
  /** Keep inputs that reach new blocks (V8 block coverage; about 20-50 times fewer inputs a second). */
  readonly coverage?: CoverageGuide;
  /** With coverage: write each kept input into the target's corpus folder. */
  readonly saveCorpus?: boolean;
}

/** The seed a target's generator starts from: the run's seed and the target's name, so targets do not share a stream. */
export function targetSeed(seed: number, name: string): number {
  return (seed ^ Number.parseInt(sha(new TextEncoder().encode(name)).slice(0, 8), 16)) >>> 0;
}

function describe(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message).split('\n').slice(0, 6).join('\n') : String(e);
}

/** Writes a crash file; returns its path. */
function saveCrash(t: Target, seed: number, input: number, error: string, b: Uint8Array, dir: URL): string {
  mkdirSync(dir, { recursive: true });
  const url = new URL(`${t.name}-${sha(b)}.json`, dir);
  const file = url.pathname;
  const replay = `npm run fuzz -- --replay ${file}`;
  writeFileSync(url, `${JSON.stringify({ target: t.name, seed, input, error, replay, hex: hex(b) }, null, 1)}\n`);
  return file;
}

/** With coverage guidance: keeps an input that reached new blocks. */
function keep(t: Target, o: FuzzOptions, pool: Uint8Array[], b: Uint8Array, seeding: boolean): number {
  if (!o.coverage || o.coverage.take() === 0 || seeding) return 0;
  pool.push(b);
  if (o.saveCorpus) {
    const dir = new URL(`${t.name}/`, CORPUS);
    mkdirSync(dir, { recursive: true });
    writeFileSync(new URL(`cov-${sha(b)}.bin`, dir), b);
  }
  return 1;
}

/** Fuzzes one target until `runs` inputs or `seconds` pass, or an input fails (then saved to `crashDir`). */
export async function fuzz(t: Target, o: FuzzOptions): Promise<FuzzResult> {
  const rng = new Rng(targetSeed(o.seed, t.name));
  const pool = corpus(t);
  const seeds = pool.length;
  const start = performance.now();
  let lastReport = start;
  let i = 0,
    kept = 0;
  o.coverage?.take();
  const stats = (): { blocks?: number; kept?: number } => (o.coverage ? { blocks: o.coverage.blocks, kept } : {});
  // The corpus itself first, unmutated: each entry (seeds and saved crashes) is a regression test.
  for (; i < o.runs; i++) {
    const b = i < seeds ? pool[i]! : nextInput(pool, rng, t.maxLen);
    try {
      const p = t.run(b);
      if (p) await p; // Only the event loop's targets pay for a turn of it.
    } catch (e) {
      const error = describe(e);
      const file = saveCrash(t, o.seed, i, error, b, o.crashDir ?? CRASHES);
      const crash = { target: t.name, seed: o.seed, input: i, error, hex: hex(b), file };
      return { target: t.name, inputs: i + 1, ms: performance.now() - start, ...stats(), crash };
    }
    kept += keep(t, o, pool, b, i < seeds);
    if ((i & 63) === 0) {
      const now = performance.now();
      if (i >= seeds && now - start > o.seconds * 1000) break; // the corpus always runs whole
      if (o.progress && now - lastReport > 5000) {
        lastReport = now;
        const cov = o.coverage ? `, ${o.coverage.blocks} blocks, ${kept} kept` : '';
        o.progress(`  ${t.name}: ${i} inputs, ${Math.round((i * 1000) / (now - start))}/s${cov}`);
      }
    }
  }
  return { target: t.name, inputs: i, ms: performance.now() - start, ...stats() };
}

export interface MinimizeResult {
  readonly target: string;
  readonly before: number;
  readonly after: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  /** Blocks the whole corpus covers, and what is kept covers (the same, by construction). */
  readonly blocks: number;
  readonly blocksKept: number;
  readonly removed: readonly string[];
}

/**
 * Coverage-preserving reduction of a target's corpus folder. Every entry runs once, alone, and V8's
 * report of it is kept; the blocks each entry covers are then read against every block any entry
 * showed (V8 leaves out a block whose count equals its function's, so one input's report alone does
 * not name all it ran: a block counts as run by an input whose function ran and no unrun range of which
 * contains it). Seeds (`seed-*`, rewritten by --init-corpus) and crashes (`crash-*`, regression tests)
 * always stay; the others, smallest first, stay when they cover a block nothing kept so far covers (the
 * greedy pass of afl-cmin), so the corpus covers exactly what it covered before. An entry that throws
 * stays (it is a crash to look at). `guide` must have been made before the target's code first ran.
 */
export async function minimizeCorpus(t: Target, guide: CoverageGuide, dir = new URL(`${t.name}/`, CORPUS)): Promise<MinimizeResult> {
  const names = readdirSync(dir).sort();
  const entries = names.map((f) => ({ f, b: new Uint8Array(readFileSync(new URL(f, dir))) }));
  guide.takeRaw();
  const reports = new Map<string, { ok: boolean; raw: Map<string, { unrun: string[]; run: string[] }> }>();
  for (const e of entries) {
    let ok = true;
    try {
      await t.run(e.b);
    } catch {
      ok = false;
    }
    reports.set(e.f, { ok, raw: guide.takeRaw() });
  }
  const known = new Map<string, Set<string>>();
  for (const { raw } of reports.values())
    for (const [fn, r] of raw) {
      const k = known.get(fn) ?? new Set<string>();
      known.set(fn, k);
      for (const x of [...r.unrun, ...r.run]) k.add(x);
    }
  const span = (x: string): [number, number] => x.split(':').map(Number) as [number, number];
  const covers = (raw: Map<string, { unrun: string[]; run: string[] }>): Set<string> => {
    const out = new Set<string>();
    for (const [fn, r] of raw) {
      out.add(fn);
      const unrun = r.unrun.map(span);
      for (const k of known.get(fn) ?? []) {
        const [s, e] = span(k);
        if (!unrun.some(([us, ue]) => us <= s && e <= ue)) out.add(`${fn}:${k}`);
      }
    }
    return out;
  };
  const pinned = (f: string): boolean => f.startsWith('seed-') || f.startsWith('crash-');
  const all = new Set<string>();
  const have = new Set<string>();
  for (const e of entries) {
    const c = covers(reports.get(e.f)!.raw);
    for (const x of c) all.add(x);
    if (pinned(e.f)) for (const x of c) have.add(x);
  }
  const removed: string[] = [];
  for (const e of entries.filter((x) => !pinned(x.f)).sort((x, y) => x.b.length - y.b.length || (x.f < y.f ? -1 : 1))) {
    const r = reports.get(e.f)!;
    const fresh = [...covers(r.raw)].filter((x) => !have.has(x));
    if (fresh.length === 0 && r.ok) removed.push(e.f);
    else for (const x of fresh) have.add(x);
  }
  for (const f of removed) rmSync(new URL(f, dir));
  const bytes = (xs: { b: Uint8Array }[]): number => xs.reduce((n, e) => n + e.b.length, 0);
  return {
    target: t.name,
    before: entries.length,
    after: entries.length - removed.length,
    bytesBefore: bytes(entries),
    bytesAfter: bytes(entries.filter((e) => !removed.includes(e.f))),
    blocks: all.size,
    blocksKept: have.size,
    removed,
  };
}

/** Runs a crash file's input through its target again; returns the error, or undefined when it passes now. */
export async function replay(file: string, targets: readonly Target[] = TARGETS): Promise<string | undefined> {
  const c = JSON.parse(readFileSync(file, 'utf8')) as { target: string; hex: string };
  const t = targets.find((x) => x.name === c.target);
  if (!t) throw new Error(`${file} names target '${c.target}', which does not exist; targets: ${targets.map((x) => x.name).join(', ')}`);
  try {
    await t.run(new Uint8Array(Buffer.from(c.hex, 'hex')));
    return undefined;
  } catch (e) {
    return describe(e);
  }
}

const USAGE = `usage: npm run fuzz -- [--target NAME[,NAME…]] [--runs N | --inputs N] [--seconds S] [--seed S] [--coverage [--save-corpus]]
       npm run fuzz -- --replay FILE
       npm run fuzz -- --init-corpus
       npm run fuzz -- --minimize-corpus [--target NAME[,NAME…]]
targets: ${TARGETS.map((t) => t.name).join(', ')}
`;

function fail(msg: string): never {
  process.stderr.write(`fuzz: ${msg}\n${USAGE}`);
  process.exit(64);
}

function parseArgs(argv: string[]): Record<string, string> {
  const a: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    if (/^\d+$/.test(k)) a.runs = k;
    else if (['--init-corpus', '--help', '--coverage', '--save-corpus', '--minimize-corpus'].includes(k)) a[k.slice(2)] = '1';
    else if (k === '--inputs' && argv[i + 1] !== undefined)
      a.runs = argv[++i]!; // --runs by the issue's name
    else if (['--target', '--runs', '--seconds', '--seed', '--replay'].includes(k) && argv[i + 1] !== undefined) a[k.slice(2)] = argv[++i]!;
    else fail(`unknown or incomplete argument '${k}'`);
  }
  return a;
}

function initCorpus(): void {
  for (const t of TARGETS) {
    const dir = new URL(`${t.name}/`, CORPUS);
    mkdirSync(dir, { recursive: true });
    for (const s of t.seeds()) writeFileSync(new URL(`seed-${sha(s)}.bin`, dir), s);
  }
  process.stdout.write(`fuzz: wrote the seeds of ${TARGETS.length} targets under ${CORPUS.pathname}\n`);
}

async function main(argv: string[]): Promise<number> {
  const a = parseArgs(argv);
  if (a.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (a['init-corpus']) {
    initCorpus();
    return 0;
  }
  if (a.replay) {
    const err = await replay(a.replay);
    process.stdout.write(err ? `fuzz: ${a.replay} still fails:\n${err}\n` : `fuzz: ${a.replay} passes now\n`);
    return err ? 1 : 0;
  }
  if (a['minimize-corpus']) {
    const guide = new CoverageGuide(); // Before any target's code runs.
    for (const n of a.target ? a.target.split(',') : TARGETS.map((t) => t.name)) {
      const t = TARGETS.find((x) => x.name === n) ?? fail(`no target '${n}'`);
      const r = await minimizeCorpus(t, guide);
      process.stdout.write(
        `fuzz: ${t.name}: corpus ${r.before} → ${r.after} entries, ${r.bytesBefore} → ${r.bytesAfter} bytes, ${r.blocks} → ${r.blocksKept} blocks of src/ covered\n`,
      );
    }
    guide.stop();
    return 0;
  }
  const runs = Number(a.runs ?? 100_000);
  const seconds = Number(a.seconds ?? 600);
  const seed = Number(a.seed ?? Date.now() % 0xffffffff) >>> 0;
  if (!Number.isSafeInteger(runs) || runs <= 0) fail(`--runs must be a whole number above 0, not '${a.runs}'`);
  if (!(seconds > 0)) fail(`--seconds must be a number above 0, not '${a.seconds}'`);
  const names = a.target ? a.target.split(',') : TARGETS.map((t) => t.name);
  const chosen = names.map((n) => TARGETS.find((t) => t.name === n) ?? fail(`no target '${n}'`));
  process.stdout.write(
    `fuzz: ${chosen.length} targets, up to ${runs} inputs or ${seconds} s each, seed ${seed} (--seed ${seed} replays the run)\n`,
  );
  // Started before any target runs: V8 counts blocks only in code compiled after this.
  const coverage = a.coverage ? new CoverageGuide() : undefined;
  let failed = 0;
  // A target that fails stops; the others still run (a campaign reports on every target).
  for (const t of chosen) {
    coverage?.reset();
    const progress = (l: string): void => void process.stdout.write(`${l}\n`);
    const r = await fuzz(t, { runs, seconds, seed, progress, coverage, saveCorpus: a['save-corpus'] === '1' });
    const rate = Math.round((r.inputs * 1000) / r.ms);
    process.stdout.write(
      `fuzz: ${t.name}: ${r.inputs} inputs in ${(r.ms / 1000).toFixed(1)} s, ${rate}/s${r.blocks === undefined ? '' : `, ${r.blocks} blocks of src/ covered, ${r.kept} inputs kept`}${r.crash ? ', FAILED' : ', ok'}\n`,
    );
    const counts = Object.entries(t.counts?.() ?? {}).sort((x, y) => y[1] - x[1]);
    if (counts.length) process.stdout.write(`  ${counts.map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
    if (r.crash) {
      process.stdout.write(`${r.crash.error}\n  input ${r.crash.hex.slice(0, 160)}${r.crash.hex.length > 160 ? '…' : ''}\n`);
      process.stdout.write(`  saved to ${r.crash.file}\n  replay: npm run fuzz -- --replay ${r.crash.file}\n`);
      failed++;
    }
  }
  if (failed) process.stdout.write(`fuzz: ${failed} of ${chosen.length} targets failed (seed ${seed})\n`);
  return failed ? 1 : 0;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
