/**
 * Test helper: headless Chromium from Debian's `chromium` package (nothing downloaded), driven by puppeteer-core
 * over a pipe (`pipe: true`: no port), started inside a test's network namespace. Puppeteer starts it in a process
 * group of its own and kills that group when this process exits (a test's end, or the SIGTERM/SIGINT/SIGHUP that
 * test/setup.ts turns into an exit); if this process is killed outright, the browser reads the end of its pipe and
 * quits.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import puppeteer, { type Browser } from 'puppeteer-core';
import { holdNetNamespace } from '../src/tender/user-links.ts';
import { describeErrno, libc } from '../src/targets/node/libc.ts';

/** Debian's Chromium; `command -v` finds where the package put it. */
export function chromiumPath(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export function chromiumSkipReason(): string | undefined {
  return chromiumPath() ? undefined : "needs Debian's chromium (apt-get install chromium)";
}

const CLONE_NEWNET = 0x40000000;

/**
 * Launches Chromium inside network namespace `ns` (made by `ip netns add`): this thread joins it for the launch,
 * so the browser is spawned there, as the JavaScript tender spawns an engine (src/tender/run.ts), and comes back
 * once the browser answers. Nothing else runs on this thread meanwhile but the launch's own steps.
 */
export async function launchChromiumIn(ns: string): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error(chromiumSkipReason());
  const back = holdNetNamespace();
  const fd = openSync(`/run/netns/${ns}`, 'r');
  try {
    if ((libc.setns(fd, CLONE_NEWNET) as number) < 0) throw new Error(`setns into ${ns}: ${describeErrno()}`);
    return await puppeteer.launch({
      executablePath,
      pipe: true,
      headless: true,
      // As root Chromium refuses to start without it; the only page is the test's own.
      args: ['--no-sandbox', '--disable-gpu', '--window-size=1200,900'],
      defaultViewport: { width: 1200, height: 900 },
      // test/setup.ts owns these signals (it removes the test's namespaces, then exits, which kills the browser).
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
  } finally {
    back();
    closeSync(fd);
  }
}
