/**
 * The DHCP server grants nothing it has not recorded (docs/dns-dhcp.md:
 * "Every lease is written to the `leases` block device before it is granted.
 * If the write fails, the client gets a NAK instead."): the lease store here
 * is the slot store on a block device whose writes can be made to fail, wired
 * as examples/dhcp-server wires it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BlockDevice } from '../../devices/index.ts';
import { SlotStore } from '../../storage/slots.ts';
import { DHCP, messageType, OPT, optAddress, optAddresses, optText, optU32, type DhcpMessage } from '../../wire/dhcp.ts';
import { decodeLeases, DhcpServer, encodeLeases, type LeaseRecord } from './server.ts';

const ip = (a: number, b: number, c: number, d: number): number => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
const SERVER = ip(10, 0, 0, 1),
  ADDR = ip(10, 0, 0, 100);
const MAC = Uint8Array.of(2, 0, 0, 0, 0, 0x11);

function disk(bytes: number): { dev: BlockDevice; failing: { on: boolean } } {
  const blocks = new Uint8Array(bytes);
  const failing = { on: false };
  const dev: BlockDevice = {
    capacity: BigInt(bytes),
    blockSize: 512,
    read: (off, into) => {
      into.set(blocks.subarray(Number(off), Number(off) + into.length));
      return 'ok';
    },
    write: (off, data) => {
      if (failing.on) return 'unspecified';
      blocks.set(data, Number(off));
      return 'ok';
    },
  };
  return { dev, failing };
}

function serverOn(dev: BlockDevice): { server: DhcpServer; store: SlotStore } {
  const store = new SlotStore(dev);
  const server = new DhcpServer({ address: SERVER, prefixLen: 24, poolFirst: ADDR, poolLast: ip(10, 0, 0, 199), leaseSeconds: 600 }, [], {
    save: (leases) => store.save(encodeLeases(leases)) === 'ok',
  });
  return { server, store };
}

const msg = (type: number, o: Partial<DhcpMessage> = {}, extra: [number, Uint8Array][] = [], chaddr = MAC): DhcpMessage => ({
  op: 1,
  xid: 7,
  secs: 0,
  broadcast: false,
  ciaddr: 0,
  yiaddr: 0,
  siaddr: 0,
  giaddr: 0,
  chaddr,
  options: new Map([[OPT.MESSAGE_TYPE, Uint8Array.of(type)], ...extra]),
  ...o,
});
const selecting = (chaddr = MAC): DhcpMessage =>
  msg(
    DHCP.REQUEST,
    {},
    [
      [OPT.SERVER_ID, Uint8Array.of(10, 0, 0, 1)],
      [OPT.REQUESTED_IP, Uint8Array.of(10, 0, 0, 100)],
    ],
    chaddr,
  );

test('a lease the store cannot write is NAKed, not ACKed, and not held; once the store works it is ACKed and on disk', () => {
  const { dev, failing } = disk(16 * 512);
  const { server, store } = serverOn(dev);
  const offer = server.handle(msg(DHCP.DISCOVER), 1000)!;
  assert.equal(messageType(offer.message), DHCP.OFFER, 'an offer is not a grant: nothing to write');
  assert.equal(offer.message.yiaddr, ADDR);

  failing.on = true;
  const r = server.handle(selecting(), 2000)!;
  assert.equal(messageType(r.message), DHCP.NAK);
  assert.equal(r.message.yiaddr, 0);
  assert.equal(r.message.options.has(OPT.LEASE_TIME), false, 'a NAK grants no lease time');
  assert.equal(optText(r.message, OPT.MESSAGE), 'server cannot record the lease');
  assert.equal(r.dst, 0xffffffff, 'a NAK is broadcast (RFC 2131 §4.1)');
  assert.deepEqual(server.leases(), [], 'nothing held that is not on disk');
  assert.equal(server.counters.acks, 0);
  assert.equal(server.counters.storeFailures, 1);
  assert.equal(store.load(), undefined, 'and nothing on disk');

  failing.on = false;
  const ack = server.handle(selecting(), 3000)!;
  assert.equal(messageType(ack.message), DHCP.ACK);
  assert.equal(ack.message.yiaddr, ADDR);
  assert.deepEqual(decodeLeases(new SlotStore(dev).load()!), [
    { mac: '02:00:00:00:00:11', address: ADDR, expiresMs: 3000 + 600_000, hostname: undefined, declined: false },
  ]);
});

test('a renewal the store cannot write is NAKed, and the lease as it was stays, in memory and on disk', () => {
  const { dev, failing } = disk(16 * 512);
  const { server } = serverOn(dev);
  server.handle(msg(DHCP.DISCOVER), 0);
  assert.equal(messageType(server.handle(selecting(), 0)!.message), DHCP.ACK);
  const granted = server.leases();
  failing.on = true;
  const renew = server.handle(msg(DHCP.REQUEST, { ciaddr: ADDR }), 300_000)!;
  assert.equal(messageType(renew.message), DHCP.NAK);
  assert.deepEqual(server.leases(), granted, 'the old expiry, not a renewed one');
  assert.deepEqual(
    decodeLeases(new SlotStore(dev).load()!),
    granted.map((l) => ({ ...l, hostname: undefined, declined: false })),
  );
});

test('a store too small for one more lease: the next client is NAKed, the others keep theirs', () => {
  // Two 512-byte slots: the header and a few leases fit, not many.
  const { dev } = disk(2 * 512);
  const { server, store } = serverOn(dev);
  const acked: number[] = [];
  for (let i = 0; i < 100; i++) {
    const mac = Uint8Array.of(2, 0, 0, 0, 1, i);
    const offer = server.handle(msg(DHCP.DISCOVER, {}, [], mac), 0)!;
    const a = offer.message.yiaddr;
    const r = server.handle(
      msg(
        DHCP.REQUEST,
        {},
        [
          [OPT.SERVER_ID, Uint8Array.of(10, 0, 0, 1)],
          [OPT.REQUESTED_IP, Uint8Array.of(a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255)],
        ],
        mac,
      ),
      0,
    )!;
    if (messageType(r.message) !== DHCP.ACK) {
      assert.equal(messageType(r.message), DHCP.NAK);
      break;
    }
    acked.push(a);
  }
  assert.ok(acked.length > 0 && acked.length < 100, `${acked.length} leases fit in ${store.capacity} bytes`);
  assert.deepEqual(
    server.leases().map((l) => l.address),
    acked,
  );
  assert.ok(encodeLeases(server.leases()).length <= store.capacity);
  const stored = decodeLeases(new SlotStore(dev).load()!);
  assert.ok(typeof stored !== 'string', String(stored));
  assert.deepEqual(
    stored.map((l) => l.address),
    acked,
  );
});

// The server's rules one by one (RFC 2131 §4.3): a small pool, messages built by hand, replies read field by field.

const u32 = (a: number) => Uint8Array.of(a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255);
const macN = (n: number) => Uint8Array.of(2, 0, 0, 0, 1, n);
const macText = (n: number): string => `02:00:00:00:01:${n.toString(16).padStart(2, '0')}`;
const STATIC_MAC = '02:00:00:00:00:33',
  STATIC = ip(10, 0, 0, 50);

/** A server for 10.0.0.0/24 with the pool `first`..`last` (default .100-.102) and a record of what it saved. */
function plain(o: { first?: number; last?: number; store?: boolean; extra?: Partial<ConstructorParameters<typeof DhcpServer>[0]> } = {}): {
  server: DhcpServer;
  saved: LeaseRecord[][];
} {
  const saved: LeaseRecord[][] = [];
  const server = new DhcpServer(
    {
      address: SERVER,
      prefixLen: 24,
      poolFirst: o.first ?? ADDR,
      poolLast: o.last ?? ip(10, 0, 0, 102),
      leaseSeconds: 600,
      statics: [{ mac: STATIC_MAC, address: STATIC, hostname: 'printer' }],
      ...o.extra,
    },
    [],
    o.store === false
      ? undefined
      : {
          save: (l) => {
            saved.push([...l]);
            return true;
          },
        },
  );
  return { server, saved };
}
const discover = (n: number, requested?: number): DhcpMessage =>
  msg(DHCP.DISCOVER, {}, requested === undefined ? [] : [[OPT.REQUESTED_IP, u32(requested)]], macN(n));
