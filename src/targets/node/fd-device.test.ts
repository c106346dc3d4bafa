/**
 * The wait the tap and the user-mode link's end share (./fd-device.ts), on
 * descriptors that need no root: a socketpair from `openFramePair` and a
 * pipe under a `TapDevice`. A frame ends a wait with true, `wake()` with
 * false, a timeout with false; overlapping waits share one poll; `close()`
 * ends a wait in flight; the other end closing wakes the link's reader (its
 * read then says the link is gone), while a hang-up alone (POLLHUP without
 * POLLIN, as a pipe's) is not a tap's input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, writeSync } from 'node:fs';
import { koffi, libc } from './libc.ts';
import { FrameSocketDevice, openFramePair } from './frame-socket.ts';
import { TapDevice } from './tap.ts';

const MAC = Uint8Array.of(2, 0, 0, 0, 0, 2);
const pipe2 = koffi.load('libc.so.6').func('int pipe2(_Out_ int *fds, int flags)');

test('a frame ends a wait with true, wake() and a timeout with false; overlapping waits share one poll', async () => {
  const [engine, gateway] = openFramePair();
  const dev = new FrameSocketDevice(engine, 'service', { mac: MAC });
  try {
    assert.equal(await dev.wait(0), false, 'nothing queued');
    const first = dev.wait(60_000);
    assert.equal(dev.wait(1), first, 'a second caller gets the wait in flight');
    dev.wake();
    assert.equal(await first, false, 'woken, not ready');
    const waiting = dev.wait(60_000);
    assert.equal(libc.write(gateway, new Uint8Array(60), 60), 60);
    assert.equal(await waiting, true);
    assert.equal(dev.read(new Uint8Array(14 + 65535), { checksumVerified: false }), 60);
    assert.equal(await dev.wait(0), false, 'read: nothing queued again');
  } finally {
    await dev.close();
    closeSync(gateway);
  }
});

test("close() ends a wait in flight; the other end closing wakes the link's reader; a bare hang-up is not a tap's input", async () => {
  const [engine, gateway] = openFramePair();
  const link = new FrameSocketDevice(engine, 'service', { mac: MAC });
  const waiting = link.wait(60_000);
  await link.close();
  assert.equal(await waiting, false);
  assert.equal(link.read(new Uint8Array(14 + 65535), { checksumVerified: false }), 'unspecified', 'closed');
  closeSync(gateway);

  const [engine2, gateway2] = openFramePair();
  const link2 = new FrameSocketDevice(engine2, 'service', { mac: MAC });
  const hangUp = link2.wait(60_000);
  closeSync(gateway2);
  assert.equal(await hangUp, true, 'the gateway went: the reader wakes');
  assert.equal(link2.read(new Uint8Array(14 + 65535), { checksumVerified: false }), 'unspecified', 'and learns the link is gone');
  await link2.close();

  const fds = new Int32Array(2);
  assert.equal(pipe2(fds, 0o4000 /* O_NONBLOCK */), 0);
  const tap = new TapDevice(fds[0]!, 'pipe', { mac: MAC, mtu: 1500 });
  try {
    writeSync(fds[1]!, new Uint8Array(70));
    assert.equal(await tap.wait(60_000), true, 'a frame on the tap');
    tap.read(new Uint8Array(14 + 65535), { checksumVerified: false });
    closeSync(fds[1]!);
    assert.equal(await tap.wait(0), false, "a hang-up alone is not a tap's input");
  } finally {
    await tap.close();
  }
});
