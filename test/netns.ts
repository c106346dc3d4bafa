/**
 * Test helper: a network namespace of the test's own with a tap inside,
 * removed (tap first, then namespace) when the test ends, pass or fail.
 * Private-range addresses exist only inside it. Tests skip with a one-line
 * reason where this cannot work (not root, no /dev/net/tun, no `ip`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { once } from 'node:events';

/** Why namespaced interop tests cannot run here, or undefined when they can. */
export function netnsSkipReason(needs: string[] = []): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to create a network namespace and a tap (CI runs as root)';
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch {
    return 'needs /dev/net/tun';
  }
  for (const cmd of ['ip', ...needs]) {
    if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) return `needs '${cmd}' (apt-get install it; .ci/run does)`;
  }
  return undefined;
}

export interface TapNamespace {
  readonly name: string;
  readonly tap: string;
  /** Runs a command inside the namespace and waits for it. */
  run(
    argv: string[],
    opts?: { timeoutMs?: number; input?: Uint8Array },
  ): { status: number | null; stdout: string; stderr: string; out: Buffer };
  /** Starts a long-running command inside the namespace; it is killed at cleanup, and dies with this process (even by SIGKILL). */
  start(argv: string[]): ChildProcess;
  /** Resolves once something listens on TCP `port` inside the namespace (or rejects after `timeoutMs`). */
  listening(port: number, timeoutMs?: number): Promise<void>;
}

function sh(
  argv: string[],
  opts: { timeoutMs?: number; input?: Uint8Array } = {},
): { status: number | null; stdout: string; stderr: string; out: Buffer } {
  const r = spawnSync(argv[0]!, argv.slice(1), { timeout: opts.timeoutMs ?? 60_000, input: opts.input, maxBuffer: 64 << 20 });
  const out = r.stdout ?? Buffer.alloc(0);
  return { status: r.status, stdout: out.toString('utf8'), stderr: (r.stderr ?? Buffer.alloc(0)).toString('utf8'), out };
}

function must(argv: string[]): void {
  const r = sh(argv);
  if (r.status !== 0) throw new Error(`'${argv.join(' ')}' failed (${r.status}): ${r.stderr.trim()}`);
}

let counter = 0;

/**
 * A prefix for a command a test starts: SIGKILL to it when the test's process dies, however that dies (the
 * test runner killed, a crash), so that nothing outlives its test. `setpriv` (util-linux, in every Debian)
 * arms PR_SET_PDEATHSIG and execs the rest, which keeps it across its own execs (`ip netns exec`, …).
 */
export const DIES_WITH_US = ['setpriv', '--pdeathsig', 'KILL', '--'];

/**
 * Creates namespace `fata-PID-N` holding tap `tap0` with `hostCidr` on the
 * kernel side, runs `fn`, then kills what it started and removes both.
 */
export async function withTapNamespace<T>(hostCidr: string, fn: (ns: TapNamespace) => Promise<T>): Promise<T> {
  const name = `fata-${process.pid}-${counter++}`;
  const tap = 'tap0';
  const children: ChildProcess[] = [];
  must(['ip', 'netns', 'add', name]);
  try {
    const inNs = (argv: string[]): string[] => ['ip', 'netns', 'exec', name, ...argv];
    must(inNs(['ip', 'link', 'set', 'lo', 'up']));
    must(inNs(['ip', 'tuntap', 'add', 'dev', tap, 'mode', 'tap']));
    must(inNs(['ip', 'addr', 'add', hostCidr, 'dev', tap]));
    must(inNs(['ip', 'link', 'set', tap, 'up']));
    const ns: TapNamespace = {
      name,
      tap,
      run: (argv, opts) => sh(inNs(argv), opts),
      start: (argv) => {
        const c = spawn(DIES_WITH_US[0]!, [...DIES_WITH_US.slice(1), ...inNs(argv)], { stdio: ['ignore', 'pipe', 'pipe'] });
        children.push(c);
        return c;
      },
      listening: async (port, timeoutMs = 20_000) => {
        const deadline = Date.now() + timeoutMs;
        // Readiness as the kernel sees it, asked again until true: not a guess at how long a start takes.
        while (!sh(inNs(['ss', '-Hltn', `sport = :${port}`])).stdout.trim()) {
          if (Date.now() > deadline) throw new Error(`nothing listens on TCP port ${port} after ${timeoutMs} ms`);
          await new Promise((r) => setTimeout(r, 20));
        }
      },
    };
    return await fn(ns);
  } finally {
    await stopAll(children);
    sh(['ip', 'netns', 'exec', name, 'ip', 'tuntap', 'del', 'dev', tap, 'mode', 'tap']);
    sh(['ip', 'netns', 'del', name]);
  }
}

/** Stops what a test started: politely first (a tender forwards SIGTERM to its sealed engine), then for sure. */
export async function stopAll(children: readonly ChildProcess[]): Promise<void> {
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    const exited = once(c, 'exit');
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** Resolves with the first stdout line matching `re`, or rejects after `timeoutMs` or on exit. */
export function waitForLine(child: ChildProcess, re: RegExp, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${timeoutMs} ms; stderr: ${err}`)), timeoutMs);
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      for (const line of buf.split('\n')) {
        if (re.test(line)) {
          clearTimeout(timer);
          resolve(line);
          return;
        }
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`process exited (${code}) before printing ${re}; stderr: ${err}`));
    });
  });
}
