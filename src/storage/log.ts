/**
 * An append-only log of entries on a block device, for state kept as a
 * base plus changes (a DNS server's updates on top of its image's zones).
 * The device is two regions; one is live. A region opens with a header
 * block (`FATALOG1`, generation, CRC-32) and holds entries one after the
 * other, each starting on a block of its own with (`FLOG`, generation,
 * sequence number, length, CRC-32 of those and the payload). Loading reads
 * the live region's entries up to the first that is torn, out of sequence
 * or from another generation, so a crash during an append loses only that
 * entry. `rewrite` (compaction) writes a whole new set of entries into the
 * other region and only then its header: until that last block is written,
 * the old set is the one that loads.
 */
import type { BlockDevice } from '../devices/index.ts';
import { crc32, type SaveResult } from './slots.ts';

const REGION_MAGIC = [0x46, 0x41, 0x54, 0x41, 0x4c, 0x4f, 0x47, 0x31]; // "FATALOG1"
const ENTRY_MAGIC = 0x464c4f47; // "FLOG"
const ENTRY_HEADER = 20;

export class AppendLog {
  private readonly dev: BlockDevice;
  private readonly bs: number;
  private readonly regionBytes: number;
  /** The live region (0 or 1), undefined before anything was written. */
  private live: number | undefined;
  private generation = 0;
  /** Where the next entry goes (a byte offset inside the live region), and its sequence number. */
  private end = 0;
  private seq = 0;
  /** What `load` found: 'empty' (never written), 'ok', or 'corrupt' (something else, or both region headers damaged). */
  state: 'empty' | 'ok' | 'corrupt' = 'empty';

  constructor(dev: BlockDevice) {
    this.dev = dev;
    this.bs = dev.blockSize;
    this.regionBytes = Math.floor(Number(dev.capacity / BigInt(dev.blockSize)) / 2) * dev.blockSize;
  }

  /** Room for entries in one region (each entry also takes its header and the rest of its last block). */
  get capacity(): number {
    return Math.max(0, this.regionBytes - this.bs);
  }

  /** Octets of the live region the entries take. */
  get used(): number {
    return this.live === undefined ? 0 : this.end - this.bs;
  }

  private blocksFor(len: number): number {
    return Math.ceil((ENTRY_HEADER + len) / this.bs) * this.bs;
  }

  private readRegionHeader(r: number): number | undefined {
    if (this.regionBytes < 2 * this.bs) return undefined;
    const head = new Uint8Array(this.bs);
    if (this.dev.read(BigInt(r * this.regionBytes), head) !== 'ok') return undefined;
    for (let k = 0; k < 8; k++) if (head[k] !== REGION_MAGIC[k]) return undefined;
    const dv = new DataView(head.buffer);
    return crc32(head.subarray(0, 12)) === dv.getUint32(12) ? dv.getUint32(8) : undefined;
  }

  private regionHeader(gen: number): Uint8Array {
    const head = new Uint8Array(this.bs);
    head.set(REGION_MAGIC, 0);
    const dv = new DataView(head.buffer);
    dv.setUint32(8, gen);
    dv.setUint32(12, crc32(head.subarray(0, 12)));
    return head;
  }

  /** The entry at `at` in region `r` if it is whole and belongs there; with its size on the device. */
  private readEntry(r: number, at: number, gen: number, seq: number): { data: Uint8Array; size: number } | undefined {
    if (at + this.bs > this.regionBytes) return undefined;
    const base = BigInt(r * this.regionBytes + at);
    const head = new Uint8Array(this.bs);
    if (this.dev.read(base, head) !== 'ok') return undefined;
    const dv = new DataView(head.buffer);
    if (dv.getUint32(0) !== ENTRY_MAGIC || dv.getUint32(4) !== gen || dv.getUint32(8) !== seq) return undefined;
    const len = dv.getUint32(12);
    if (len > this.regionBytes) return undefined;
    const size = this.blocksFor(len);
    if (at + size > this.regionBytes) return undefined;
    const all = size === this.bs ? head : new Uint8Array(size);
    if (all !== head && this.dev.read(base, all) !== 'ok') return undefined;
    const sum = new Uint8Array(12 + len);
    sum.set(all.subarray(4, 16), 0);
    sum.set(all.subarray(ENTRY_HEADER, ENTRY_HEADER + len), 12);
    if (crc32(sum) !== dv.getUint32(16)) return undefined;
    return { data: all.slice(ENTRY_HEADER, ENTRY_HEADER + len), size };
  }

