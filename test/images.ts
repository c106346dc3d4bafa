/**
 * Test helpers several test files shared as copies: building an example into its image, waiting for a
 * condition, and asking a DNS server with kdig (in a test's namespace, or on loopback).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { TapNamespace } from './netns.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const FATA = join(ROOT, 'bin/fata.mjs');

/** The target the network tests run on: spt where the seal exists (x86_64), else the node target. */
export const NET_TARGET: 'spt' | 'node' = process.arch === 'x64' ? 'spt' : 'node';

/** Builds folder `dir` (relative to the checkout) for `target` (node: Fata's own stack) and returns its image. */
export function buildImage(dir: string, target: 'spt' | 'node' = NET_TARGET, timeoutMs = 180_000): string {
  const r = spawnSync(process.execPath, [FATA, 'build', '-t', target, ...(target === 'node' ? ['--net=direct'] : []), dir], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  assert.equal(r.status, 0, r.stderr);
  return join(ROOT, dir, 'dist', `${dir.split('/').at(-1)}.fata`);
}

/** `f()` once it is truthy, asked every 50 ms; throws naming `what` after `timeoutMs`. */
export async function until<T>(what: string, f: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** kdig's output (stdout and stderr) asking `server` from inside namespace `ns`. */
export function kdigIn(ns: TapNamespace, server: string, args: string[], timeoutMs = 60_000): string {
  const r = ns.run(['kdig', `@${server}`, '+timeout=2', '+retry=1', ...args], { timeoutMs });
  return r.stdout + r.stderr;
}

/** kdig's output (stdout and stderr) asking a server on 127.0.0.1:`port`. */
export function kdigLocal(port: number, args: string[]): string {
  const r = spawnSync('kdig', ['@127.0.0.1', '-p', String(port), '+timeout=3', '+retry=0', ...args], { encoding: 'utf8', timeout: 20_000 });
  return r.stdout + r.stderr;
}