/** A REQUEST for `a`: SELECTING with our server id by default, INIT-REBOOT with `serverId` null. */
const requestFor = (n: number, a: number, serverId: number | null = SERVER): DhcpMessage =>
  msg(
    DHCP.REQUEST,
    {},
    [...(serverId === null ? [] : [[OPT.SERVER_ID, u32(serverId)] as [number, Uint8Array]]), [OPT.REQUESTED_IP, u32(a)]],
    macN(n),
  );
/** DISCOVER then REQUEST the offered address; returns the address (ACKed) or fails. */
function lease(server: DhcpServer, n: number, now: number, requested?: number): number {
  const offer = server.handle(discover(n, requested), now);
  assert.ok(offer, `an offer for client ${n}: ${server.lastIgnored}`);
  const a = offer.message.yiaddr;
  const ack = server.handle(requestFor(n, a), now)!;
  assert.equal(messageType(ack.message), DHCP.ACK, `client ${n}: ${optText(ack.message, OPT.MESSAGE)}`);
  return a;
}
const typeOf = (r: ReturnType<DhcpServer['handle']>): number | undefined => (r ? messageType(r.message) : undefined);

test('DhcpServer: a configuration that does not fit its network is refused with what is wrong', () => {
  const make = (c: Partial<ConstructorParameters<typeof DhcpServer>[0]>): DhcpServer =>
    new DhcpServer({ address: SERVER, prefixLen: 24, poolFirst: ADDR, poolLast: ip(10, 0, 0, 199), ...c });
  assert.throws(() => make({ poolFirst: ip(10, 0, 1, 100) }), {
    name: 'RangeError',
    message: 'pool 10.0.1.100-10.0.0.199 is not a range inside 10.0.0.1/24',
  });
  assert.throws(() => make({ poolLast: ip(10, 0, 1, 5) }), { message: 'pool 10.0.0.100-10.0.1.5 is not a range inside 10.0.0.1/24' });
  assert.throws(() => make({ poolFirst: ip(10, 0, 0, 200) }), { message: 'pool 10.0.0.200-10.0.0.199 is not a range inside 10.0.0.1/24' });
  assert.doesNotThrow(() => make({ poolFirst: ip(10, 0, 0, 199) }), 'a pool of one address');
  assert.throws(() => make({ statics: [{ mac: '02:00:00:00:00', address: STATIC }] }), {
    name: 'RangeError',
    message: "static lease MAC '02:00:00:00:00' is not a MAC address",
  });
  assert.throws(() => make({ statics: [{ mac: STATIC_MAC, address: ip(10, 0, 1, 50) }] }), {
    name: 'RangeError',
    message: 'static lease 10.0.1.50 is outside 10.0.0.1/24',
  });
  assert.equal(make({}).lastIgnored, '');
  assert.equal(make({}).leaseSeconds, 3600, 'an hour by default');
});

