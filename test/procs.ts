/** Test helper: the processes a test started, as /proc sees them. */
import { readdirSync, readFileSync } from 'node:fs';

/** Every process below `pid` (not `pid` itself), breadth first, through the children of each of its threads. */
export function descendants(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${all[i]}/task`);
    } catch {
      continue; // Gone.
    }
    for (const task of tasks) {
      try {
        all.push(...readFileSync(`/proc/${all[i]}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
      } catch {
        /* The thread ended meanwhile. */
      }
    }
  }
  return all.slice(1);
}

/** `pid` exists and is not a zombie. */
export function running(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}
