import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { emitTcp, emptyTcpOptions, parseTcpOptions, tcpHeaderLen, TcpView, SYN, ACK, type TcpRepr } from './tcp.ts';

const SRC = 0x0a000001,
  DST = 0x0a000002;
const u32 = fc.integer({ min: 0, max: 0xffffffff });

test('emit then parse gives back every field and option, with a valid checksum', () => {
  fc.assert(
    fc.property(
      fc
        .tuple(
          fc.record({
            srcPort: fc.integer({ min: 0, max: 65535 }),
            dstPort: fc.integer({ min: 0, max: 65535 }),
            seq: u32,
            ack: u32,
            flags: fc.integer({ min: 0, max: 255 }),
            window: fc.integer({ min: 0, max: 65535 }),
            timestamps: fc.option(fc.tuple(u32, u32), { nil: undefined }),
          }),
          fc.oneof(
            // A SYN's options…
            fc.record({
              mss: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
              wscale: fc.option(fc.integer({ min: 0, max: 14 }), { nil: undefined }),
              sackPermitted: fc.boolean(),
            }),
            // …or a data segment's SACK blocks (3 fit beside timestamps, 4 without).
            fc.record({ sack: fc.array(u32, { minLength: 2, maxLength: 6 }).map((a) => a.slice(0, a.length & ~1)) }),
          ),
        )
        .map(([base, opts]) => ({ ...base, sackPermitted: false, ...opts })),
      fc.uint8Array({ maxLength: 100 }),
      (r0, payload) => {
        const r: TcpRepr = r0;
        assert.ok(tcpHeaderLen(r) <= 60);
        const hl = tcpHeaderLen(r);
        assert.ok(hl % 4 === 0 && hl <= 60, `header ${hl}`);
        const b = new Uint8Array(hl + payload.length);
        b.set(payload, hl);
        assert.equal(emitTcp(r, SRC, DST, b, 0, payload.length), hl);
        const v = TcpView.checked(b, SRC, DST);
        assert.ok(v instanceof TcpView, String(v));
        assert.deepEqual(
          [v.srcPort, v.dstPort, v.seq, v.ack, v.flags, v.window, v.headerLen, v.payloadLen],
          [r.srcPort, r.dstPort, r.seq, r.ack, r.flags, r.window, hl, payload.length],
        );
        const o = emptyTcpOptions();
        assert.equal(parseTcpOptions(v, o), 'ok');
        assert.equal(o.mss, r.mss ?? 0);
        assert.equal(o.wscale, r.wscale ?? -1);
        assert.equal(o.sackPermitted, r.sackPermitted);
        assert.equal(o.hasTimestamps, r.timestamps !== undefined);
        if (r.timestamps) assert.deepEqual([o.tsVal, o.tsEcr], r.timestamps);
        const edges = r.sack?.length ?? 0;
        assert.equal(o.sackCount, edges / 2);
        assert.deepEqual(o.sack.slice(0, edges), r.sack?.slice(0, edges) ?? []);
      },
    ),
    { numRuns: 500 },
  );
});

test('bad data offsets, short options and checksums are results, not exceptions', () => {
  const r: TcpRepr = { srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: SYN | ACK, window: 100, mss: 1460 };
  const b = new Uint8Array(tcpHeaderLen(r));
  emitTcp(r, SRC, DST, b, 0, 0);
  assert.equal(TcpView.checked(b.subarray(0, 19), SRC, DST), 'truncated');
  const bad = b.slice();
  bad[12] = 0x40; // data offset 16 bytes
  assert.equal(TcpView.checked(bad, SRC, DST, false), 'data-offset');
  const far = b.slice();
  far[12] = 0xf0; // 60 bytes, past the segment
  assert.equal(TcpView.checked(far, SRC, DST, false), 'data-offset');
  const sum = b.slice();
  sum[5]! ^= 1;
  assert.equal(TcpView.checked(sum, SRC, DST), 'checksum');
  const shortOpt = b.slice();
  shortOpt[21] = 9; // MSS option claiming 9 bytes inside a 4-byte option area
  const v = TcpView.checked(shortOpt, SRC, DST, false) as TcpView;
  assert.equal(parseTcpOptions(v, emptyTcpOptions()), 'malformed');
  const zeroLen = b.slice();
  zeroLen[21] = 0;
  assert.equal(parseTcpOptions(TcpView.checked(zeroLen, SRC, DST, false) as TcpView, emptyTcpOptions()), 'malformed');
  const bigWs: TcpRepr = { ...r, mss: undefined, wscale: 14 };
  const w = new Uint8Array(tcpHeaderLen(bigWs));
  emitTcp(bigWs, SRC, DST, w, 0, 0);
  w[23] = 200; // RFC 7323 §2.3: a shift above 14 is treated as 14
  const o = emptyTcpOptions();
  parseTcpOptions(TcpView.checked(w, SRC, DST, false) as TcpView, o);
  assert.equal(o.wscale, 14);
});