test('DhcpServer: OFFER and ACK carry the lease times and the network; a NAK only its type, server and reason', () => {
  const { server } = plain({ extra: { router: SERVER, dns: [ip(10, 0, 0, 53), ip(10, 0, 0, 54)], domain: 'lan.example' } });
  const offer = server.handle(discover(1), 0)!;
  const o = offer.message;
  assert.deepEqual(
    [o.op, o.xid, o.secs, o.yiaddr, o.siaddr, o.giaddr, o.ciaddr, o.broadcast],
    [2, 7, 0, ADDR, 0, 0, 0, false],
    'a reply echoes xid and flags',
  );
  assert.deepEqual([offer.dst, offer.dstPort], [0xffffffff, 68]);
  assert.deepEqual(
    [messageType(o), optAddress(o, OPT.SERVER_ID), optU32(o, OPT.LEASE_TIME), optU32(o, OPT.RENEWAL), optU32(o, OPT.REBINDING)],
    [DHCP.OFFER, SERVER, 600, 300, 525],
    'T1 = lease/2, T2 = 7/8 lease (RFC 2131 §4.4.5)',
  );
  assert.deepEqual(
    [
      optAddress(o, OPT.SUBNET_MASK),
      optAddresses(o, OPT.ROUTER),
      optAddresses(o, OPT.DNS),
      optText(o, OPT.DOMAIN),
      o.options.has(OPT.HOSTNAME),
    ],
    [0xffffff00, [SERVER], [ip(10, 0, 0, 53), ip(10, 0, 0, 54)], 'lan.example', false],
  );
  const ack = server.handle(requestFor(1, ADDR), 0)!;
  assert.deepEqual(
    [messageType(ack.message), optU32(ack.message, OPT.LEASE_TIME), optAddress(ack.message, OPT.SUBNET_MASK)],
    [DHCP.ACK, 600, 0xffffff00],
  );

  const bare = plain().server.handle(discover(1), 0)!.message;
  assert.deepEqual([bare.options.has(OPT.ROUTER), bare.options.has(OPT.DNS), bare.options.has(OPT.DOMAIN)], [false, false, false]);
  const empty = plain({ extra: { dns: [] } }).server.handle(discover(1), 0)!.message;
  assert.equal(empty.options.has(OPT.DNS), false, 'an empty DNS list is no option');

  const nak = server.handle(msg(DHCP.REQUEST, { ciaddr: ip(10, 0, 0, 150) }, [], macN(1)), 0)!;
  assert.deepEqual(
    [...nak.message.options.keys()].sort((a, b) => a - b),
    [OPT.MESSAGE_TYPE, OPT.SERVER_ID, OPT.MESSAGE],
    'a NAK has no lease, mask, router or DNS',
  );
  assert.deepEqual([nak.message.ciaddr, nak.message.yiaddr, nak.dst, nak.dstPort], [0, 0, 0xffffffff, 68], 'and is broadcast (§4.1)');
});

