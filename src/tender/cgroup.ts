/**
 * A memory cgroup of the unikernel's own, so that `--mem` bounds what the
 * whole engine process holds (heap, Buffers, JIT code, page cache it
 * dirties), not only V8's old space. cgroup v2 (`memory.max`,
 * `memory.swap.max`) where the unified hierarchy has the memory controller,
 * else cgroup v1 (`memory.limit_in_bytes`, `memory.memsw.limit_in_bytes`).
 * Needs root; elsewhere there is none and RLIMIT_DATA is the bound (see
 * docs/spt.md). The native tender (tender.c, `make_cgroup`) does the same.
 *
 * Directory: v2 `/sys/fs/cgroup/fata/NAME-PID`; v1 `fata-NAME-PID` beside
 * the tender's own memory cgroup. Stale ones (a tender killed with
 * SIGKILL) are removed by the next tender that finds them empty.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MemoryCgroup {
  readonly path: string;
  /** How many times the kernel's OOM killer acted in it. */
  oomKills(): number;
  /** Removes the directory (the engine must have exited). */
  remove(): void;
}

const V2 = '/sys/fs/cgroup';
const V1 = '/sys/fs/cgroup/memory';

function read(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

/** Removes cgroups named after a tender that no longer runs (its pid ends the name). */
function sweep(dir: string, re: RegExp): void {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const pid = re.exec(n)?.[1];
    if (pid && !existsSync(`/proc/${pid}`))
      try {
        rmdirSync(join(dir, n));
      } catch {
        /* still in use */
      }
  }
}

function counter(file: string, key: string): number {
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(read(file));
  return m ? Number(m[1]) : 0;
}

/**
 * Removes the cgroups of tenders that no longer run (one killed with SIGKILL cannot remove its own):
 * every tender does it when it makes one, and a test that kills tenders does it when it ends.
 */
export function sweepStaleCgroups(): void {
  sweep(join(V2, 'fata'), /^[A-Za-z0-9_-]+-(\d+)$/);
  const own = /^\d+:(?:[^:]*,)?memory(?:,[^:]*)?:(.*)$/m.exec(read('/proc/self/cgroup'));
  if (own) sweep(join(V1, own[1]!), /^fata-[A-Za-z0-9_-]+-(\d+)$/);
}

/** Makes the cgroup, or says why there is none. */
export function makeMemoryCgroup(name: string, memMb: number): MemoryCgroup | { error: string } {
  if (process.geteuid?.() !== 0) return { error: 'not root' };
  const bytes = String(memMb * 1024 * 1024);
  const safe = name.replace(/[^A-Za-z0-9_-]/g, '_');
  try {
    if (read(join(V2, 'cgroup.controllers')).split(/\s+/).includes('memory')) {
      const base = join(V2, 'fata');
      mkdirSync(base, { recursive: true });
      if (!read(join(base, 'cgroup.subtree_control')).includes('memory')) writeFileSync(join(base, 'cgroup.subtree_control'), '+memory');
      sweep(base, /^[A-Za-z0-9_-]+-(\d+)$/);
      const path = join(base, `${safe}-${process.pid}`);
      mkdirSync(path);
      writeFileSync(join(path, 'memory.max'), bytes);
      if (existsSync(join(path, 'memory.swap.max'))) writeFileSync(join(path, 'memory.swap.max'), '0');
      return { path, oomKills: () => counter(join(path, 'memory.events'), 'oom_kill'), remove: () => rmdirSync(path) };
    }
    const own = /^\d+:(?:[^:]*,)?memory(?:,[^:]*)?:(.*)$/m.exec(read('/proc/self/cgroup'));
    if (own && existsSync(join(V1, 'memory.limit_in_bytes'))) {
      const parent = join(V1, own[1]!);
      sweep(parent, /^fata-[A-Za-z0-9_-]+-(\d+)$/);
      const path = join(parent, `fata-${safe}-${process.pid}`);
      mkdirSync(path);
      writeFileSync(join(path, 'memory.limit_in_bytes'), bytes);
      if (existsSync(join(path, 'memory.memsw.limit_in_bytes'))) writeFileSync(join(path, 'memory.memsw.limit_in_bytes'), bytes);
      return { path, oomKills: () => counter(join(path, 'memory.oom_control'), 'oom_kill'), remove: () => rmdirSync(path) };
    }
    return { error: 'no memory controller in /sys/fs/cgroup' };
  } catch (e) {
    return { error: (e as Error).message };
  }
}
