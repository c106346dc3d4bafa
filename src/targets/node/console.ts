/**
 * The console device on a host descriptor (stdout). A write always ends:
 * partial writes advance (`written += n`, the MirageOS advisory 03 bug was
 * `=`), a full pipe is waited on a millisecond at a time, and after two
 * seconds without progress the rest of the write is dropped and counted.
 */
import type { Console } from '../../devices/index.ts';
import { EAGAIN, EINTR, errno, libc } from './libc.ts';

const STALL_LIMIT_MS = 2000;

export class FdConsole implements Console {
  private readonly fd: number;
  private readonly nap = new Int32Array(new SharedArrayBuffer(4));
  droppedBytes = 0;

  constructor(fd = 1) {
    this.fd = fd;
  }

  write(bytes: Uint8Array): void {
    let written = 0;
    let stalledMs = 0;
    while (written < bytes.length) {
      const n = libc.write(this.fd, written === 0 ? bytes : bytes.subarray(written), bytes.length - written) as number;
      if (n > 0) {
        written += n;
        stalledMs = 0;
        continue;
      }
      const e = n < 0 ? errno() : EAGAIN;
      if ((e !== EAGAIN && e !== EINTR) || stalledMs >= STALL_LIMIT_MS) {
        this.droppedBytes += bytes.length - written;
        return;
      }
      Atomics.wait(this.nap, 0, 0, 1);
      stalledMs++;
    }
  }
}