test('DhcpServer: a static lease goes only to its MAC, with its host name; other clients are NAKed for it', () => {
  const { server } = plain();
  const chaddr = Uint8Array.of(2, 0, 0, 0, 0, 0x33);
  const offer = server.handle(msg(DHCP.DISCOVER, {}, [], chaddr), 0)!;
  assert.equal(offer.message.yiaddr, STATIC);
  assert.equal(optText(offer.message, OPT.HOSTNAME), 'printer');
  const ack = server.handle(
    msg(
      DHCP.REQUEST,
      {},
      [
        [OPT.SERVER_ID, u32(SERVER)],
        [OPT.REQUESTED_IP, u32(STATIC)],
      ],
      chaddr,
    ),
    0,
  )!;
  assert.equal(typeOf(ack), DHCP.ACK);
  assert.equal(optText(ack.message, OPT.HOSTNAME), 'printer');
  assert.deepEqual(server.leases(), [{ mac: STATIC_MAC, address: STATIC, expiresMs: 600_000, hostname: 'printer' }]);
  const other = server.handle(requestFor(2, STATIC), 0)!;
  assert.equal(typeOf(other), DHCP.NAK);
  assert.equal(optText(other.message, OPT.MESSAGE), 'address not available');
  assert.equal(server.handle(discover(2, STATIC), 0)!.message.yiaddr, ADDR, 'a requested static address is not offered to another');
  // INIT-REBOOT (no server id, no ciaddr) by the static client: it is known, so answered.
  assert.equal(typeOf(server.handle(msg(DHCP.REQUEST, {}, [[OPT.REQUESTED_IP, u32(STATIC)]], chaddr), 1)), DHCP.ACK);
});

test("DhcpServer: never the server's own address, 0, or an address outside the pool; the pool's last address is in it", () => {
  const { server } = plain({ first: ip(10, 0, 0, 1), last: ip(10, 0, 0, 2) });
  assert.equal(server.handle(discover(1), 0)!.message.yiaddr, ip(10, 0, 0, 2), 'the pool starts at the server: skipped');
  const self = server.handle(requestFor(1, SERVER), 0)!;
  assert.deepEqual([typeOf(self), optText(self.message, OPT.MESSAGE)], [DHCP.NAK, 'address not available']);
  const outside = server.handle(requestFor(1, ip(10, 0, 0, 3)), 0)!;
  assert.deepEqual([typeOf(outside), optText(outside.message, OPT.MESSAGE)], [DHCP.NAK, 'address not available']);
  assert.equal(typeOf(server.handle(requestFor(1, ip(10, 0, 0, 2)), 0)), DHCP.ACK);
  assert.equal(server.handle(discover(2), 0), undefined, 'a full pool: no offer');
  assert.equal(server.lastIgnored, `pool exhausted; no address for ${macText(2)}`);

  const zero = plain({ first: 0, last: ip(10, 0, 0, 255), extra: { address: ip(10, 0, 0, 254), prefixLen: 0 } }).server;
  assert.equal(zero.handle(discover(1), 0)!.message.yiaddr, 1, 'address 0 is never handed out');
  assert.equal(zero.handle(discover(2, 0), 0)!.message.yiaddr, 2, 'nor offered when asked for');
});

