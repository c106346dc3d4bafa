/**
 * One unikernel under the daemon: its tender, started exactly as an
 * operator's `fata run` starts it (`bin/fata run`, the native tender or the
 * JavaScript one, the same seal: docs/spt.md), its console ring, and the
 * restart policy. `destroy` wins over everything, at once: it cancels a
 * pending restart and stops the engine (SIGTERM, SIGKILL after a grace).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FATA_ROOT } from '../host/paths.ts';
import { type BlockCounters, BlockStats } from './block-stats.ts';
import { ConsoleRing, LineSplitter } from './ring.ts';
import type { UnikernelRecord } from './state.ts';

export type RunState = 'starting' | 'running' | 'backoff' | 'stopped' | 'failed' | 'destroyed';

export interface ExitRecord {
  readonly at: number;
  /** The tender's exit code: the unikernel's (0, 1, 255 for an abort), 255 when a signal stopped the engine. */
  readonly code: number | null;
  /** A signal that stopped the tender itself. */
  readonly signal: string | null;
  /** The tender's last `fata: error CODE: …` line, or what the code means. */
  readonly reason: string;
}

export interface SupervisorOptions {
  /** Where volumes live: DEV=VOLUME becomes --block:DEV=this(VOLUME). */
  readonly volumePath: (name: string) => string;
  readonly consoleBytes: number;
  /** The first restart delay; it doubles per failure in a row up to `maxBackoffMs`. */
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  /** A run this long resets the backoff and the count of restarts in a row. */
  readonly stableMs: number;
  /** Grace between SIGTERM and SIGKILL when stopping. */
  readonly stopGraceMs: number;
  /** Every start checks the image's signature again (`fata run --trust`, docs/trust.md). */
  readonly trust?: Trust;
  /** The program started with `fata run`'s arguments: TENDER (bin/fata) unless a test gives a stand-in. */
  readonly tender?: string;
}

export interface Trust {
  readonly trust: string;
  readonly crl?: string;
}

export const TENDER = join(FATA_ROOT, 'bin', 'fata');

/** `fata run`'s argument vector for a record: the same flags an operator would type. */
export function tenderArgs(rec: UnikernelRecord, volumePath: (n: string) => string, trust?: Trust): string[] {
  return [
    'run',
    ...(trust ? [`--trust=${trust.trust}`, ...(trust.crl ? [`--crl=${trust.crl}`] : [])] : []),
    `--mem=${rec.memMb}`,
    ...rec.nets.flatMap((n) => [`--net:${n.dev}=${n.tap}`, `--net-mac:${n.dev}=${n.mac}`]),
    ...rec.blocks.map((b) => `--block:${b.dev}=${volumePath(b.volume)}`),
    '--',
    rec.image.path,
    ...rec.bootArgs,
  ];
}

function meaning(code: number | null, signal: string | null): string {
  if (signal) return `the tender was stopped by ${signal}`;
  if (code === 0) return 'exited normally';
  if (code === 1) return 'exited with a failure (1)';
  if (code === 255) return 'aborted (255)';
  return `exited with ${code}`;
}

export class Unikernel {
  rec: UnikernelRecord;
  readonly ring: ConsoleRing;
  state: RunState = 'stopped';
  startedAt: number | undefined;
  restarts = 0;
  #inRow = 0;
  lastExit: ExitRecord | undefined;
  #child: ChildProcess | undefined;
  #timer: NodeJS.Timeout | undefined;
  #exited: Promise<void> = Promise.resolve();
  #restartNow = false;
  readonly #o: SupervisorOptions;

  constructor(rec: UnikernelRecord, o: SupervisorOptions) {
    this.rec = rec;
    this.#o = o;
    this.ring = new ConsoleRing(o.consoleBytes);
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** The engine: the tender's child (the sealed Node process), when it runs. */
  enginePid(): number | undefined {
    const pid = this.#child?.pid;
    if (!pid || this.state !== 'running') return undefined;
    try {
      for (const task of readdirSync(`/proc/${pid}/task`)) {
        const kids = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean);
        if (kids[0]) return Number(kids[0]);
      }
    } catch {
      /* gone meanwhile */
    }
    return undefined;
  }

  note(text: string): void {
    this.ring.push({ t: Date.now(), stream: 'fata', text });
  }

  /** The block counters of the current run, or of the last one once it ended (`stats`); a string says why there are none. */
  #blocks: BlockStats | string | undefined;

  /** Per block device (the record's order): what the engine of this run, or of the last one, read and wrote. */
  blockCounters(): BlockCounters[] | string | undefined {
    return typeof this.#blocks === 'object' ? this.#blocks.read() : this.#blocks;
  }

  #closeBlocks(): void {
    if (typeof this.#blocks === 'object') this.#blocks.close();
    this.#blocks = undefined;
  }

