/**
 * A block device on a host file (Solo5 BLOCK_BASIC): positional reads and
 * writes on one descriptor, offsets and sizes in whole blocks, capacity the
 * file's size rounded down to a block.
 */
import { fstatSync, openSync, readSync, writeSync } from 'node:fs';
import type { BlockDevice, DeviceResult } from '../../devices/index.ts';
import { FataError } from '../../host/errors.ts';

export class FileBlock implements BlockDevice {
  readonly fd: number;
  readonly capacity: bigint;
  readonly blockSize: number;

  constructor(fd: number, blockSize = 512) {
    this.fd = fd;
    this.blockSize = blockSize;
    const size = BigInt(fstatSync(fd).size);
    this.capacity = size - (size % BigInt(blockSize));
  }

  /** Opens `path` read-write; the file must exist and hold at least one block. */
  static open(path: string, blockSize = 512): FileBlock {
    let fd: number;
    try {
      fd = openSync(path, 'r+');
    } catch (e) {
      throw new FataError(
        'FATA_BLOCK_OPEN',
        `cannot open block file '${path}': ${(e as Error).message}; ` + `create it first, for example 'truncate -s 4M ${path}'`,
      );
    }
    const b = new FileBlock(fd, blockSize);
    if (b.capacity === 0n)
      throw new FataError('FATA_BLOCK_EMPTY', `block file '${path}' is smaller than one ${blockSize}-byte block; make it larger`);
    return b;
  }

  private ok(offset: bigint, len: number): boolean {
    const bs = BigInt(this.blockSize);
    return len > 0 && len % this.blockSize === 0 && offset >= 0n && offset % bs === 0n && offset + BigInt(len) <= this.capacity;
  }

  read(offset: bigint, into: Uint8Array): DeviceResult {
    if (!this.ok(offset, into.length)) return 'invalid';
    try {
      let done = 0;
      while (done < into.length) {
        const n = readSync(this.fd, into, done, into.length - done, Number(offset) + done);
        if (n <= 0) return 'unspecified';
        done += n;
      }
      return 'ok';
    } catch {
      return 'unspecified';
    }
  }

  write(offset: bigint, data: Uint8Array): DeviceResult {
    if (!this.ok(offset, data.length)) return 'invalid';
    try {
      let done = 0;
      while (done < data.length) done += writeSync(this.fd, data, done, data.length - done, Number(offset) + done);
      return 'ok';
    } catch {
      return 'unspecified';
    }
  }
}