test('DhcpServer: which address a DISCOVER gets — the static, the lease, the offer, the requested, a fresh one, then an expired one', () => {
  const { server } = plain();
  const a1 = lease(server, 1, 0);
  assert.equal(a1, ADDR);
  assert.equal(server.handle(discover(1, ip(10, 0, 0, 102)), 10)!.message.yiaddr, ADDR, 'a client with a lease is offered it again');
  const o2 = server.handle(discover(2), 10)!.message.yiaddr;
  assert.equal(o2, ip(10, 0, 0, 101));
  assert.equal(server.handle(discover(2, ip(10, 0, 0, 102)), 20)!.message.yiaddr, o2, 'a client with an offer is offered it again');
  assert.equal(server.handle(discover(3, ip(10, 0, 0, 102)), 20)!.message.yiaddr, ip(10, 0, 0, 102), 'a free requested address');
  assert.equal(server.counters.discovers, 5);
  assert.equal(server.counters.offers, 5);

  // Fresh addresses before expired ones: client 1's lease expires (600 s), client 4 still gets a never-leased one
  // when there is one, and client 1's old address only when none is left.
  const { server: s2 } = plain({ last: ip(10, 0, 0, 101) });
  assert.equal(lease(s2, 1, 0), ADDR);
  assert.equal(s2.handle(discover(4), 600_000)!.message.yiaddr, ip(10, 0, 0, 101), 'never-leased first');
  assert.equal(s2.handle(discover(5), 600_000)!.message.yiaddr, ADDR, 'then the expired lease of another');
});

test('DhcpServer: leases and offers lapse at exactly their end', () => {
  const { server } = plain({ last: ADDR });
  assert.equal(lease(server, 1, 0), ADDR);
  assert.equal(server.handle(discover(2), 599_999), undefined, "client 1's lease still runs");
  assert.equal(server.handle(discover(2), 600_000)!.message.yiaddr, ADDR, 'over at 600 s');
  // Client 2's offer holds the address for 60 s.
  assert.equal(typeOf(server.handle(requestFor(1, ADDR, null), 659_999)), DHCP.NAK, 'held for client 2');
  assert.equal(typeOf(server.handle(msg(DHCP.REQUEST, { ciaddr: ADDR }, [], macN(1)), 660_000)), DHCP.ACK, 'the offer lapsed at 60 s');
});

test('DhcpServer: an address moved to a new lease frees the old one; RELEASE and another server chosen free the address at once', () => {
  const { server, saved } = plain({ last: ip(10, 0, 0, 101) });
  assert.equal(lease(server, 1, 0), ADDR);
  // Client 1 now asks for .101 (INIT-REBOOT elsewhere, say): granted, and .100 is free for others.
  assert.equal(typeOf(server.handle(requestFor(1, ip(10, 0, 0, 101), null), 10)), DHCP.ACK);
  assert.deepEqual(
    server.leases().map((l) => [l.mac, l.address]),
    [[macText(1), ip(10, 0, 0, 101)]],
  );
  assert.equal(lease(server, 2, 20), ADDR, 'the address left behind');

  // RELEASE with the wrong ciaddr does nothing; with the right one frees the address, saved.
  const saves = saved.length;
  assert.equal(server.handle(msg(DHCP.RELEASE, { ciaddr: ADDR }, [], macN(1)), 30), undefined);
  assert.equal(server.leases().length, 2);
  assert.equal(server.handle(msg(DHCP.RELEASE, { ciaddr: ip(10, 0, 0, 101) }, [], macN(3)), 30), undefined, 'not its lease');
  assert.equal(server.leases().length, 2);
  assert.equal(saved.length, saves, 'nothing changed, nothing saved');
  server.handle(msg(DHCP.RELEASE, { ciaddr: ip(10, 0, 0, 101) }, [], macN(1)), 30);
  assert.deepEqual(
    server.leases().map((l) => l.mac),
    [macText(2)],
  );
  assert.equal(saved.length, saves + 1);
  assert.equal(server.counters.releases, 3);
  assert.equal(lease(server, 3, 40), ip(10, 0, 0, 101), 'released: another client has it at once');

  // Client 4 was offered an address but chose another server: the offer is void at once.
  const { server: s2 } = plain({ last: ADDR });
  assert.equal(s2.handle(discover(4), 0)!.message.yiaddr, ADDR);
  assert.equal(s2.handle(requestFor(4, ADDR, ip(10, 0, 0, 2)), 1), undefined);
  assert.equal(s2.lastIgnored, `${macText(4)} chose server 10.0.0.2`);
  assert.equal(s2.counters.ignored, 1);
  assert.equal(lease(s2, 5, 2), ADDR, 'free for the next client');
  // An ACKed offer is spent: after client 5 releases, client 6 can have the address well within the hold.
  s2.handle(msg(DHCP.RELEASE, { ciaddr: ADDR }, [], macN(5)), 3);
  assert.equal(lease(s2, 6, 4), ADDR);
});

