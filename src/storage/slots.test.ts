/**
 * The two-slot store (slots.ts): the header it writes (FATASLOT, generation,
 * length, CRC-32, big-endian), the alternation between halves, and what
 * load makes of each damage: a torn or corrupted newer copy leaves the
 * older one, both bad is 'corrupt', zeros are 'empty'. CRC-32 is zlib's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BlockDevice, DeviceResult } from '../devices/index.ts';
import { crc32, SlotStore } from './slots.ts';

/** A block device in memory with the interface's rules; `fail` makes reads or writes fail. */
class MemBlock implements BlockDevice {
  readonly bytes: Uint8Array;
  readonly capacity: bigint;
  readonly blockSize: number;
  fail: { read?: boolean; write?: boolean; readAt?: bigint } = {};
  writes: bigint[] = [];
  constructor(size: number, blockSize = 512) {
    this.bytes = new Uint8Array(size);
    this.capacity = BigInt(size);
    this.blockSize = blockSize;
  }
  private check(offset: bigint, n: number): boolean {
    const bs = BigInt(this.blockSize);
    return offset % bs === 0n && BigInt(n) % bs === 0n && offset + BigInt(n) <= this.capacity;
  }
  read(offset: bigint, into: Uint8Array): DeviceResult {
    if (!this.check(offset, into.length)) return 'invalid';
    if (this.fail.read || this.fail.readAt === offset) return 'unspecified';
    into.set(this.bytes.subarray(Number(offset), Number(offset) + into.length));
    return 'ok';
  }
  write(offset: bigint, data: Uint8Array): DeviceResult {
    if (!this.check(offset, data.length)) return 'invalid';
    if (this.fail.write) return 'unspecified';
    this.writes.push(offset);
    this.bytes.set(data, Number(offset));
    return 'ok';
  }
}
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