  /**
   * Spawns the tender. With block devices it is spawned behind a gate (`sh`
   * waits for a line, then execs the tender in its place, same pid) so that
   * the block counters are on it before it can start the engine.
   */
  #spawnTender(): ChildProcess {
    const args = tenderArgs(this.rec, this.#o.volumePath, this.#o.trust);
    const tender = this.#o.tender ?? TENDER;
    this.#closeBlocks();
    if (this.rec.blocks.length === 0) return spawn(tender, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const child = spawn('sh', ['-c', 'read _ && exec "$@" </dev/null', 'sh', tender, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    if (child.pid !== undefined) {
      const nets = this.rec.nets.length;
      try {
        this.#blocks = BlockStats.open(
          child.pid,
          this.rec.blocks.map((b, i) => ({ fd: 3 + nets + i, capacity: BigInt(statSync(this.#o.volumePath(b.volume)).size) })),
        );
      } catch (e) {
        this.#blocks = `cannot count block calls: ${(e as Error).message}`;
      }
    }
    child.stdin!.on('error', () => {}); // A gate that died (sh missing) is reported by 'close'.
    child.stdin!.end('go\n');
    return child;
  }

  start(): void {
    if (this.state === 'destroyed') return;
    this.#timer = undefined;
    const child = this.#spawnTender();
    this.#child = child;
    this.state = 'running';
    this.startedAt = Date.now();
    this.note(`started (tender pid ${child.pid ?? '?'})`);
    let lastError = '';
    const out = new LineSplitter((text) => this.ring.push({ t: Date.now(), stream: 'out', text }));
    const err = new LineSplitter((text) => {
      const m = /^fata: error ([A-Z_]+): .*/.exec(text);
      if (m) lastError = m[0];
      this.ring.push({ t: Date.now(), stream: 'err', text });
    });
    child.stdout!.setEncoding('utf8').on('data', (d: string) => out.push(d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => err.push(d));
    this.#exited = new Promise((resolve) => {
      child.on('error', (e) => {
        lastError = `cannot start the tender ${this.#o.tender ?? TENDER}: ${e.message}`;
      });
      child.on('close', (code, signal) => {
        out.end();
        err.end();
        this.#onExit(code, signal, lastError);
        resolve();
      });
    });
  }

  #onExit(code: number | null, signal: string | null, lastError: string): void {
    const now = Date.now();
    this.#child = undefined;
    this.lastExit = { at: now, code, signal, reason: lastError || meaning(code, signal) };
    this.note(`exited: ${this.lastExit.reason}`);
    if (this.state === 'destroyed') return;
    if (now - (this.startedAt ?? now) >= this.#o.stableMs) this.#inRow = 0;
    if (this.#restartNow) {
      this.#restartNow = false;
      this.restarts++;
      this.start();
      return;
    }
    if (!this.#wantsRestart(code)) {
      this.state = 'stopped';
      return;
    }
    const cap = this.rec.maxRestarts;
    if (cap > 0 && this.#inRow >= cap) {
      this.state = 'failed';
      this.note(`not restarted: ${this.#inRow} restarts in a row reached the cap (--max-restarts=${cap})`);
      return;
    }
    const delay = Math.min(this.#o.backoffMs * 2 ** this.#inRow, this.#o.maxBackoffMs);
    this.#inRow++;
    this.state = 'backoff';
    this.note(`restarting in ${delay} ms (restart ${this.#inRow} in a row)`);
    this.#timer = setTimeout(() => {
      this.restarts++;
      this.start();
    }, delay);
  }

  #wantsRestart(code: number | null): boolean {
    const p = this.rec.restart;
    if (p.kind === 'always') return true;
    if (p.kind === 'never') return false;
    return code === null || p.codes.includes(code); // null: the tender itself died of a signal.
  }

  /** Restarts since the last stable run: the exponent of the next backoff (for `info`). */
  get restartsInRow(): number {
    return this.#inRow;
  }

  /** Stops the tender: SIGTERM (forwarded to the engine), SIGKILL after the grace. */
  async #stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), this.#o.stopGraceMs);
    await this.#exited;
    clearTimeout(kill);
  }

  /** Stops it for good: a pending restart is cancelled first, so a restart loop ends at once. */
  async destroy(): Promise<void> {
    this.state = 'destroyed';
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#stop();
    this.#closeBlocks();
  }

  /** Stops and starts it again now (a pending backoff is cut short). */
  async restart(): Promise<void> {
    if (this.state === 'destroyed') return;
    if (this.#child) {
      this.#restartNow = true;
      await this.#stop();
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.restarts++;
    this.start();
  }

  /** For the daemon's own shutdown: stops the engine, keeps it declared. */
  async shutdown(): Promise<void> {
    const was = this.state;
    this.state = 'destroyed';
    if (this.#timer) clearTimeout(this.#timer);
    await this.#stop();
    this.state = was === 'destroyed' ? was : 'stopped';
  }
}
