/**
 * The user-mode gateway (src/usernet/gateway.ts) in this process, with a
 * guest of its own on the other end of the socketpair: a Fata stack whose
 * clock never moves, so that it answers at once what must be answered at
 * once and never sends a delayed ACK. Whatever the gateway holds back until
 * the guest ACKs comes only when the gateway gives up waiting (a tail probe
 * or a retransmission), which it counts. Loopback only; no root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { getServers, setServers } from 'node:dns';
import { createServer, type Socket } from 'node:net';
import { Stack } from '../src/net/stack.ts';
import type { TcpConnection } from '../src/net/tcp/index.ts';
import { frameTcp, TcpDeframer } from '../src/net/dns/transport.ts';
import { decodeDns, encodeDns, isDecodeError, makeQuery, TYPE } from '../src/wire/dns.ts';
import { FRAME_SOCKET_MTU, FrameSocketDevice, openFramePair } from '../src/targets/node/frame-socket.ts';
import { NodeRandom } from '../src/targets/node/platform.ts';
import { USERNET, UserNetGateway } from '../src/usernet/gateway.ts';

const NOW = 1_000_000_000n;

interface Guest {
  readonly stack: Stack;
  readonly gateway: UserNetGateway;
  /** Runs the guest (its clock still) until `done`, or gives up after a few seconds. */
  pump(done: () => boolean): Promise<void>;
}

async function withGuest(body: (g: Guest) => Promise<void>): Promise<void> {
  const [guestFd, gatewayFd] = openFramePair();
  const gateway = new UserNetGateway({ fd: gatewayFd, mtu: FRAME_SOCKET_MTU, restrict: false, forwards: [], say: () => {} });
  assert.equal(await gateway.start(), undefined);
  const dev = new FrameSocketDevice(guestFd, 'guest', { mac: Uint8Array.of(2, 0, 0, 0, 0, 15) });
  const stack = new Stack({
    device: dev,
    clock: { monotonicNs: () => NOW, wallNs: () => NOW },
    random: new NodeRandom(),
    ipv4: { address: USERNET.guest, prefixLen: USERNET.prefixLen, gateway: USERNET.gateway },
  });
  const pump = async (done: () => boolean): Promise<void> => {
    for (let i = 0; i < 250 && !done(); i++) {
      stack.poll(NOW);
      if (!done()) await dev.wait(20);
    }
    stack.poll(NOW);
  };
  try {
    await body({ stack, gateway, pump });
  } finally {
    await gateway.close();
    await dev.close();
  }
}

/** Opens a guest connection to dst:port; its received bytes gather in `got`. */
async function connect(g: Guest, dst: number, port: number): Promise<{ c: TcpConnection; got: () => Buffer }> {
  const c = g.stack.tcp.connect(dst, port);
  const chunks: Buffer[] = [];
  let up = false;
  c.events = {
    onConnect: () => {
      up = true;
    },
    onData: (d) => {
      chunks.push(Buffer.from(d));
    },
  };
  await g.pump(() => up);
  assert.equal(c.state, 'ESTABLISHED');
  return { c, got: () => Buffer.concat(chunks) };
}

test("spliced TCP: a host server's second small write reaches the guest while the first is still unacknowledged (no Nagle at the gateway: it would wait for the guest's delayed ACK)", async () => {
  let host: Socket | undefined;
  const server = createServer((s) => {
    host = s;
    s.on('error', () => {});
    s.write('first');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    await withGuest(async (g) => {
      const { got } = await connect(g, USERNET.gateway, port);
      await g.pump(() => got().length >= 5);
      assert.equal(got().toString(), 'first');
      // The guest owes an ACK for 'first' and, its clock still, will not send it on its own.
      host!.write('second');
      await g.pump(() => got().length >= 11);
      assert.equal(got().toString(), 'firstsecond');
      assert.deepEqual(g.gateway.tcpRecoveries, { retransmits: 0, tailProbes: 0, timeouts: 0 }, 'sent at once, not after a probe');
    });
  } finally {
    host?.destroy();
    server.close();
  }
});

test('DNS over TCP at 10.0.2.3: three pipelined queries get their three answers while the first is still unacknowledged (no Nagle at the gateway)', async () => {
  const resolver = createSocket('udp4');
  resolver.on('message', (q, from) => {
    // Each answered a little later than the one before, so that they leave the gateway one by one.
    const delay = 5 * (q[1]! + 1);
    const answer = Buffer.from(q);
    answer[2] = 0x81;
    answer[3] = 0x80;
    setTimeout(() => resolver.send(answer, from.port, from.address), delay);
  });
  await new Promise<void>((r) => resolver.bind(0, '127.0.0.1', r));
  const servers = getServers();
  setServers([`127.0.0.1:${resolver.address().port}`]);
  try {
    await withGuest(async (g) => {
      const { c, got } = await connect(g, USERNET.dns, 53);
      const queries = [0, 1, 2].map((id) => frameTcp(encodeDns(makeQuery(id, `n${id}.example.test`, TYPE.A))));
      c.write(Buffer.concat(queries));
      const answers = (): number[] =>
        new TcpDeframer().push(got()).map((m) => {
          const r = decodeDns(m);
          return isDecodeError(r) ? -1 : r.id;
        });
      await g.pump(() => answers().length >= 3);
      assert.deepEqual(answers(), [0, 1, 2]);
      assert.deepEqual(g.gateway.tcpRecoveries, { retransmits: 0, tailProbes: 0, timeouts: 0 }, 'sent at once, not after a probe');
    });
  } finally {
    setServers(servers);
    resolver.close();
  }
});
