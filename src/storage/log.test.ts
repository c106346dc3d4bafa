/**
 * The append-only log on a block device in memory whose writes can be made
 * to fail or be cut short: entries come back in order after a reload, a
 * torn last entry is dropped, a full region refuses without writing, and a
 * compaction (rewrite) that dies before its header leaves the old entries;
 * entries left from an older generation never come back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BlockDevice } from '../devices/index.ts';
import { AppendLog } from './log.ts';

interface Disk {
  readonly dev: BlockDevice;
  readonly bytes: Uint8Array;
  /** Writes fail from this one on (counting from 0); Infinity: never. */
  failFrom: number;
  writes: number;
}

function disk(size: number, blockSize = 512): Disk {
  const bytes = new Uint8Array(size);
  const d: Disk = {
    bytes,
    failFrom: Number.POSITIVE_INFINITY,
    writes: 0,
    dev: {
      capacity: BigInt(size),
      blockSize,
      read: (off, into) => {
        if (Number(off) % blockSize || into.length % blockSize || Number(off) + into.length > size) return 'invalid';
        into.set(bytes.subarray(Number(off), Number(off) + into.length));
        return 'ok';
      },
      write: (off, data) => {
        if (Number(off) % blockSize || data.length % blockSize || Number(off) + data.length > size) return 'invalid';
        if (d.writes++ >= d.failFrom) return 'unspecified';
        bytes.set(data, Number(off));
        return 'ok';
      },
    },
  };
  return d;
}

const text = (entries: readonly Uint8Array[]): string[] => entries.map((e) => new TextDecoder().decode(e));
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

test('a new device is empty; entries appended come back in order after a reload, each on blocks of its own', () => {
  const d = disk(64 * 512);
  const log = new AppendLog(d.dev);
  assert.deepEqual(log.load(), []);
  assert.equal(log.state, 'empty');
  assert.equal(log.capacity, 31 * 512, 'half the device, less the region header');
  assert.equal(log.append(enc('one')), 'ok');
  assert.equal(log.append(new Uint8Array(600).fill(7)), 'ok');
  assert.equal(log.append(enc('')), 'ok');
  assert.equal(log.used, 512 + 1024 + 512);
  const again = new AppendLog(d.dev);
  const got = again.load();
  assert.equal(again.state, 'ok');
  assert.deepEqual(text([got[0]!, got[2]!]), ['one', '']);
  assert.deepEqual(got[1], new Uint8Array(600).fill(7));
  assert.equal(again.used, log.used);
  assert.equal(again.append(enc('four')), 'ok');
  assert.deepEqual(text(new AppendLog(d.dev).load()).at(-1), 'four');
});

test('a torn last entry is dropped at load, and the next append takes its place', () => {
  const d = disk(64 * 512);
  const log = new AppendLog(d.dev);
  log.load();
  for (const s of ['a', 'b', 'c']) log.append(enc(s));
  // The third entry starts at block 1 (region header) + 2: flip one octet of its payload.
  d.bytes[3 * 512 + 20]! ^= 0xff;
  const again = new AppendLog(d.dev);
  assert.deepEqual(text(again.load()), ['a', 'b']);
  assert.equal(again.append(enc('C')), 'ok');
  assert.deepEqual(text(new AppendLog(d.dev).load()), ['a', 'b', 'C']);
});

test('an entry that does not fit is refused with full, nothing written; one that fails to write is io-error and not counted', () => {
  const d = disk(8 * 512);
  const log = new AppendLog(d.dev);
  log.load();
  assert.equal(log.capacity, 3 * 512);
  assert.equal(log.append(new Uint8Array(3 * 512 - 20)), 'ok', 'exactly the region');
  const writes = d.writes;
  assert.equal(log.append(enc('x')), 'full');
  assert.equal(d.writes, writes, 'nothing written');
  assert.equal(new AppendLog(d.dev).load().length, 1);

  const e = disk(16 * 512);
  const l2 = new AppendLog(e.dev);
  l2.load();
  l2.append(enc('kept'));
  e.failFrom = e.writes;
  assert.equal(l2.append(enc('lost')), 'io-error');
  e.failFrom = Number.POSITIVE_INFINITY;
  assert.equal(l2.append(enc('next')), 'ok');
  assert.deepEqual(text(new AppendLog(e.dev).load()), ['kept', 'next']);
});

test('rewrite replaces every entry; one that dies before its header is written leaves the old ones', () => {
  const d = disk(32 * 512);
  const log = new AppendLog(d.dev);
  log.load();
  for (const s of ['1', '2', '3']) log.append(enc(s));
  // The entries of the new set are written, the header is not.
  d.failFrom = d.writes + 1;
  assert.equal(log.rewrite([enc('compact')]), 'io-error');
  d.failFrom = Number.POSITIVE_INFINITY;
  assert.deepEqual(text(new AppendLog(d.dev).load()), ['1', '2', '3'], 'the old set still loads');
  assert.equal(log.append(enc('4')), 'ok', 'and appends still go to it');
  assert.deepEqual(text(new AppendLog(d.dev).load()), ['1', '2', '3', '4']);
  assert.equal(log.rewrite([enc('compact'), enc('5')]), 'ok');
  assert.equal(log.append(enc('6')), 'ok');
  assert.deepEqual(text(new AppendLog(d.dev).load()), ['compact', '5', '6']);
  assert.equal(log.rewrite([new Uint8Array(16 * 512)]), 'full', 'more than a region');
  assert.deepEqual(text(new AppendLog(d.dev).load()), ['compact', '5', '6']);
});

test('entries of an older generation left in a region are not loaded after a later, shorter rewrite there', () => {
  const d = disk(32 * 512);
  const log = new AppendLog(d.dev);
  log.load();
  for (const s of ['a', 'b', 'c', 'd']) log.append(enc(s)); // region 0
  assert.equal(log.rewrite([enc('x')]), 'ok'); // region 1
  assert.equal(log.rewrite([enc('y')]), 'ok'); // region 0 again: 'b', 'c', 'd' still lie after 'y'
  assert.deepEqual(text(new AppendLog(d.dev).load()), ['y']);
});

test('a device holding something else is corrupt; a zeroed one empty; one too small holds nothing', () => {
  const d = disk(16 * 512);
  d.bytes.fill(0x41, 0, 512);
  const log = new AppendLog(d.dev);
  assert.deepEqual(log.load(), []);
  assert.equal(log.state, 'corrupt');
  const tiny = disk(2 * 512);
  const t = new AppendLog(tiny.dev);
  t.load();
  assert.equal(t.state, 'empty');
  assert.equal(t.capacity, 0);
  assert.equal(t.append(enc('x')), 'full');
  // A damaged region header: the other region, if valid, is what loads.
  const e = disk(16 * 512);
  const l = new AppendLog(e.dev);
  l.load();
  l.append(enc('old'));
  l.rewrite([enc('new')]);
  e.bytes[8 * 512 + 9]! ^= 1;
  assert.deepEqual(text(new AppendLog(e.dev).load()), ['old']);
});
