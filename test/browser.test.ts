/**
 * The browser the web console's test drives (test/browser.ts) runs inside the test's network namespace and dies
 * with the test's process even when that process is killed with SIGKILL (no exit handler runs then): a child
 * process launches it, the child is killed, and every process of the browser's group ends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chromiumSkipReason } from './browser.ts';
import { until } from './images.ts';
import { DIES_WITH_US, netnsSkipReason, waitForLine } from './netns.ts';

const HELPER = new URL('./browser.ts', import.meta.url).pathname;

/** Whether any process of process group `pgid` is alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

test('Chromium runs in the namespace it was launched in and dies with a test process killed by SIGKILL', {
  skip: netnsSkipReason() || chromiumSkipReason(),
  timeout: 120_000,
}, async () => {
  const ns = `fata-${process.pid}-browser`; // pid-named: test/setup.ts removes it if this process is stopped by a signal.
  assert.equal(spawnSync('ip', ['netns', 'add', ns]).status, 0);
  let pgid = 0;
  const child = spawn(
    DIES_WITH_US[0]!,
    [
      ...DIES_WITH_US.slice(1),
      process.execPath,
      '--input-type=module',
      '-e',
      `const { launchChromiumIn } = await import(${JSON.stringify(HELPER)});
         const b = await launchChromiumIn(${JSON.stringify(ns)}); console.log('browser ' + b.process().pid); setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    const line = await waitForLine(child, /^browser \d+$/, 60_000);
    pgid = Number(line.split(' ')[1]);
    assert.equal(spawnSync('ip', ['netns', 'identify', String(pgid)], { encoding: 'utf8' }).stdout.trim(), ns);
    assert.ok(groupAlive(pgid));
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    await until('every process of the browser ends', () => !groupAlive(pgid), 30_000);
  } finally {
    child.kill('SIGKILL');
    if (pgid && groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
    spawnSync('ip', ['netns', 'del', ns]);
  }
});
