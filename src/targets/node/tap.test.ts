/**
 * The tap device's framing without a tap: over a pipe, what `write` puts on
 * the descriptor is the virtio-net header and the frame, built in place in
 * the caller's headroom or in the device's own buffer; `read` gives back the
 * frame and the header's checksum verdict; a dead descriptor is a failure
 * ('unspecified'), not "nothing yet".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, readSync, writeSync } from 'node:fs';
import { withHeadroom, type RxInfo } from '../../devices/index.ts';
import { koffi } from './libc.ts';
import { TapDevice } from './tap.ts';

const pipe2 = koffi.load('libc.so.6').func('int pipe2(_Out_ int *fds, int flags)');
const O_NONBLOCK = 0o4000;

function pipe(): [number, number] {
  const fds = new Int32Array(2);
  assert.equal(pipe2(fds, O_NONBLOCK), 0);
  return [fds[0]!, fds[1]!];
}

const MAC = Uint8Array.of(2, 0, 0, 0, 0, 2);

function frame(len: number, into?: Uint8Array): Uint8Array {
  const f = into ?? new Uint8Array(len);
  for (let i = 0; i < len; i++) f[i] = (i * 7) & 0xff;
  return f.subarray(0, len);
}

test('tap write: the virtio-net header, then the frame, in place in the headroom or through a copy', async () => {
  const [r, w] = pipe();
  const tap = new TapDevice(w, 'pipe', { mac: MAC, mtu: 1500 });
  try {
    assert.equal(tap.capabilities.headroom, 10);
    const spacious = frame(100, withHeadroom(1514, tap.capabilities.headroom));
    const before = new Uint8Array(spacious.buffer, 0, 10);
    before.fill(0xee);
    assert.equal(tap.write(spacious), 'ok');
    const got = new Uint8Array(200);
    assert.equal(readSync(r, got), 110);
    assert.deepEqual(got.subarray(0, 10), new Uint8Array(10), 'a zero header: no offload asked');
    assert.deepEqual(got.subarray(10, 110), frame(100));
    assert.deepEqual(before, new Uint8Array(10), 'the header was written in the headroom, in place');
    const cramped = frame(100);
    assert.equal(tap.write(cramped), 'ok');
    assert.equal(readSync(r, got), 110);
    assert.deepEqual(got.subarray(10, 110), frame(100), 'a frame without headroom goes out through a copy');
  } finally {
    await tap.close();
    closeSync(r);
  }
});

test('tap read: the frame lands at the start of `into` (in place or copied) with the checksum verdict from the header', async () => {
  const [r, w] = pipe();
  const tap = new TapDevice(r, 'pipe', { mac: MAC, mtu: 1500 });
  const rx: RxInfo = { checksumVerified: false };
  try {
    const need = tap.capabilities.gsoMax!;
    for (const into of [withHeadroom(need, 10), new Uint8Array(need)]) {
      for (const flags of [0, 2]) {
        const msg = new Uint8Array(10 + 60);
        msg[0] = flags; // VIRTIO_NET_HDR_F_DATA_VALID = 2
        msg.set(frame(60), 10);
        writeSync(w, msg);
        assert.equal(tap.read(into, rx), 60);
        assert.deepEqual(into.subarray(0, 60), frame(60));
        assert.equal(rx.checksumVerified, flags === 2);
      }
    }
    assert.equal(tap.read(new Uint8Array(need), rx), 'again', 'an empty queue is "again"');
  } finally {
    await tap.close();
    closeSync(w);
  }
});

test('tap: a dead descriptor is a failure, not "nothing yet"', async () => {
  // A descriptor number no process holds (a closed one would be reused at once, by the tap's own eventfd).
  const tap = new TapDevice(1_000_000, 'gone', { mac: MAC, mtu: 1500 });
  assert.equal(tap.read(new Uint8Array(tap.capabilities.gsoMax!), { checksumVerified: false }), 'unspecified');
  assert.equal(tap.write(frame(60)), 'unspecified');
  await tap.close();
});
