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
import { DHCP, messageType, OPT, optText, type DhcpMessage } from '../../wire/dhcp.ts';
import { decodeLeases, DhcpServer, encodeLeases } from './server.ts';

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
