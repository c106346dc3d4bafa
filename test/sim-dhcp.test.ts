/**
 * DHCP client and server against each other on a simulated network with a
 * virtual clock: leases, renewal at T1, rebinding at T2 when the server is
 * silent, expiry, NAK, pool exhaustion, static leases, persistence through
 * the two-slot block store (including a torn write), and the wire format.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { BlockDevice } from '../src/devices/index.ts';
import { DhcpClient } from '../src/net/dhcp/client.ts';
import { decodeLeases, DhcpServer, encodeLeases, type LeaseRecord } from '../src/net/dhcp/server.ts';
import type { Stack } from '../src/net/index.ts';
import { SlotStore } from '../src/storage/slots.ts';
import { decodeDhcp, DHCP, encodeDhcp, messageType, OPT, type DhcpMessage } from '../src/wire/dhcp.ts';
import { formatIpv4Address } from '../src/wire/ipv4.ts';
import { SeededRandom } from '../src/sim/index.ts';
import { ip, simNet } from './sim-helpers.ts';

const S = 1_000_000_000n;

/** How the server's log names a message type: REQUEST and DISCOVER (what a client sends) by name, others by number. */
function typeName(t: number | undefined): string {
  if (t === DHCP.REQUEST) return 'REQUEST';
  if (t === DHCP.DISCOVER) return 'DISCOVER';
  return `${t}`;
}

/** A DHCP server on stack 0 answering through its UDP layer; `silent` makes it drop everything. */
function serve(stack: Stack, server: DhcpServer, clockMs: () => number): { silent: boolean; seen: string[] } {
  const state = { silent: false, seen: [] as string[] };
  const bound = stack.udp.bind(67, (d) => {
    const q = decodeDhcp(d.data);
    if (typeof q === 'string') return;
    state.seen.push(`${typeName(messageType(q))} to ${formatIpv4Address(d.dst)}`);
    if (state.silent) return;
    const r = server.handle(q, clockMs());
    if (r && typeof bound !== 'string') bound.send(r.dst, r.dstPort, encodeDhcp(r.message));
  });
  assert.ok(typeof bound !== 'string');
  return state;
}

function setup(leaseSeconds = 60, pool: readonly [string, string] = ['10.0.0.100', '10.0.0.101']) {
  const net = simNet(3, 7);
  const [srv, c1, c2] = net.stacks as [Stack, Stack, Stack];
  for (const c of [c1, c2]) c.ipv4.configure({ address: 0, prefixLen: 0 });
  const clockMs = (): number => Number(net.sched.clock.wallNs() / 1_000_000n);
  const saved: LeaseRecord[][] = [];
  const server = new DhcpServer(
    {
      address: ip('10.0.0.1'),
      prefixLen: 24,
      poolFirst: ip(pool[0]),
      poolLast: ip(pool[1]),
      router: ip('10.0.0.1'),
      dns: [ip('10.0.0.53')],
      leaseSeconds,
      statics: [{ mac: '02:00:00:00:00:03', address: ip('10.0.0.50') }],
    },
    [],
    {
      save: (l) => {
        saved.push([...l]);
        return true;
      },
    },
  );
  const state = serve(srv, server, clockMs);
  const events: string[] = [];
  const client = (s: Stack, i: number, probe = false): DhcpClient => {
    const c = new DhcpClient({
      udp: s.udp,
      ipv4: s.ipv4,
      clock: net.sched.clock,
      random: new SeededRandom(100 + i),
      mac: s.device.mac,
      arp: probe ? s.arp : undefined,
      hostname: `host${i}`,
      onBound: (l, renewed) => events.push(`${i}:${renewed ? 'renewed' : 'bound'}:${formatIpv4Address(l.address)}`),
      onLost: (r) => events.push(`${i}:lost:${r}`),
    });
    net.sched.add(c);
    return c;
  };
  return { net, srv, c1, c2, server, state, saved, events, client };
}

