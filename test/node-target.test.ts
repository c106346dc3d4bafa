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
