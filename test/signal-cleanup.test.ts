/**
 * A test process ended by a signal leaves no network namespace behind (test/setup.ts): a child test
 * process makes one the way tests do (withTapNamespace), is sent SIGTERM while inside it, and must end
 * with the signal's code and the namespace gone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { netnsSkipReason } from './netns.ts';

const ROOT = new URL('..', import.meta.url).pathname;

test('a test process stopped by SIGTERM removes the namespaces it made', { skip: netnsSkipReason() }, async () => {
  const child = spawn(
    process.execPath,
    [
      '--import',
      './test/setup.ts',
      '--input-type=module',
      '-e',
      `import { withTapNamespace } from './test/netns.ts';
await withTapNamespace('10.213.0.1/24', async (ns) => { process.stdout.write(ns.name + '\\n'); setInterval(() => {}, 1000); await new Promise(() => {}); });`,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const name = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => resolve(d.toString().trim()));
    child.on('exit', (c) => reject(new Error(`exited ${c} before making its namespace`)));
  });
  assert.match(name, new RegExp(`^fata-${child.pid}-0$`));
  assert.match(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout, new RegExp(`^${name}\\b`, 'm'));
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  assert.equal(code, 143, 'ended as SIGTERM would end it');
  assert.doesNotMatch(
    spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout,
    new RegExp(`^${name}\\b`, 'm'),
    'its namespace is gone',
  );
});
