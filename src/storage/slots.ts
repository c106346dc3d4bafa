/**
 * One small document kept on a block device so that a crash never loses
 * the last good copy: two slots, each half the device, written alternately.
 * Each slot starts with a header block (`FATASLOT`, generation, length,
 * CRC-32 of the payload); loading takes the valid slot with the higher
 * generation. A torn write leaves the other slot intact.
 */
import type { BlockDevice } from '../devices/index.ts';

const MAGIC = [0x46, 0x41, 0x54, 0x41, 0x53, 0x4c, 0x4f, 0x54]; // "FATASLOT"
const HEADER = 24;

const CRC_TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, as zlib). */
export function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export type SaveResult = 'ok' | 'full' | 'io-error';

/** The newer of two copies, either of which may be missing (a tie goes to the first). */
function newer<T extends { gen: number }>(a: T | undefined, b: T | undefined): T | undefined {
  if (!a) return b;
  if (!b) return a;
  return a.gen >= b.gen ? a : b;
}

export class SlotStore {
  private readonly dev: BlockDevice;
  private readonly slotBytes: number;
  private generation = 0;
  /** What `load` found: 'empty' (never written), 'ok', or 'corrupt' (both slots bad). */
  state: 'empty' | 'ok' | 'corrupt' = 'empty';

  constructor(dev: BlockDevice) {
    this.dev = dev;
    const blocks = Number(dev.capacity / BigInt(dev.blockSize));
    this.slotBytes = Math.floor(blocks / 2) * dev.blockSize;
  }

  /** The largest payload that fits. */
  get capacity(): number {
    return Math.max(0, this.slotBytes - HEADER);
  }

  private readSlot(i: number): { gen: number; data: Uint8Array } | undefined {
    const bs = this.dev.blockSize;
    if (this.slotBytes < bs) return undefined;
    const head = new Uint8Array(bs);
    if (this.dev.read(BigInt(i * this.slotBytes), head) !== 'ok') return undefined;
    for (let k = 0; k < 8; k++) if (head[k] !== MAGIC[k]) return undefined;
    const dv = new DataView(head.buffer);
    const gen = dv.getUint32(8),
      len = dv.getUint32(12),
      crc = dv.getUint32(16);
    if (len > this.capacity) return undefined;
    const total = Math.ceil((HEADER + len) / bs) * bs;
    const all = new Uint8Array(total);
    if (this.dev.read(BigInt(i * this.slotBytes), all) !== 'ok') return undefined;
    const data = all.slice(HEADER, HEADER + len);
    return crc32(data) === crc ? { gen, data } : undefined;
  }

  /** The newest good copy, or undefined when there is none. */
  load(): Uint8Array | undefined {
    const a = this.readSlot(0),
      b = this.readSlot(1);
    const best = newer(a, b);
    if (!best) {
      // A device of zeros is new; anything else that fails both checks is damage.
      this.state = this.looksBlank() ? 'empty' : 'corrupt';
      return undefined;
    }
    this.state = 'ok';
    this.generation = best.gen;
    return best.data;
  }

  private looksBlank(): boolean {
    const head = new Uint8Array(this.dev.blockSize);
    for (const i of [0, 1]) {
      if (this.slotBytes < head.length || this.dev.read(BigInt(i * this.slotBytes), head) !== 'ok') continue;
      if (head.some((x) => x !== 0)) return false;
    }
    return true;
  }

  /** Writes `data` as the next generation into the older slot. */
  save(data: Uint8Array): SaveResult {
    // A device of one block has no slot: not even an empty document (a header alone) would load again.
    if (this.slotBytes === 0 || data.length > this.capacity) return 'full';
    const bs = this.dev.blockSize;
    const gen = (this.generation + 1) >>> 0;
    const buf = new Uint8Array(Math.ceil((HEADER + data.length) / bs) * bs);
    buf.set(MAGIC, 0);
    const dv = new DataView(buf.buffer);
    dv.setUint32(8, gen);
    dv.setUint32(12, data.length);
    dv.setUint32(16, crc32(data));
    buf.set(data, HEADER);
    const slot = gen % 2;
    if (this.dev.write(BigInt(slot * this.slotBytes), buf) !== 'ok') return 'io-error';
    this.generation = gen;
    return 'ok';
  }
}