test('a client gets a lease, configures it, renews at T1, and the server persisted it', () => {
  const t = setup(60);
  const c = t.client(t.c1, 1);
  c.start();
  t.net.sched.run({ untilNs: 10n * S });
  assert.equal(c.state, 'bound');
  assert.equal(formatIpv4Address(t.c1.ipv4.address), '10.0.0.100');
  assert.equal(t.c1.ipv4.config.prefixLen, 24);
  assert.equal(t.c1.ipv4.config.gateway, ip('10.0.0.1'));
  assert.deepEqual(c.lease!.dns, [ip('10.0.0.53')]);
  assert.deepEqual(t.events, ['1:bound:10.0.0.100']);
  assert.equal(t.saved.at(-1)![0]!.address, ip('10.0.0.100'));
  // T1 is 30 s: renewed (unicast), twice by 70 s.
  const before = t.state.seen.length;
  t.net.sched.run({ untilNs: 70n * S });
  assert.deepEqual(t.events, ['1:bound:10.0.0.100', '1:renewed:10.0.0.100', '1:renewed:10.0.0.100']);
  assert.deepEqual(
    t.state.seen.slice(before),
    ['REQUEST to 10.0.0.1', 'REQUEST to 10.0.0.1'],
    'each renewal is one REQUEST, unicast to the server',
  );
  assert.equal(c.counters.renewals, 2);
});

test('an address someone already uses is probed, declined, and another one taken (RFC 5227, RFC 2131 §3.1.5)', () => {
  const t = setup(60);
  // Host 3 squats on the pool's first address without a lease.
  t.c2.ipv4.configure({ address: ip('10.0.0.100'), prefixLen: 24 });
  const c = t.client(t.c1, 1, true);
  c.start();
  t.net.sched.run({ untilNs: 5n * S });
  assert.equal(c.counters.declines, 1);
  assert.equal(t.c1.ipv4.address, 0, 'the conflicting address was never configured');
  assert.equal(t.server.counters.declines, 1);
  t.net.sched.run({ untilNs: 30n * S });
  assert.equal(c.state, 'bound');
  assert.equal(formatIpv4Address(t.c1.ipv4.address), '10.0.0.101', 'the declined address is held out of the pool');
  assert.equal(t.server.leases().find((l) => l.mac === '02:00:00:00:00:02')?.hostname, 'host1', 'the client named itself');
});

test('a silent server: the client rebinds at T2, then loses the address at expiry and starts over', () => {
  const t = setup(60);
  const c = t.client(t.c1, 1);
  c.start();
  t.net.sched.run({ untilNs: 10n * S });
  t.state.silent = true;
  t.net.sched.run({ untilNs: 45n * S });
  assert.equal(c.state, 'renewing', 'past T1 (30 s), unanswered');
  t.net.sched.run({ untilNs: 56n * S });
  assert.equal(c.state, 'rebinding', 'past T2 (52 s)');
  t.net.sched.run({ untilNs: 75n * S });
  assert.equal(c.state, 'selecting');
  assert.equal(t.c1.ipv4.address, 0, 'the address is gone');
  assert.ok(t.events.includes('1:lost:expired'));
  t.state.silent = false;
  t.net.sched.run({ untilNs: 200n * S });
  assert.equal(c.state, 'bound', 'back once the server answers');
});

test('static lease by MAC, pool exhaustion, and a NAK when the address went elsewhere', () => {
  const t = setup(60, ['10.0.0.100', '10.0.0.100']);
  const a = t.client(t.c1, 1);
  const b = t.client(t.c2, 2); // MAC 02:00:00:00:00:03 has the static 10.0.0.50
  a.start();
  b.start();
  t.net.sched.run({ untilNs: 10n * S });
  assert.equal(formatIpv4Address(t.c1.ipv4.address), '10.0.0.100');
  assert.equal(formatIpv4Address(t.c2.ipv4.address), '10.0.0.50');
  // Pool of one, taken: a third MAC gets nothing (and the server says why).
  const q: DhcpMessage = {
    op: 1,
    xid: 9,
    secs: 0,
    broadcast: true,
    ciaddr: 0,
    yiaddr: 0,
    siaddr: 0,
    giaddr: 0,
    chaddr: Uint8Array.of(2, 0, 0, 0, 0, 9),
    options: new Map([[OPT.MESSAGE_TYPE, Uint8Array.of(DHCP.DISCOVER)]]),
  };
  assert.equal(t.server.handle(q, Number(t.net.sched.clock.wallNs() / 1_000_000n)), undefined);
  assert.match(t.server.lastIgnored, /pool exhausted/);
  // A request for an address held by another client is NAKed.
  const req: DhcpMessage = {
    ...q,
    options: new Map([
      [OPT.MESSAGE_TYPE, Uint8Array.of(DHCP.REQUEST)],
      [OPT.REQUESTED_IP, Uint8Array.of(10, 0, 0, 100)],
    ]),
  };
  const nak = t.server.handle(req, Number(t.net.sched.clock.wallNs() / 1_000_000n));
  assert.equal(messageType(nak!.message), DHCP.NAK);
  assert.equal(nak!.dst, 0xffffffff);
});

