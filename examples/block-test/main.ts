/**
 * Writes every block of `--block:storage` with a pattern unique to it, reads
 * every block back and verifies it, and checks that misaligned and
 * out-of-range requests are refused. Exit 0 when all is well, 1 otherwise.
 */
import type { Main } from 'fata';
import type config from './config.ts';

export const main: Main<typeof config> = (devices, _params, ctx) => {
  const b = devices.storage;
  const bs = b.blockSize;
  const count = Number(b.capacity / BigInt(bs));
  ctx.log.info('block-info', { capacity: b.capacity, blockSize: bs, blocks: count });
  const fill = (buf: Uint8Array, n: number): void => {
    for (let i = 0; i < buf.length; i += 4) {
      const v = (Math.imul(n + 1, 0x9e3779b1) ^ i) >>> 0;
      buf[i] = v & 0xff;
      buf[i + 1] = (v >>> 8) & 0xff;
      buf[i + 2] = (v >>> 16) & 0xff;
      buf[i + 3] = v >>> 24;
    }
  };
  const want = new Uint8Array(bs),
    got = new Uint8Array(bs);
  for (let n = 0; n < count; n++) {
    fill(want, n);
    const r = b.write(BigInt(n * bs), want);
    if (r !== 'ok') {
      ctx.log.error('write-failed', { block: n, result: r });
      return 1;
    }
    if (n % 2048 === 0) ctx.log.debug('progress', { phase: 'write', block: n, of: count });
  }
  for (let n = 0; n < count; n++) {
    fill(want, n);
    const r = b.read(BigInt(n * bs), got);
    if (r !== 'ok') {
      ctx.log.error('read-failed', { block: n, result: r });
      return 1;
    }
    for (let i = 0; i < bs; i++) {
      if (got[i] !== want[i]) {
        ctx.log.error('mismatch', { block: n, byte: i });
        return 1;
      }
    }
  }
  const refused = [b.read(1n, got), b.read(b.capacity, got), b.write(0n, new Uint8Array(bs + 1)), b.read(-BigInt(bs), got)];
  if (refused.some((r) => r !== 'invalid')) {
    ctx.log.error('bounds-not-enforced', { results: refused.join(',') });
    return 1;
  }
  ctx.log.info('block-test-ok', { blocks: count, bytes: count * bs });
  return 0;
};
