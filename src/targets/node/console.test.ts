import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';

const CONSOLE = new URL('./console.ts', import.meta.url).pathname;

test('a console write to a pipe nobody reads ends: the rest is dropped and counted', async () => {
  const code = `import { FdConsole } from ${JSON.stringify(CONSOLE)};
    const c = new FdConsole(1);
    c.write(new Uint8Array(4 << 20).fill(120));
    process.stderr.write('dropped=' + c.droppedBytes + '\\n');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pause(); // Never read: the pipe fills at 64 KiB and stays full.
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const [status] = (await once(child, 'exit')) as [number];
  assert.equal(status, 0, err);
  const dropped = Number(/dropped=(\d+)/.exec(err)?.[1]);
  assert.ok(dropped > 0 && dropped < 4 << 20, `dropped ${dropped} of ${4 << 20}`);
});

test('a console write to a pipe that is read arrives whole', async () => {
  const code = `import { FdConsole } from ${JSON.stringify(CONSOLE)};
    new FdConsole(1).write(new Uint8Array(3 << 20).fill(121));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let n = 0;
  child.stdout.on('data', (d: Buffer) => {
    n += d.length;
  });
  await once(child, 'exit');
  assert.equal(n, 3 << 20);
});
