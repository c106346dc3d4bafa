/**
 * Web Streams over Fata's TCP: an echo server that is nothing but
 * `readable.pipeTo(writable)`, and a client writing 1 MB while reading it
 * back, between two stacks on an in-memory pipe, in real time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tcpStream } from '../src/runtime/net-direct.ts';
import { tcpWebStreams } from '../src/runtime/web-streams.ts';
import { liveStacks } from './live-stacks.ts';
import { equalBytes, ip, pattern } from './sim-helpers.ts';

test('an echo made of pipeTo returns 1 MB byte-exact through Web Streams on both ends', async () => {
  const { a, b, stop } = liveStacks();
  b.tcp.listen(7, (c) => {
    const { readable, writable } = tcpWebStreams(tcpStream(c));
    void readable.pipeTo(writable);
  });
  const client = await new Promise<ReturnType<typeof tcpWebStreams>>((resolve) => {
    const c = a.tcp.connect(ip('10.0.0.2'), 7);
    c.events = { onConnect: () => resolve(tcpWebStreams(tcpStream(c))) };
  });
  const data = pattern(1_000_000, 4);
  try {
    const writing = (async () => {
      const w = client.writable.getWriter();
      for (let i = 0; i < data.length; i += 50_000) await w.write(data.subarray(i, i + 50_000));
      await w.close();
    })();
    const chunks: Uint8Array[] = [];
    for await (const chunk of client.readable) chunks.push(chunk);
    await writing;
    const got = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      got.set(c, at);
      at += c.length;
    }
    assert.ok(equalBytes(got, data), `got ${got.length} bytes`);
  } finally {
    stop();
  }
});
