/**
 * The Ethernet layer's receive filter and transmit (ethernet.ts): frames
 * for this host's MAC or broadcast, untagged or priority-tagged (802.1Q
 * VID 0), go to the handler of their EtherType with the payload's bounds;
 * everything else is counted under its reason. Transmit writes the
 * 14-byte header (destination, this MAC, EtherType big-endian) and counts
 * the device's answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeviceResult, NetDevice, RxInfo } from '../devices/index.ts';
import { createPipe } from '../link/pipe.ts';
import { drainFrames } from '../link/queue.ts';
import { Ethernet } from './ethernet.ts';

const mac = (n: number): Uint8Array => Uint8Array.of(2, 0, 0, 0, 0, n);
const BCAST = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

function frame(dst: Uint8Array, type: number, payload: number[] = [1, 2, 3], tag?: number): Uint8Array {
  const head = [...dst, ...mac(9)];
  const t = [type >> 8, type & 0xff];
  const vlan = tag === undefined ? [] : [0x81, 0x00, tag >> 8, tag & 0xff];
  return Uint8Array.from([...head, ...vlan, ...t, ...payload]);
}

function setup(): { eth: Ethernet; got: [number, number, number[], boolean][]; peer: NetDevice } {
  const [dev, peer] = createPipe(mac(1), mac(9));
  const eth = new Ethernet(dev);
  const got: [number, number, number[], boolean][] = [];
  eth.register(0x0800, {
    receive: (buf, off, end, _f, verified) => {
      got.push([off, end, [...buf.subarray(off, end)], verified]);
    },
  });
  return { eth, got, peer };
}

test('kept: to this MAC or broadcast, untagged or priority-tagged; the payload bounds handed over', () => {
  const { eth, got } = setup();
  eth.input(frame(mac(1), 0x0800));
  eth.input(frame(BCAST, 0x0800, [4]));
  eth.input(frame(mac(1), 0x0800, [5, 6], 0x0000));
  eth.input(frame(mac(1), 0x0800, [7], 0xe000), undefined, true); // priority 7, VID 0
  const f = frame(mac(1), 0x0800, [8, 9, 10]);
  eth.input(f, f.length - 1);
  assert.deepEqual(got, [
    [14, 17, [1, 2, 3], false],
    [14, 15, [4], false],
    [18, 20, [5, 6], false],
    [18, 19, [7], true],
    [14, 16, [8, 9], false],
  ]);
  assert.equal(eth.rxFrames, 5);
  assert.deepEqual(
    Object.values(eth.drops).every((n) => n === 0),
    true,
  );
});

test('dropped and counted: short, for another host or a multicast group, another VLAN, an EtherType nobody registered', () => {
  const { eth, got } = setup();
  eth.input(new Uint8Array(13));
  eth.input(frame(mac(1), 0x0800), 16, false); // 16 of its 17 bytes: a whole untagged header, kept
  eth.input(Uint8Array.from([...mac(1), ...mac(9), 0x81, 0x00, 0x00]), 17);
  eth.input(frame(mac(2), 0x0800));
  eth.input(frame(Uint8Array.of(1, 0, 0x5e, 0, 0, 1), 0x0800));
  eth.input(frame(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xfe), 0x0800));
  eth.input(frame(mac(1), 0x0800, [1], 5));
  eth.input(frame(mac(1), 0x86dd));
  assert.deepEqual(
    { ...eth.drops },
    { truncated: 2, 'not-for-us': 3, vlan: 1, 'unknown-ethertype': 1, 'rx-failed': 0, 'tx-again': 0, 'tx-invalid': 0, 'tx-gone': 0 },
  );
  assert.equal(got.length, 1, 'the 16-byte untagged frame');
  assert.equal(eth.rxFrames, 8);
});

test('poll: up to the budget, what the device vouched for, a failed device stops it', () => {
  const { eth, got, peer } = setup();
  for (let i = 0; i < 5; i++) peer.write(Uint8Array.from([...frame(mac(1), 0x0800, [i]), ...new Array(46).fill(0)]));
  assert.equal(eth.poll(3), 3);
  assert.equal(eth.poll(), 2);
  assert.equal(eth.poll(), 0);
  assert.deepEqual(
    got.map((g) => g[2][0]),
    [0, 1, 2, 3, 4],
  );
  let reads = 0;
  const flaky: NetDevice = {
    mac: mac(1),
    mtu: 1500,
    capabilities: { gsoMax: undefined, rxOffload: false, headroom: 0 },
    read(into: Uint8Array, rx: RxInfo) {
      reads++;
      if (reads === 1) {
        into.set(frame(mac(1), 0x0800, [42]));
        rx.checksumVerified = true;
        return 17;
      }
      return 'unspecified';
    },
    write: (): DeviceResult => 'ok',
    readyAtNs: () => undefined,
  };
  const e2 = new Ethernet(flaky);
  const seen: boolean[] = [];
  e2.register(0x0800, { receive: (_b, _o, _e, _f, v) => seen.push(v) });
  assert.equal(e2.poll(), 1);
  assert.deepEqual(seen, [true]);
  assert.equal(e2.drops['rx-failed'], 1);
  assert.equal(reads, 2);
});

test('transmit: the header written, gsoSize passed only when given, each answer counted', () => {
  const answers: DeviceResult[] = ['ok', 'again', 'invalid', 'unspecified'];
  const writes: [number[], number | undefined, number][] = [];
  const dev: NetDevice = {
    mac: mac(1),
    mtu: 1500,
    capabilities: { gsoMax: 65549, rxOffload: false, headroom: 2 },
    read: () => 'again',
    write(...args: [Uint8Array, number?]) {
      writes.push([[...args[0].subarray(0, 14)], args[1], args.length]);
      return answers.shift() ?? 'ok';
    },
    readyAtNs: () => undefined,
  };
  const eth = new Ethernet(dev);
  assert.equal(eth.gsoMax, 65549);
  assert.equal(eth.headroom, 2);
  assert.equal(eth.mtu, 1500);
  const f = new Uint8Array(60);
  assert.equal(eth.transmit(f, mac(7), 0x0806), 'ok');
  assert.equal(eth.transmit(f, BCAST, 0x0800, 1448), 'again');
  assert.equal(eth.transmit(f, mac(7), 0x0800, 0), 'invalid');
  assert.equal(eth.transmit(f, mac(7), 0x0800), 'unspecified');
  assert.deepEqual(writes[0], [[2, 0, 0, 0, 0, 7, 2, 0, 0, 0, 0, 1, 0x08, 0x06], undefined, 1]);
  assert.deepEqual(writes[1], [[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x00], 1448, 2]);
  assert.deepEqual(
    writes.map((w) => w[2]),
    [1, 2, 1, 1],
  );
  assert.equal(eth.txFrames, 1);
  assert.deepEqual([eth.drops['tx-again'], eth.drops['tx-invalid'], eth.drops['tx-gone']], [1, 1, 1]);
});

test('its own copy of the MAC; a receive buffer for the largest frame the device may hand over', () => {
  const m = mac(1);
  const [dev, peer] = createPipe(m, mac(9), 9000);
  const eth = new Ethernet(dev);
  m[5] = 77;
  assert.deepEqual(eth.mac, mac(1));
  const got: number[] = [];
  eth.register(0x0800, { receive: (_b, off, end) => got.push(end - off) });
  peer.write(Uint8Array.from([...frame(mac(1), 0x0800, new Array(9000).fill(1)), 0, 0, 0, 0]));
  assert.equal(eth.poll(), 1, 'mtu + 18 bytes read');
  assert.deepEqual(got, [9004]);
  assert.equal(drainFrames(peer).length, 0);
});
