/**
 * A unikernel's statistics, read from the host, never from the engine: the
 * engine's /proc entries, each tap's kernel counters, and each block device's
 * calls counted by the kernel (block-stats.ts).
 */
import { readFileSync } from 'node:fs';
import type { BlockCounters } from './block-stats.ts';
import { tapCounters, type TapCounters } from './host-net.ts';
import type { Unikernel } from './unikernel.ts';

/** USER_HZ: Linux reports CPU times in /proc in these ticks (100 on every architecture Fata runs on). */
const TICKS_PER_S = 100;

export interface ProcessStats {
  readonly pid: number;
  readonly rssBytes: number;
  readonly cpuUserMs: number;
  readonly cpuSystemMs: number;
}

export function processStats(pid: number): ProcessStats | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
    return {
      pid,
      rssBytes: rssKb * 1024,
      cpuUserMs: (Number(f[11]) * 1000) / TICKS_PER_S,
      cpuSystemMs: (Number(f[12]) * 1000) / TICKS_PER_S,
    };
  } catch {
    return undefined;
  }
}

export interface UnikernelStats {
  readonly name: string;
  readonly at: number;
  readonly state: string;
  /** The sealed engine (undefined while it does not run). */
  readonly engine: ProcessStats | undefined;
  /** The tender that supervises it (the native one holds about 1.6 MiB). */
  readonly tender: ProcessStats | undefined;
  readonly nets: readonly ({ readonly dev: string; readonly tap: string } & Partial<TapCounters>)[];
  /** Per block device, the current engine's calls, or the last one's once it ended; empty counters when they could not be had. */
  readonly blocks: readonly ({ readonly dev: string; readonly volume: string } & Partial<BlockCounters>)[];
  /** Why `blocks` has no counters (the kernel's syscall tracepoints are missing, not root). */
  readonly blocksUnavailable?: string;
}

export function unikernelStats(u: Unikernel, now: number): UnikernelStats {
  const engine = u.enginePid();
  const tender = u.pid;
  const blocks = u.blockCounters();
  return {
    name: u.rec.name,
    at: now,
    state: u.state,
    engine: engine ? processStats(engine) : undefined,
    tender: tender && u.state === 'running' ? processStats(tender) : undefined,
    nets: u.rec.nets.map((n) => ({ dev: n.dev, tap: n.tap, ...tapCounters(n.tap) })),
    blocks: u.rec.blocks.map((b, i) => ({ dev: b.dev, volume: b.volume, ...(typeof blocks === 'object' ? blocks[i] : {}) })),
    ...(typeof blocks === 'string' ? { blocksUnavailable: blocks } : {}),
  };
}
