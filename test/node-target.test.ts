/**
 * The node target's two network modes with the same service source:
 * `--net=socket` (host UDP sockets, no root, loopback) and `--net=direct`
 * (Fata's stack on a tap, inside a namespace the test creates).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { netnsSkipReason, waitForLine, withTapNamespace } from './netns.ts';
import { descendants, running } from './procs.ts';

const FATA = new URL('../bin/fata.mjs', import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const p = s.address().port;
  s.close();
  return p;
}

test("--net=socket: the service echoes UDP through the host's sockets, without root", async () => {
  const port = await freeUdpPort();
  const child = spawn(process.execPath, [FATA, 'run', '--net=socket', 'test/fixtures/udp-echo', `--port=${port}`], { cwd: ROOT });
  try {
    await waitForLine(child, /event=listening mode=socket/, 60_000);
    const s = createSocket('udp4');
    const data = randomBytes(1200);
    const got = once(s, 'message');
    s.send(data, port, '127.0.0.1');
    const [msg] = (await got) as [Buffer];
    assert.ok(msg.equals(data));
    s.close();
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
  }
});

test('fata run on the node target dies with whatever started it, even a parent killed with SIGKILL', async () => {
  const port = await freeUdpPort();
  const run = [FATA, 'run', '--net=socket', 'test/fixtures/udp-echo', `--port=${port}`];
  // An intermediary that, like npx or a test runner, starts `fata run` and then dies without a word.
  const parent = spawn(
    process.execPath,
    ['-e', `require('child_process').spawn(process.execPath, ${JSON.stringify(run)}, { stdio: 'inherit' }); setInterval(() => {}, 1000);`],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let below: number[] = [];
  try {
    await waitForLine(parent, /event=listening mode=socket/, 60_000);
    below = descendants(parent.pid!);
    assert.ok(below.length > 0, 'fata run runs below the intermediary');
    const exited = once(parent, 'exit');
    parent.kill('SIGKILL');
    await exited;
    for (let i = 0; i < 200 && below.some(running); i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(below.filter(running), [], 'fata run outlived what started it by 10 s');
  } finally {
    parent.kill('SIGKILL');
    for (const p of below.filter(running)) process.kill(p, 'SIGKILL');
  }
});

test('--net=direct on the node target: the same source answers ping and UDP on a tap', {
  skip: netnsSkipReason(['ping', 'socat']),
}, async () => {
  await withTapNamespace('10.0.0.1/24', async (ns) => {
    const child = ns.start([
      process.execPath,
      FATA,
      'run',
      '--net=direct',
      `--net:service=${ns.tap}`,
      `${ROOT}test/fixtures/udp-echo`,
      '--ipv4=10.0.0.2/24',
      '--port=9',
    ]);
    await waitForLine(child, /event=listening mode=direct/, 60_000);
    const p = ns.run(['ping', '-c', '5', '-i', '0.05', '-W', '2', '10.0.0.2']);
    assert.match(p.stdout, /5 received, 0% packet loss/, p.stdout);
    const data = randomBytes(3000);
    const r = ns.run(['socat', '-b', '65535', '-t', '1', '-', 'UDP:10.0.0.2:9'], { input: data });
    assert.ok(r.out.equals(data), `echo of ${r.out.length} bytes`);
  });
});
