/**
 * runtime/net-direct's `tcpStream` with `settle` (what `tcpConnect` uses):
 * a peer that speaks first can have its bytes, and its FIN, arrive before
 * the service has set its handlers; they are held and handed over in order
 * once `settle` resolves, not dropped. On two Fata stacks in the simulator.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tcpStream } from '../src/runtime/net-direct.ts';
import type { TcpStream } from '../src/runtime/types.ts';
import { ip, pattern, simNet } from './sim-helpers.ts';

for (const settled of [true, false]) {
  test(`a server that speaks first and closes: ${settled ? 'with settle, every byte and the end reach handlers set late' : 'without settle, what came before the handlers is lost (the case settle is for)'}`, async () => {
    const net = simNet(2, 7, {});
    const [a, b] = net.stacks;
    const greeting = pattern(40_000, 3);
    b!.tcp.listen(25, (c) => {
      c.write(greeting);
      c.shutdown();
    });
    let release = (): void => {};
    const settle = new Promise<void>((r) => {
      release = r;
    });
    const conn = a!.tcp.connect(ip('10.0.0.2'), 25);
    let stream: TcpStream | undefined;
    conn.events = { onConnect: () => (stream = tcpStream(conn, settled ? settle : undefined)) };
    // Everything arrives, FIN included, before the service has set a handler.
    net.sched.run({ until: () => conn.state === 'CLOSE-WAIT', untilNs: 10_000_000_000n });
    assert.equal(conn.state, 'CLOSE-WAIT');
    const got: Uint8Array[] = [];
    let ended = false;
    stream!.onData = (d) => got.push(d.slice());
    stream!.onEnd = () => {
      ended = true;
    };
    release();
    await settle;
    await Promise.resolve();
    const bytes = Buffer.concat(got);
    if (settled) {
      assert.equal(bytes.length, greeting.length);
      assert.ok(Buffer.from(greeting).equals(bytes));
      assert.ok(ended);
    } else {
      assert.equal(bytes.length, 0);
      assert.equal(ended, false);
    }
  });
}