test('leases survive a restart through the slot store, and a torn write keeps the last good copy', () => {
  const blocks = new Uint8Array(16 * 512);
  let failAfter = Infinity;
  const dev: BlockDevice = {
    capacity: BigInt(blocks.length),
    blockSize: 512,
    read: (off, into) => {
      into.set(blocks.subarray(Number(off), Number(off) + into.length));
      return 'ok';
    },
    write: (off, data) => {
      // A torn write: only the first `failAfter` bytes land.
      const n = Math.min(data.length, failAfter);
      blocks.set(data.subarray(0, n), Number(off));
      return 'ok';
    },
  };
  const store = new SlotStore(dev);
  assert.equal(store.load(), undefined);
  assert.equal(store.state, 'empty');
  const one: LeaseRecord[] = [{ mac: '02:00:00:00:00:11', address: ip('10.0.0.100'), expiresMs: 1e12 }];
  assert.equal(store.save(encodeLeases(one)), 'ok');
  const two = [...one, { mac: '02:00:00:00:00:12', address: ip('10.0.0.101'), expiresMs: 1e12 }];
  assert.equal(store.save(encodeLeases(two)), 'ok');
  failAfter = 30; // the third save tears inside its payload
  assert.equal(store.save(encodeLeases([...two, { mac: '02:00:00:00:00:13', address: ip('10.0.0.102'), expiresMs: 1e12 }])), 'ok');
  const fresh = new SlotStore(dev);
  const got = decodeLeases(fresh.load()!);
  assert.deepEqual(
    got,
    two.map((l) => ({ ...l, hostname: undefined, declined: false })),
    'the torn third copy is ignored',
  );
  const server = new DhcpServer(
    { address: ip('10.0.0.1'), prefixLen: 24, poolFirst: ip('10.0.0.100'), poolLast: ip('10.0.0.110') },
    got as LeaseRecord[],
  );
  const d: DhcpMessage = {
    op: 1,
    xid: 1,
    secs: 0,
    broadcast: true,
    ciaddr: 0,
    yiaddr: 0,
    siaddr: 0,
    giaddr: 0,
    chaddr: Uint8Array.of(2, 0, 0, 0, 0, 0x20),
    options: new Map([[OPT.MESSAGE_TYPE, Uint8Array.of(DHCP.DISCOVER)]]),
  };
  assert.equal(formatIpv4Address(server.handle(d, 0)!.message.yiaddr), '10.0.0.102', 'restored leases are not handed out again');
  assert.equal(store.save(new Uint8Array(store.capacity + 1)), 'full');
  blocks.fill(0xee, 0, 512);
  blocks.fill(0xee, 8 * 512, 9 * 512);
  const junk = new SlotStore(dev);
  assert.equal(junk.load(), undefined);
  assert.equal(junk.state, 'corrupt', 'a device of something else is not mistaken for an empty one');
});

