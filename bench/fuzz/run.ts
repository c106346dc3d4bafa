/**
 * `npm run fuzz -- [--target NAME[,NAME]] [--runs N] [--seconds S] [--seed S]`:
 * feeds each target (bench/fuzz/*-targets.ts) its corpus
 * (bench/fuzz/corpus/NAME/) mutated, and random bytes, until N inputs or S
 * seconds, printing progress. A failing input is written to
 * bench/fuzz/crashes/ with its seed, and `npm run fuzz -- --replay FILE`
 * runs it again. `--init-corpus` (re)writes each target's seeds into its
 * corpus folder. `npm run fuzz -- 200000` (a bare number) is `--runs 200000`.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { APP_TARGETS } from './app-targets.ts';
import { nextInput, Rng } from './mutate.ts';
import { STACK_TARGETS } from './stack-targets.ts';
import type { Target } from './target.ts';
import { WIRE_TARGETS } from './wire-targets.ts';

export const TARGETS: Target[] = [...WIRE_TARGETS, ...APP_TARGETS, ...STACK_TARGETS];
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
  readonly crash?: Crash;
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

/** Fuzzes one target until `runs` inputs or `seconds` pass, or an input fails (then saved to `crashDir`). */
export function fuzz(
  t: Target,
  o: { runs: number; seconds: number; seed: number; crashDir?: URL; progress?: (line: string) => void },
): FuzzResult {
  const seed = targetSeed(o.seed, t.name);
  const rng = new Rng(seed);
  const pool = corpus(t);
  const start = performance.now();
  let lastReport = start;
  let i = 0;
  // The corpus itself first, unmutated: each entry (seeds and saved crashes) is a regression test.
  for (; i < o.runs; i++) {
    const b = i < pool.length ? pool[i]! : nextInput(pool, rng, t.maxLen);
    try {
      t.run(b);
    } catch (e) {
      const error = describe(e);
      const file = saveCrash(t, o.seed, i, error, b, o.crashDir ?? CRASHES);
      return {
        target: t.name,
        inputs: i + 1,
        ms: performance.now() - start,
        crash: { target: t.name, seed: o.seed, input: i, error, hex: hex(b), file },
      };
    }
    if ((i & 63) === 0) {
      const now = performance.now();
      if (now - start > o.seconds * 1000) break;
      if (o.progress && now - lastReport > 5000) {
        lastReport = now;
        o.progress(`  ${t.name}: ${i} inputs, ${Math.round((i * 1000) / (now - start))}/s`);
      }
    }
  }
  return { target: t.name, inputs: i, ms: performance.now() - start };
}

/** Runs a crash file's input through its target again; returns the error, or undefined when it passes now. */
export function replay(file: string, targets: readonly Target[] = TARGETS): string | undefined {
  const c = JSON.parse(readFileSync(file, 'utf8')) as { target: string; hex: string };
  const t = targets.find((x) => x.name === c.target);
  if (!t) throw new Error(`${file} names target '${c.target}', which does not exist; targets: ${targets.map((x) => x.name).join(', ')}`);
  try {
    t.run(new Uint8Array(Buffer.from(c.hex, 'hex')));
    return undefined;
  } catch (e) {
    return describe(e);
  }
}

const USAGE = `usage: npm run fuzz -- [--target NAME[,NAME…]] [--runs N] [--seconds S] [--seed S]
       npm run fuzz -- --replay FILE
       npm run fuzz -- --init-corpus
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
    else if (k === '--init-corpus' || k === '--help') a[k.slice(2)] = '1';
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

function main(argv: string[]): number {
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
    const err = replay(a.replay);
    process.stdout.write(err ? `fuzz: ${a.replay} still fails:\n${err}\n` : `fuzz: ${a.replay} passes now\n`);
    return err ? 1 : 0;
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
  for (const t of chosen) {
    const r = fuzz(t, { runs, seconds, seed, progress: (l) => process.stdout.write(`${l}\n`) });
    const rate = Math.round((r.inputs * 1000) / r.ms);
    process.stdout.write(
      `fuzz: ${t.name}: ${r.inputs} inputs in ${(r.ms / 1000).toFixed(1)} s, ${rate}/s${r.crash ? ', FAILED' : ', ok'}\n`,
    );
    if (r.crash) {
      process.stdout.write(`${r.crash.error}\n  input ${r.crash.hex.slice(0, 160)}${r.crash.hex.length > 160 ? '…' : ''}\n`);
      process.stdout.write(`  saved to ${r.crash.file}\n  replay: npm run fuzz -- --replay ${r.crash.file}\n`);
      return 1;
    }
  }
  return 0;
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2));
