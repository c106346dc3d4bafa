/**
 * A unikernel's console: the last lines it wrote, bounded in bytes (default
 * 1 MiB), kept across its restarts, with followers. A unikernel that writes
 * without end costs the daemon this bound and nothing more (MirageOS
 * advisory MSA03 was an unbounded console loop): a line longer than
 * `MAX_LINE` is cut into pieces, and the oldest lines go first.
 */

export interface ConsoleLine {
  /** Milliseconds since the epoch, when the daemon read it. */
  readonly t: number;
  /** `out`/`err`: the unikernel's; `fata`: the daemon's own notes (started, exited, restarting). */
  readonly stream: 'out' | 'err' | 'fata';
  readonly text: string;
}

export const DEFAULT_CONSOLE_BYTES = 1 << 20;
export const MAX_LINE = 4096;
/** What one line costs against the bound beyond its text (so that empty lines are not free). */
const LINE_OVERHEAD = 32;

export class ConsoleRing {
  readonly maxBytes: number;
  #lines: ConsoleLine[] = [];
  #first = 0;
  #bytes = 0;
  #followers = new Set<(l: ConsoleLine) => void>();

  constructor(maxBytes = DEFAULT_CONSOLE_BYTES) {
    this.maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  push(line: ConsoleLine): void {
    this.#lines.push(line);
    this.#bytes += line.text.length + LINE_OVERHEAD;
    while (this.#bytes > this.maxBytes && this.#first < this.#lines.length) {
      const old = this.#lines[this.#first++]!;
      this.#bytes -= old.text.length + LINE_OVERHEAD;
    }
    // Drop the consumed head now and then, not on every line.
    if (this.#first > 1024 && this.#first * 2 > this.#lines.length) {
      this.#lines = this.#lines.slice(this.#first);
      this.#first = 0;
    }
    for (const f of this.#followers) f(line);
  }

  /** The kept lines at or after `sinceMs`, the last `last` of them when given. */
  lines(sinceMs = 0, last?: number): ConsoleLine[] {
    let out = this.#lines.slice(this.#first).filter((l) => l.t >= sinceMs);
    if (last !== undefined) out = out.slice(Math.max(0, out.length - last));
    return out;
  }

  /** Calls `f` with every line pushed from now on, until the returned function is called. */
  follow(f: (l: ConsoleLine) => void): () => void {
    this.#followers.add(f);
    return () => this.#followers.delete(f);
  }
}

/** Cuts a byte stream into lines for a ring: whole lines as they complete, a run longer than `MAX_LINE` in pieces. */
export class LineSplitter {
  #partial = '';
  readonly #emit: (text: string) => void;

  constructor(emit: (text: string) => void) {
    this.#emit = emit;
  }

  push(chunk: string): void {
    const parts = (this.#partial + chunk).split('\n');
    let s = parts.pop() ?? '';
    for (const p of parts) this.#cut(p);
    while (s.length > MAX_LINE) {
      this.#emit(s.slice(0, MAX_LINE));
      s = s.slice(MAX_LINE);
    }
    this.#partial = s;
  }

  /** The rest, at the end of the stream. */
  end(): void {
    if (this.#partial) this.#cut(this.#partial);
    this.#partial = '';
  }

  #cut(line: string): void {
    for (let i = 0; i < line.length || i === 0; i += MAX_LINE) this.#emit(line.slice(i, i + MAX_LINE));
  }
}