test('DHCP messages round-trip and hostile bytes never throw (property)', () => {
  const msg = fc.record({
    op: fc.constantFrom(1 as const, 2 as const),
    xid: fc.nat(0xffffffff),
    secs: fc.nat(0xffff),
    broadcast: fc.boolean(),
    ciaddr: fc.nat(0xffffffff),
    yiaddr: fc.nat(0xffffffff),
    siaddr: fc.nat(0xffffffff),
    giaddr: fc.nat(0xffffffff),
    chaddr: fc.uint8Array({ minLength: 6, maxLength: 6 }),
    options: fc
      .array(fc.tuple(fc.integer({ min: 1, max: 254 }), fc.uint8Array({ minLength: 1, maxLength: 600 })), { maxLength: 5 })
      .map((kv) => new Map(kv.filter(([k]) => k !== OPT.OVERLOAD))),
  });
  /** The encoder writes the message type option first, and the others in their order. */
  const messageTypeFirst = (a: readonly [number, unknown], b: readonly [number, unknown]): number => {
    if (a[0] === OPT.MESSAGE_TYPE) return -1;
    if (b[0] === OPT.MESSAGE_TYPE) return 1;
    return 0;
  };
  fc.assert(
    fc.property(msg, (m) => {
      const back = decodeDhcp(encodeDhcp(m));
      assert.ok(typeof back !== 'string', back as string);
      assert.deepEqual({ ...back, options: [...back.options] }, { ...m, chaddr: m.chaddr, options: [...m.options].sort(messageTypeFirst) });
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 700 }), (b) => {
      decodeDhcp(b);
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(msg, fc.nat(), fc.nat(255), (m, at, v) => {
      const b = encodeDhcp(m);
      b[240 + (at % (b.length - 240))] = v;
      decodeDhcp(b);
    }),
    { numRuns: 2000 },
  );
});

test('a DISCOVER flood: each offer holds a distinct address, the pool runs dry, and held offers lapse after a minute', () => {
  const server = new DhcpServer({ address: ip('10.0.0.1'), prefixLen: 22, poolFirst: ip('10.0.0.100'), poolLast: ip('10.0.3.199') });
  const size = ip('10.0.3.199') - ip('10.0.0.100') + 1;
  const discover = (n: number): DhcpMessage => ({
    op: 1,
    xid: n,
    secs: 0,
    broadcast: true,
    ciaddr: 0,
    yiaddr: 0,
    siaddr: 0,
    giaddr: 0,
    chaddr: Uint8Array.of(2, 0xaa, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff, 1),
    options: new Map([[OPT.MESSAGE_TYPE, Uint8Array.of(DHCP.DISCOVER)]]),
  });
  const given = new Set<number>();
  let none = 0;
  for (let n = 0; n < size + 50; n++) {
    const r = server.handle(discover(n), 1000);
    if (r) given.add(r.message.yiaddr);
    else none++;
  }
  assert.equal(given.size, size, 'every address offered once');
  assert.equal(none, 50);
  assert.ok(server.handle(discover(1_000_000), 1000 + 61_000), 'offers lapse after OFFER_HOLD');
});

test('INFORM gets options without a lease; RELEASE frees the address; relayed requests are answered to the relay', () => {
  const server = new DhcpServer({
    address: ip('10.0.0.1'),
    prefixLen: 24,
    poolFirst: ip('10.0.0.100'),
    poolLast: ip('10.0.0.101'),
    dns: [ip('10.0.0.53')],
  });
  const msg = (type: number, o: Partial<DhcpMessage> = {}, extra: [number, Uint8Array][] = []): DhcpMessage => ({
    op: 1,
    xid: 5,
    secs: 0,
    broadcast: false,
    ciaddr: 0,
    yiaddr: 0,
    siaddr: 0,
    giaddr: 0,
    chaddr: Uint8Array.of(2, 0, 0, 0, 0, 0x31),
    options: new Map([[OPT.MESSAGE_TYPE, Uint8Array.of(type)], ...extra]),
    ...o,
  });
  const inform = server.handle(msg(DHCP.INFORM, { ciaddr: ip('10.0.0.77') }), 0)!;
  assert.equal(messageType(inform.message), DHCP.ACK);
  assert.equal(inform.dst, ip('10.0.0.77'));
  assert.equal(inform.message.options.has(OPT.LEASE_TIME), false, 'INFORM carries no lease (RFC 2131 §3.4)');
  assert.deepEqual([...inform.message.options.get(OPT.DNS)!], [10, 0, 0, 53]);
  const sid: [number, Uint8Array] = [OPT.SERVER_ID, Uint8Array.of(10, 0, 0, 1)];
  const ack = server.handle(msg(DHCP.REQUEST, {}, [sid, [OPT.REQUESTED_IP, Uint8Array.of(10, 0, 0, 100)]]), 0)!;
  assert.equal(messageType(ack.message), DHCP.ACK);
  assert.equal(server.leases().length, 1);
  server.handle(msg(DHCP.RELEASE, { ciaddr: ip('10.0.0.100') }, [sid]), 0);
  assert.equal(server.leases().length, 0);
  const relayed = server.handle(msg(DHCP.DISCOVER, { giaddr: ip('10.0.0.254') }), 0)!;
  assert.equal(relayed.dst, ip('10.0.0.254'));
  assert.equal(relayed.dstPort, 67);
});
