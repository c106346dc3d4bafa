/**
 * The console device on a host descriptor (stdout). A write always ends,
 * whether the descriptor is blocking or not: each step waits for room with
 * poll(POLLOUT) (bounded) and then writes at most 4 KiB, which a writable
 * pipe or socket always takes without blocking; partial writes advance
 * (`written += n`: MirageOS advisory 03 was `=`). After two seconds without
 * progress the rest of the write is dropped and counted.
 */
import type { Console } from '../../devices/index.ts';
import { EAGAIN, EINTR, errno, libc } from './libc.ts';

const STALL_LIMIT_MS = 2000;
const CHUNK = 4096;
const POLLOUT = 0x4;

export class FdConsole implements Console {
  private readonly fd: number;
  private readonly pollFd = new Uint8Array(8);
  droppedBytes = 0;

  constructor(fd = 1) {
    this.fd = fd;
    const v = new DataView(this.pollFd.buffer);
    v.setInt32(0, fd, true);
    v.setInt16(4, POLLOUT, true);
  }

  write(bytes: Uint8Array): void {
    let written = 0;
    let stalledMs = 0;
    while (written < bytes.length) {
      this.pollFd[6] = this.pollFd[7] = 0;
      const ready = libc.poll(this.pollFd, 1, Math.min(100, STALL_LIMIT_MS - stalledMs)) as number;
      if (ready <= 0) {
        stalledMs += 100;
        if (stalledMs >= STALL_LIMIT_MS || (ready < 0 && errno() !== EINTR)) break;
        continue;
      }
      const len = Math.min(CHUNK, bytes.length - written);
      const n = libc.write(this.fd, bytes.subarray(written, written + len), len) as number;
      if (n > 0) {
        written += n;
        stalledMs = 0;
      } else if (n < 0 && errno() !== EAGAIN && errno() !== EINTR) {
        break; // The reader is gone (EPIPE) or the descriptor is bad: nothing more will get through.
      }
    }
    this.droppedBytes += bytes.length - written;
  }
}
