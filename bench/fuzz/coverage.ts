/**
 * Coverage guidance from V8's own block coverage (node:inspector, no native
 * add-on): after each input, the blocks of src/ it ran for the first time.
 * An input that reaches new blocks joins the mutation pool. V8 reports a
 * block only where its count differs from its function's, so a block is
 * learnt when first seen unrun and counted covered once a later input runs
 * it; a function counts as a block of its own. V8 counts blocks only in
 * functions compiled after coverage started: start the guide before the
 * code under test first runs (one guide a process; `reset` between targets).
 */
import { Session } from 'node:inspector';

interface Range {
  startOffset: number;
  endOffset: number;
  count: number;
}
interface ScriptCoverage {
  url: string;
  functions: { ranges: Range[] }[];
}

export class CoverageGuide {
  private readonly session = new Session();
  private readonly filter: string;
  /** Per function: the blocks V8 has reported unrun at least once. */
  private readonly known = new Map<string, Set<string>>();
  private readonly covered = new Set<string>();

  constructor(filter = '/src/') {
    this.filter = filter;
    this.session.connect();
    // The in-thread session answers synchronously.
    this.session.post('Profiler.enable');
    this.session.post('Profiler.startPreciseCoverage', { callCount: false, detailed: true });
  }

  /** Forgets what was covered (the next target starts afresh; the functions keep their block counters). */
  reset(): void {
    this.take();
    this.covered.clear();
    this.known.clear();
  }

  /** Blocks covered so far. */
  get blocks(): number {
    return this.covered.size;
  }

  private add(key: string): number {
    if (this.covered.has(key)) return 0;
    this.covered.add(key);
    return 1;
  }

  /** The blocks run since the last call for the first time (counters are reset by each call). */
  take(): number {
    let fresh = 0;
    this.session.post('Profiler.takePreciseCoverage', (err, r) => {
      if (err) throw err;
      for (const sc of r.result as ScriptCoverage[]) {
        if (!sc.url.includes(this.filter) || sc.url.includes('node_modules')) continue;
        for (const f of sc.functions) fresh += this.function(sc.url, f.ranges);
      }
    });
    return fresh;
  }

  private function(url: string, ranges: Range[]): number {
    const top = ranges[0];
    if (!top || top.count === 0) return 0;
    const fn = `${url}:${top.startOffset}`;
    let fresh = this.add(fn);
    const unrun = new Set<string>();
    for (const r of ranges.slice(1)) {
      const k = `${r.startOffset}:${r.endOffset}`;
      if (r.count === 0) unrun.add(k);
      else fresh += this.add(`${fn}:${k}`);
    }
    const known = this.known.get(fn) ?? new Set<string>();
    this.known.set(fn, known);
    for (const k of unrun) known.add(k);
    for (const k of known) if (!unrun.has(k)) fresh += this.add(`${fn}:${k}`);
    return fresh;
  }

  /**
   * What ran since the last call, as V8 reports it, without learning anything (counters are reset, as by
   * `take`): per function run (`url:offset`), the block ranges (`start:end`) it left unrun and those it
   * reported run. For an exact, order-free comparison of inputs (bench/fuzz/run.ts `minimizeCorpus`).
   */
  takeRaw(): Map<string, { unrun: string[]; run: string[] }> {
    const out = new Map<string, { unrun: string[]; run: string[] }>();
    this.session.post('Profiler.takePreciseCoverage', (err, r) => {
      if (err) throw err;
      for (const sc of r.result as ScriptCoverage[]) {
        if (!sc.url.includes(this.filter) || sc.url.includes('node_modules')) continue;
        for (const f of sc.functions) {
          const top = f.ranges[0];
          if (!top || top.count === 0) continue;
          const e = { unrun: [] as string[], run: [] as string[] };
          for (const x of f.ranges.slice(1)) (x.count === 0 ? e.unrun : e.run).push(`${x.startOffset}:${x.endOffset}`);
          out.set(`${sc.url}:${top.startOffset}`, e);
        }
      }
    });
    return out;
  }

  stop(): void {
    this.session.post('Profiler.stopPreciseCoverage');
    this.session.disconnect();
  }
}
