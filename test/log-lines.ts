/**
 * A child's standard output, kept as it arrives, and a wait for the first line matching a pattern
 * (searched from the start: use a pattern that names what the step is waiting for, e.g. a serial,
 * not one an earlier, legitimate line also matches).
 */
import type { ChildProcess } from 'node:child_process';

export function lines(c: ChildProcess): { all: () => string; when: (re: RegExp, timeoutMs: number) => Promise<string> } {
  let buf = '';
  c.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
  });
  return {
    all: () => buf,
    when: async (re, timeoutMs) => {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const hit = buf.split('\n').find((l) => re.test(l));
        if (hit) return hit;
        if (c.exitCode !== null) throw new Error(`exited ${c.exitCode} before a line matching ${re}:\n${buf}`);
        if (Date.now() > until) throw new Error(`no line matching ${re} in ${timeoutMs} ms:\n${buf}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}