test('DhcpServer: REQUEST forms that are NAKed or ignored, each with its reason', () => {
  const { server } = plain();
  const nak = (m: DhcpMessage, why: string): void => {
    const r = server.handle(m, 0)!;
    assert.equal(typeOf(r), DHCP.NAK, why);
    assert.equal(optText(r.message, OPT.MESSAGE), why);
  };
  nak(msg(DHCP.REQUEST, {}, [[OPT.SERVER_ID, u32(SERVER)]], macN(1)), 'REQUEST without a requested address');
  nak(msg(DHCP.REQUEST, {}, [], macN(1)), 'REQUEST names no address');
  nak(requestFor(1, ip(10, 0, 1, 100)), 'address is on the wrong network');
  nak(msg(DHCP.REQUEST, { ciaddr: ip(10, 0, 1, 100) }, [], macN(1)), 'address is on the wrong network');
  assert.equal(server.counters.naks, 4);
  assert.equal(server.counters.requests, 4);

  // INIT-REBOOT (no server id, no ciaddr) from a client we never saw: silent when the address is free (§4.3.2) …
  assert.equal(server.handle(requestFor(1, ADDR, null), 0), undefined);
  assert.equal(server.lastIgnored, `INIT-REBOOT from unknown ${macText(1)}`);
  // … and NAKed when it belongs to another.
  lease(server, 2, 0);
  nak(requestFor(1, ADDR, null), 'address belongs to another client');
  // RENEWING (ciaddr, no server id) from an unknown client is judged, not ignored.
  assert.equal(typeOf(server.handle(msg(DHCP.REQUEST, { ciaddr: ip(10, 0, 0, 101) }, [], macN(1)), 0)), DHCP.ACK);
  // INIT-REBOOT from a client holding an offer is answered.
  server.handle(discover(3), 0);
  assert.equal(typeOf(server.handle(requestFor(3, ip(10, 0, 0, 102), null), 0)), DHCP.ACK);
  nak(requestFor(4, ip(10, 0, 0, 102)), 'address not available');
});

test('DhcpServer: replies go to the relay, to ciaddr when the client has one (not for a NAK), else broadcast', () => {
  const { server } = plain();
  lease(server, 1, 0);
  const renew = server.handle(msg(DHCP.REQUEST, { ciaddr: ADDR }, [], macN(1)), 1000)!;
  assert.deepEqual([typeOf(renew), renew.dst, renew.dstPort, renew.message.ciaddr, renew.message.yiaddr], [DHCP.ACK, ADDR, 68, ADDR, ADDR]);
  assert.equal(server.counters.acks, 2);
  assert.equal(server.leases()[0]!.expiresMs, 1000 + 600_000, 'renewed from now');
  const nak = server.handle(msg(DHCP.REQUEST, { ciaddr: ip(10, 0, 0, 101) }, [], macN(9)), 1000);
  assert.equal(typeOf(nak), DHCP.ACK, 'a free address renewed by a stranger is granted');
  const taken = server.handle(msg(DHCP.REQUEST, { ciaddr: ADDR }, [], macN(9)), 1000)!;
  assert.deepEqual([typeOf(taken), taken.dst, taken.message.ciaddr], [DHCP.NAK, 0xffffffff, 0], 'a NAK is broadcast, ciaddr cleared');
  const relayed = server.handle(msg(DHCP.DISCOVER, { giaddr: ip(10, 0, 0, 254) }, [], macN(5)), 1000)!;
  assert.deepEqual([relayed.dst, relayed.dstPort, relayed.message.giaddr], [ip(10, 0, 0, 254), 67, ip(10, 0, 0, 254)]);
});

