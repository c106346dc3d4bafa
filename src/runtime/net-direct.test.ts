/**
 * The direct network provider's UDP endpoint (net-direct.ts): each message
 * says its own source address, and each send goes to the address it names,
 * when the clients alternate (the endpoint keeps the last address turned to
 * text and back, which must follow a change).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeviceResult, NetDevice } from '../devices/index.ts';
import { SeededRandom, VirtualClock } from '../sim/index.ts';
import { emitEthernet, emitIpv4, emitUdp, ETHERTYPE_IPV4, PROTO_UDP } from '../wire/index.ts';
import type { Platform } from './boot.ts';
import { createLogger } from './log.ts';
import { directNet } from './net-direct.ts';

const MAC_S = Uint8Array.of(2, 0, 0, 0, 0, 2);
const macOf = (host: number): Uint8Array => Uint8Array.of(2, 0, 0, 0, 1, host);

function udpFrame(host: number, srcPort: number, payload: number): Uint8Array {
  const f = new Uint8Array(43);
  emitEthernet({ dst: MAC_S, src: macOf(host), ethertype: ETHERTYPE_IPV4 }, f);
  f[42] = payload;
  emitUdp({ srcPort, dstPort: 7, payloadLen: 1 }, 0x0a000000 + host, 0x0a000002, f, 34);
  emitIpv4({ src: 0x0a000000 + host, dst: 0x0a000002, protocol: PROTO_UDP, ttl: 64, payloadLen: 9 }, f, 14);
  return f;
}

function arpReply(host: number): Uint8Array {
  const f = new Uint8Array(42);
  emitEthernet({ dst: MAC_S, src: macOf(host), ethertype: 0x0806 }, f);
  f.set([0, 1, 8, 0, 6, 4, 0, 2, ...macOf(host), 10, 0, 0, host, ...MAC_S, 10, 0, 0, 2], 14);
  return f;
}

test('a UDP endpoint answers each of two alternating clients at its own address', async () => {
  const inbox: Uint8Array[] = [arpReply(1), arpReply(3)];
  const written: Uint8Array[] = [];
  const dev: NetDevice = {
    mac: MAC_S,
    mtu: 1500,
    capabilities: { gsoMax: undefined, rxOffload: false, headroom: 0 },
    write: (f): DeviceResult => {
      written.push(f.slice());
      return 'ok';
    },
    read: (into) => {
      const f = inbox.shift();
      if (!f) return 'again';
      into.set(f);
      return f.length;
    },
    readyAtNs: () => (inbox.length ? 0n : undefined),
  };
  const clock = new VirtualClock();
  const platform = {
    clock,
    random: new SeededRandom(1),
    yield: () => new Promise((r) => setImmediate(() => r(new Set<string>()))),
    nets: new Map([['service', dev]]),
  } as unknown as Platform;
  const log = createLogger({ write: () => {} }, clock, 'test', 'error');
  const up = directNet.start(
    platform,
    ['service'],
    { params: {}, ipv4: { address: 0x0a000002, prefixLen: 24 }, ipv4Text: '10.0.0.2/24', gateway: undefined, dns: undefined } as never,
    log,
  );
  if ('error' in up) throw new Error(up.error);
  const seen: string[] = [];
  const ep = await up.stacks.get('service')!.udpBind(7, (m) => {
    seen.push(`${m.src}:${m.srcPort}`);
    ep.send(m.src, m.srcPort, m.data);
  });
  inbox.push(udpFrame(1, 1001, 1), udpFrame(3, 1003, 3), udpFrame(3, 1003, 4), udpFrame(1, 1001, 5));
  let stop = false;
  const running = up.run(() => stop);
  for (let i = 0; i < 100 && written.length < 4; i++) await new Promise((r) => setImmediate(r));
  stop = true;
  await running;
  assert.deepEqual(seen, ['10.0.0.1:1001', '10.0.0.3:1003', '10.0.0.3:1003', '10.0.0.1:1001']);
  // Each echo to the client that sent it: IPv4 destination, UDP port, Ethernet destination, payload.
  const to = written.filter((f) => f[12] === 8 && f[13] === 0).map((f) => `${f[33]}:${(f[36]! << 8) | f[37]!}:${f[5]}:${f[42]}`);
  assert.deepEqual(to, ['1:1001:1:1', '3:1003:3:3', '3:1003:3:4', '1:1001:1:5']);
});