test('CRC-32 as zlib computes it (check value of "123456789", empty, one byte)', () => {
  assert.equal(crc32(enc('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  assert.equal(crc32(Uint8Array.of(0)), 0xd202ef8d);
  assert.equal(crc32(enc('The quick brown fox jumps over the lazy dog')), 0x414fa339);
  assert.equal(crc32(new Uint8Array(32).fill(0xff)), 0xff6cab0b);
});

test('capacity: half the device in whole blocks, less the 24-byte header', () => {
  assert.equal(new SlotStore(new MemBlock(4096)).capacity, 2048 - 24);
  assert.equal(new SlotStore(new MemBlock(512 * 5)).capacity, 1024 - 24, 'an odd block count leaves the last block unused');
  assert.equal(new SlotStore(new MemBlock(512)).capacity, 0, 'one block: no slot');
  assert.equal(new SlotStore(new MemBlock(8192, 4096)).capacity, 4096 - 24);
});

test('the header: FATASLOT, generation, length, CRC-32, big-endian; slots alternate, generation 1 in the second', () => {
  const dev = new MemBlock(4096);
  const s = new SlotStore(dev);
  assert.equal(s.load(), undefined);
  assert.equal(s.state, 'empty');
  const doc = enc('{"leases":[]}');
  assert.equal(s.save(doc), 'ok');
  assert.deepEqual(dev.writes, [2048n], 'generation 1 goes to slot 1');
  const head = dev.bytes.subarray(2048, 2048 + 24);
  assert.deepEqual([...head.subarray(0, 8)], [...enc('FATASLOT')]);
  const dv = new DataView(head.buffer, head.byteOffset, 24);
  assert.equal(dv.getUint32(8), 1);
  assert.equal(dv.getUint32(12), doc.length);
  assert.equal(dv.getUint32(16), crc32(doc));
  assert.deepEqual([...head.subarray(20, 24)], [0, 0, 0, 0]);
  assert.deepEqual(dev.bytes.subarray(2048 + 24, 2048 + 24 + doc.length), doc);
  assert.ok(
    dev.bytes.subarray(0, 2048).every((x) => x === 0),
    'slot 0 untouched',
  );
  assert.equal(s.save(enc('two')), 'ok');
  assert.equal(s.save(enc('three')), 'ok');
  assert.deepEqual(dev.writes, [2048n, 0n, 2048n]);
  assert.equal(new DataView(dev.bytes.buffer).getUint32(8), 2);
  assert.equal(new DataView(dev.bytes.buffer).getUint32(2048 + 8), 3);
  const again = new SlotStore(dev);
  assert.deepEqual(again.load(), enc('three'));
  assert.equal(again.state, 'ok');
  assert.equal(again.save(enc('four')), 'ok', 'continues from the generation it loaded');
  assert.deepEqual(dev.writes.at(-1), 0n);
  assert.equal(new DataView(dev.bytes.buffer).getUint32(8), 4);
  assert.deepEqual(new SlotStore(dev).load(), enc('four'));
});

test('a write of just the blocks it needs: a header and payload that fill a block exactly take one', () => {
  const dev = new MemBlock(8192);
  const s = new SlotStore(dev);
  dev.bytes.fill(0xee, 4096 + 512, 8192);
  assert.equal(s.save(new Uint8Array(512 - 24).fill(7)), 'ok');
  assert.ok(
    dev.bytes.subarray(4096 + 512).every((x) => x === 0xee),
    'the second block of the slot is not written',
  );
  assert.deepEqual(new SlotStore(dev).load(), new Uint8Array(512 - 24).fill(7));
  assert.equal(s.save(new Uint8Array(512 - 23).fill(8)), 'ok');
  assert.deepEqual(new SlotStore(dev).load(), new Uint8Array(512 - 23).fill(8), 'one byte more: two blocks');
});

test('full: a payload of exactly the capacity fits, one byte more does not and nothing is written', () => {
  const dev = new MemBlock(2048);
  const s = new SlotStore(dev);
  const max = new Uint8Array(s.capacity).fill(1);
  assert.equal(s.save(max), 'ok');
  assert.deepEqual(new SlotStore(dev).load(), max);
  const n = dev.writes.length;
  assert.equal(s.save(new Uint8Array(s.capacity + 1)), 'full');
  assert.equal(dev.writes.length, n);
  const one = new MemBlock(512);
  assert.equal(new SlotStore(one).save(new Uint8Array(0)), 'full', 'one block: no slot, not even for an empty document');
  assert.deepEqual(one.writes, []);
});

test('a torn or damaged newer copy: the older one loads; both damaged: corrupt; a failed write: io-error, generation kept', () => {
  const dev = new MemBlock(4096);
  const s = new SlotStore(dev);
  s.save(enc('old'));
  s.save(enc('new'));
  dev.bytes[24] = dev.bytes[24]! ^ 1; // the payload of generation 2 (slot 0)
  const r = new SlotStore(dev);
  assert.deepEqual(r.load(), enc('old'));
  assert.equal(r.state, 'ok');
  dev.bytes[2048 + 3] = 0; // the magic of generation 1
  const both = new SlotStore(dev);
  assert.equal(both.load(), undefined);
  assert.equal(both.state, 'corrupt');

  const io = new MemBlock(4096);
  const t = new SlotStore(io);
  t.save(enc('a'));
  io.fail.write = true;
  assert.equal(t.save(enc('b')), 'io-error');
  io.fail.write = false;
  assert.equal(t.save(enc('c')), 'ok');
  assert.deepEqual(io.writes, [2048n, 0n], 'the failed save did not advance the generation');
  assert.deepEqual(new SlotStore(io).load(), enc('c'));
});

test('load: the higher generation whichever slot it is in; a tie goes to slot 0', () => {
  const dev = new MemBlock(4096);
  const s = new SlotStore(dev);
  s.save(enc('one'));
  s.save(enc('two'));
  s.save(enc('three'));
  assert.deepEqual(new SlotStore(dev).load(), enc('three'), 'generation 3 in slot 1 over 2 in slot 0');
  dev.bytes.copyWithin(0, 2048, 4096); // both slots hold generation 3
  new DataView(dev.bytes.buffer).setUint32(16, 0);
  dev.bytes.set(enc('THREE'), 24);
  new DataView(dev.bytes.buffer).setUint32(16, crc32(enc('THREE')));
  assert.deepEqual(new SlotStore(dev).load(), enc('THREE'));
});

test('a header that lies: a length past the slot, a CRC that does not match, an unreadable slot', () => {
  const dev = new MemBlock(4096);
  const s = new SlotStore(dev);
  s.save(enc('good')); // slot 1
  s.save(enc('newer')); // slot 0
  const dv = new DataView(dev.bytes.buffer);
  dv.setUint32(12, 2048 - 24 + 1);
  assert.deepEqual(new SlotStore(dev).load(), enc('good'), 'a length one past the capacity');
  dv.setUint32(12, 2048 - 24);
  assert.deepEqual(new SlotStore(dev).load(), enc('good'), 'a length up to the capacity, with a CRC that does not match');
  dv.setUint32(12, 5);
  assert.deepEqual(new SlotStore(dev).load(), enc('newer'));
  dev.fail.readAt = 0n;
  const r = new SlotStore(dev);
  assert.deepEqual(r.load(), enc('good'), 'slot 0 unreadable');
  dev.fail.read = true;
  const none = new SlotStore(dev);
  assert.equal(none.load(), undefined);
  assert.equal(none.state, 'empty', 'nothing readable looks like nothing written');
});

test('empty or corrupt: zeros are new, any other byte in a first block is damage', () => {
  for (const at of [0, 511, 2048, 2048 + 511]) {
    const dev = new MemBlock(4096);
    dev.bytes[at] = 1;
    const s = new SlotStore(dev);
    assert.equal(s.load(), undefined);
    assert.equal(s.state, 'corrupt', `a byte at ${at}`);
  }
  const dev = new MemBlock(4096);
  dev.bytes[512] = 1;
  const s = new SlotStore(dev);
  s.load();
  assert.equal(s.state, 'empty', "only each slot's first block is looked at");
  const tiny = new SlotStore(new MemBlock(512));
  assert.equal(tiny.load(), undefined);
  assert.equal(tiny.state, 'empty');
});

test('a damaged older copy: the newer loads; before any load the state is empty', () => {
  const dev = new MemBlock(4096);
  const s = new SlotStore(dev);
  assert.equal(s.state, 'empty');
  s.save(enc('one')); // slot 1
  s.save(enc('two')); // slot 0
  dev.bytes[2048 + 24] = dev.bytes[2048 + 24]! ^ 0xff;
  assert.deepEqual(new SlotStore(dev).load(), enc('two'));
});

test('a length that reaches into the other half is refused even when its CRC matches what is there', () => {
  const dev = new MemBlock(4096);
  const s = new SlotStore(dev);
  s.save(enc('good')); // slot 1, generation 1
  const len = 2048 - 24 + 512;
  const dv = new DataView(dev.bytes.buffer);
  dev.bytes.set(enc('FATASLOT'), 0);
  dv.setUint32(8, 9);
  dv.setUint32(12, len);
  dv.setUint32(16, crc32(dev.bytes.subarray(24, 24 + len)));
  assert.deepEqual(new SlotStore(dev).load(), enc('good'));
});

test('devices of one and two blocks: one has no slot (a header in it is not read), two have one block each', () => {
  const one = new MemBlock(512);
  one.bytes.set(enc('FATASLOT'), 0);
  new DataView(one.bytes.buffer).setUint32(8, 1); // generation 1, length 0, CRC 0: what an empty save would write
  const s = new SlotStore(one);
  assert.equal(s.load(), undefined);
  assert.equal(s.state, 'empty', 'a device with no slot has nothing to be damaged');
  const two = new MemBlock(1024);
  two.bytes[600] = 1;
  const t = new SlotStore(two);
  assert.equal(t.load(), undefined);
  assert.equal(t.state, 'corrupt');
  assert.equal(t.save(new Uint8Array(512 - 24).fill(3)), 'ok');
  assert.deepEqual(new SlotStore(two).load(), new Uint8Array(512 - 24).fill(3));
});