test('DhcpServer: DECLINE holds the address out of the pool for 10 minutes and drops the lease; it needs our server id and an address', () => {
  const { server, saved } = plain({ last: ADDR });
  assert.equal(lease(server, 1, 0), ADDR);
  const decline = (serverId: number | undefined, a: number | undefined): DhcpMessage =>
    msg(
      DHCP.DECLINE,
      {},
      [
        ...(serverId === undefined ? [] : [[OPT.SERVER_ID, u32(serverId)] as [number, Uint8Array]]),
        ...(a === undefined ? [] : [[OPT.REQUESTED_IP, u32(a)] as [number, Uint8Array]]),
      ],
      macN(1),
    );
  for (const [sid, a] of [
    [undefined, ADDR],
    [ip(10, 0, 0, 2), ADDR],
    [SERVER, undefined],
  ] as const) {
    assert.equal(server.handle(decline(sid, a), 0), undefined);
    assert.equal(server.lastIgnored, 'DECLINE without our server id or an address');
  }
  assert.equal(server.leases().length, 1, 'those changed nothing');
  const saves = saved.length;
  assert.equal(server.handle(decline(SERVER, ADDR), 1000), undefined);
  assert.equal(server.counters.declines, 4);
  assert.deepEqual(
    server.leases(),
    [{ mac: macText(1), address: ADDR, expiresMs: 1000 + 600_000, declined: true }],
    'the lease is gone, the hold is listed',
  );
  assert.equal(saved.length, saves + 1, 'and saved');
  assert.equal(server.handle(discover(2), 1000 + 599_999), undefined, 'held for 10 minutes');
  assert.equal(server.handle(discover(1), 1000 + 599_999), undefined, 'from the decliner too');
  assert.equal(server.handle(discover(2), 1000 + 600_000)!.message.yiaddr, ADDR);

  const noStore = plain({ store: false }).server;
  noStore.handle(decline(SERVER, ADDR), 0);
  assert.equal(noStore.counters.declines, 1, 'a server without a store declines too');
});

test('DhcpServer: INFORM is answered with options and no lease, to ciaddr; other messages are ignored and named', () => {
  const { server } = plain({ extra: { router: SERVER } });
  const r = server.handle(msg(DHCP.INFORM, { ciaddr: ip(10, 0, 0, 7) }, [], macN(1)), 0)!;
  assert.deepEqual(
    [typeOf(r), r.dst, r.message.yiaddr, r.message.options.has(OPT.LEASE_TIME), optAddresses(r.message, OPT.ROUTER)],
    [DHCP.ACK, ip(10, 0, 0, 7), 0, false, [SERVER]],
  );
  assert.equal(server.handle(msg(DHCP.INFORM, {}, [], macN(1)), 0), undefined);
  assert.equal(server.lastIgnored, 'INFORM without ciaddr');
  assert.equal(server.counters.informs, 2);
  assert.deepEqual(server.leases(), []);
  assert.equal(server.handle({ ...discover(1), op: 2 }, 0), undefined);
  assert.equal(server.lastIgnored, 'not a request');
  assert.equal(server.counters.discovers, 0, 'a reply is not looked at');
  assert.equal(server.handle(msg(DHCP.OFFER, {}, [], macN(1)), 0), undefined);
  assert.equal(server.lastIgnored, `message type ${DHCP.OFFER}`);
  assert.equal(server.handle({ ...msg(DHCP.DISCOVER), options: new Map() }, 0), undefined);
  assert.equal(server.lastIgnored, 'message type missing');
  assert.equal(server.counters.ignored, 4);
});

test('DhcpServer: expire drops leases and declined holds at exactly their end, and counts them', () => {
  const { server } = plain();
  lease(server, 1, 0);
  lease(server, 2, 100);
  server.handle(
    msg(
      DHCP.DECLINE,
      {},
      [
        [OPT.SERVER_ID, u32(SERVER)],
        [OPT.REQUESTED_IP, u32(ip(10, 0, 0, 102))],
      ],
      macN(3),
    ),
    0,
  );
  assert.equal(server.leases().length, 3);
  assert.equal(server.expire(599_999), 0);
  assert.equal(server.expire(600_000), 2, "client 1's lease and the declined address (10 min)");
  assert.deepEqual(
    server.leases().map((l) => l.mac),
    [macText(2)],
  );
  assert.equal(server.expire(600_100), 1);
  assert.deepEqual(server.leases(), []);
  assert.equal(lease(server, 4, 600_100), ADDR, 'expired leases are forgotten: the pool is fresh again from its start');
});