  /** The generation of the entry on region `r`'s first entry block, if one is there. */
  private firstEntryGeneration(r: number): number | undefined {
    if (this.regionBytes < 2 * this.bs) return undefined;
    const head = new Uint8Array(this.bs);
    if (this.dev.read(BigInt(r * this.regionBytes + this.bs), head) !== 'ok') return undefined;
    const dv = new DataView(head.buffer);
    return dv.getUint32(0) === ENTRY_MAGIC ? dv.getUint32(4) : undefined;
  }

  private encodeEntry(gen: number, seq: number, data: Uint8Array): Uint8Array {
    const buf = new Uint8Array(this.blocksFor(data.length));
    const dv = new DataView(buf.buffer);
    dv.setUint32(0, ENTRY_MAGIC);
    dv.setUint32(4, gen);
    dv.setUint32(8, seq);
    dv.setUint32(12, data.length);
    buf.set(data, ENTRY_HEADER);
    const sum = new Uint8Array(12 + data.length);
    sum.set(buf.subarray(4, 16), 0);
    sum.set(data, 12);
    dv.setUint32(16, crc32(sum));
    return buf;
  }

  /** The live region's entries, oldest first (none when the device is new, or `state` is 'corrupt'). */
  load(): Uint8Array[] {
    const a = this.readRegionHeader(0),
      b = this.readRegionHeader(1);
    if (a === undefined && b === undefined) {
      this.state = this.looksBlank() ? 'empty' : 'corrupt';
      this.live = undefined;
      return [];
    }
    const r = b === undefined || (a !== undefined && a >= b) ? 0 : 1;
    const gen = r === 0 ? a! : b!;
    const out: Uint8Array[] = [];
    let at = this.bs;
    for (;;) {
      const e = this.readEntry(r, at, gen, out.length);
      if (!e) break;
      out.push(e.data);
      at += e.size;
    }
    this.state = 'ok';
    this.live = r;
    this.generation = gen;
    this.end = at;
    this.seq = out.length;
    return out;
  }

  private looksBlank(): boolean {
    const head = new Uint8Array(this.bs);
    for (const r of [0, 1]) {
      if (this.regionBytes < this.bs || this.dev.read(BigInt(r * this.regionBytes), head) !== 'ok') continue;
      if (head.some((x) => x !== 0)) return false;
    }
    return true;
  }

  /** Writes `data` after the last entry: 'full' (and nothing written) when the live region has no room for it. */
  append(data: Uint8Array): SaveResult {
    if (this.live === undefined) return this.rewrite([data]);
    const buf = this.encodeEntry(this.generation, this.seq, data);
    if (this.end + buf.length > this.regionBytes) return 'full';
    if (this.dev.write(BigInt(this.live * this.regionBytes + this.end), buf) !== 'ok') return 'io-error';
    this.end += buf.length;
    this.seq++;
    return 'ok';
  }

  /**
   * Replaces every entry with `entries`: written into the other region
   * under the next generation, its header last. 'full' (nothing written)
   * when they do not fit a region; on 'io-error' the old entries stay.
   */
  rewrite(entries: readonly Uint8Array[]): SaveResult {
    const r = this.live === undefined ? 0 : 1 - this.live;
    // A rewrite that ended before its header (an io-error, a crash) left its entries in region r under the
    // generation it meant to take: this one takes a later one, or those entries would load after its own.
    const gen = (Math.max(this.generation, this.firstEntryGeneration(r) ?? 0) + 1) >>> 0;
    const bufs = entries.map((e, i) => this.encodeEntry(gen, i, e));
    const size = bufs.reduce((n, b) => n + b.length, 0);
    if (this.regionBytes < 2 * this.bs || this.bs + size > this.regionBytes) return 'full';
    const all = new Uint8Array(size);
    let at = 0;
    for (const b of bufs) {
      all.set(b, at);
      at += b.length;
    }
    const base = r * this.regionBytes;
    if (size > 0 && this.dev.write(BigInt(base + this.bs), all) !== 'ok') return 'io-error';
    if (this.dev.write(BigInt(base), this.regionHeader(gen)) !== 'ok') return 'io-error';
    this.live = r;
    this.generation = gen;
    this.end = this.bs + size;
    this.seq = entries.length;
    this.state = 'ok';
    return 'ok';
  }
}