test('decodeLeases: the lease file round-trips; an unknown version, a malformed record or bad JSON is a reason', () => {
  const l: LeaseRecord[] = [
    { mac: macText(1), address: ADDR, expiresMs: 5, hostname: 'a', declined: false },
    { mac: macText(2), address: ip(10, 0, 0, 101), expiresMs: 6, hostname: undefined, declined: true },
  ];
  assert.deepEqual(decodeLeases(encodeLeases(l)), l);
  const text = (s: string): LeaseRecord[] | string => decodeLeases(new TextEncoder().encode(s));
  assert.equal(text('{"version":2,"leases":[]}'), 'lease file has an unknown version');
  assert.equal(text('{"leases":[]}'), 'lease file has an unknown version');
  assert.equal(text('{"version":1,"leases":{}}'), 'lease file has an unknown version');
  assert.deepEqual(text('{"version":1,"leases":[]}'), []);
  for (const bad of [
    '{"address":1,"expiresMs":1}',
    '{"mac":"m","expiresMs":1}',
    '{"mac":"m","address":1}',
    '{"mac":1,"address":1,"expiresMs":1}',
  ])
    assert.equal(text(`{"version":1,"leases":[${bad}]}`), 'a lease record is malformed', bad);
  assert.deepEqual(text('{"version":1,"leases":[{"mac":"m","address":-1,"expiresMs":1,"hostname":7,"declined":"yes"}]}'), [
    { mac: 'm', address: 0xffffffff, expiresMs: 1, hostname: undefined, declined: false },
  ]);
  assert.equal(text('{"version":1,'), 'lease file is not valid JSON');
});

test('DhcpServer: an old lease of an address now leased to another neither frees it on a new lease nor on RELEASE', () => {
  for (const how of ['new lease', 'release'] as const) {
    const { server } = plain();
    assert.equal(lease(server, 1, 0), ADDR);
    // Client 1's lease lapses; client 2 gets the address (requested), then client 1 comes back.
    assert.equal(lease(server, 2, 600_000, ADDR), ADDR);
    if (how === 'new lease') assert.equal(lease(server, 1, 600_001), ip(10, 0, 0, 101));
    else server.handle(msg(DHCP.RELEASE, { ciaddr: ADDR }, [], macN(1)), 600_001);
    const offer = server.handle(discover(3, ADDR), 600_002)!;
    assert.notEqual(offer.message.yiaddr, ADDR, `${how}: client 2 still holds ${ADDR}`);
    assert.equal(typeOf(server.handle(requestFor(3, ADDR), 600_002)), DHCP.NAK);
  }
});

test('DhcpServer: an address below the pool is not handed out; a free requested address is offered over the first fresh one', () => {
  const { server } = plain();
  const below = server.handle(requestFor(1, ip(10, 0, 0, 60)), 0)!;
  assert.deepEqual([typeOf(below), optText(below.message, OPT.MESSAGE)], [DHCP.NAK, 'address not available']);
  assert.equal(server.handle(discover(1, ip(10, 0, 0, 60)), 0)!.message.yiaddr, ADDR, 'nor offered when asked for');
  assert.equal(server.handle(discover(2, ip(10, 0, 0, 102)), 0)!.message.yiaddr, ip(10, 0, 0, 102), 'asked for, and free');
});

test('DhcpServer: a client whose offer lapsed, or who chose another server, is unknown again: its INIT-REBOOT gets silence', () => {
  const { server } = plain();
  server.handle(discover(1), 0);
  assert.equal(typeOf(server.handle(requestFor(1, ip(10, 0, 0, 101), null), 59_999)), DHCP.ACK, 'known by its offer');
  server.handle(discover(2), 0);
  assert.equal(server.handle(requestFor(2, ip(10, 0, 0, 102), null), 60_000), undefined, 'the offer lapsed at exactly 60 s');
  assert.equal(server.lastIgnored, `INIT-REBOOT from unknown ${macText(2)}`);
  server.handle(discover(3), 70_000);
  server.handle(requestFor(3, ip(10, 0, 0, 100), ip(10, 0, 0, 2)), 70_001);
  assert.equal(server.handle(requestFor(3, ip(10, 0, 0, 102), null), 70_002), undefined, 'its offer void');
});
