/**
 * What the node target's net devices on one descriptor share — the tap
 * (./tap.ts) and the user-mode link's socketpair end (./frame-socket.ts):
 * waiting for input without blocking the event loop (`FdWaiter`: `poll(2)`
 * on the descriptor and an eventfd of its own, run on a libuv worker through
 * koffi), waking a wait early, and closing (`FdDevice`). The eventfd is made
 * with the device, before the seal (the bootstrap keeps it as one of the
 * engine's own descriptors).
 */
import { FataError } from '../../host/errors.ts';
import { describeErrno, EFD_CLOEXEC, EFD_NONBLOCK, libc, POLLIN } from './libc.ts';

/** For `FdWaiter`'s `ready`: any event on the descriptor counts, a hang-up or an error too. */
export const ANY_EVENT = 0xffff;

export class FdWaiter {
  private readonly wakeFd: number;
  /** Two `struct pollfd`: the device's descriptor, then the eventfd. */
  private readonly pollFds = new Uint8Array(16);
  private readonly wakeBuf = new Uint8Array(8);
  /** An eventfd write of the counter value 1 (little-endian u64). */
  private readonly one = Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0);
  private readonly ready: number;
  private waiting: Promise<boolean> | undefined;

  /**
   * Waits for POLLIN on `fd`; `ready` is the set of returned events that
   * make a wait resolve true (POLLIN for a tap, `ANY_EVENT` where the other
   * end closing must wake the reader too). Throws a `FataError` when no
   * eventfd can be made.
   */
  constructor(fd: number, ready: number) {
    this.ready = ready;
    this.wakeFd = libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) as number;
    if (this.wakeFd < 0) throw new FataError('FATA_EVENTFD', `cannot make an eventfd: ${describeErrno()}`);
    const v = new DataView(this.pollFds.buffer);
    v.setInt32(0, fd, true);
    v.setInt16(4, POLLIN, true);
    v.setInt32(8, this.wakeFd, true);
    v.setInt16(12, POLLIN, true);
  }

  /**
   * Resolves true when the descriptor has one of the `ready` events, false
   * on timeout, on `wake()` or when poll fails. At most one poll is in
   * flight; overlapping callers share it.
   */
  wait(timeoutMs: number): Promise<boolean> {
    if (this.waiting) return this.waiting;
    const ms = Math.max(0, Math.min(0x7fffffff, Math.ceil(timeoutMs)));
    this.waiting = new Promise<boolean>((resolve) => {
      libc.poll.async(this.pollFds, 2, ms, (err: unknown, n: number) => {
        this.waiting = undefined;
        if (this.pollFds[14] !== 0 || this.pollFds[15] !== 0) libc.read(this.wakeFd, this.wakeBuf, 8);
        const revents = new DataView(this.pollFds.buffer).getInt16(6, true);
        this.pollFds[6] = this.pollFds[7] = this.pollFds[14] = this.pollFds[15] = 0;
        resolve(!err && n > 0 && (revents & this.ready) !== 0);
      });
    });
    return this.waiting;
  }

  /** Ends a `wait` in flight early (new work arrived from outside the device). */
  wake(): void {
    libc.write(this.wakeFd, this.one, 8);
  }

  /** Ends a `wait` in flight and releases the eventfd; the device closes its own descriptor after this resolves. */
  async close(): Promise<void> {
    this.wake();
    await this.waiting;
    libc.close(this.wakeFd);
  }
}

/** A device on descriptor `fd`: its waiter, and the close that ends a wait in flight before the descriptor goes. */
export abstract class FdDevice {
  protected fd: number;
  private readonly waiter: FdWaiter;

  /** `ready` as `FdWaiter`'s. */
  constructor(fd: number, ready: number) {
    this.fd = fd;
    this.waiter = new FdWaiter(fd, ready);
  }

  /** The descriptor, for handing to a child process. */
  get descriptor(): number {
    return this.fd;
  }

  /** Nothing is held back on the host side: readiness comes from `wait`. */
  readyAtNs(): bigint | undefined {
    return undefined;
  }

  /**
   * Resolves true when a frame is readable (or, by the device's `ready`,
   * the other end closed), false on timeout or `wake()`. At most one poll
   * is in flight; overlapping callers share it.
   */
  wait(timeoutMs: number): Promise<boolean> {
    return this.waiter.wait(timeoutMs);
  }

  /** Ends a `wait` in flight early (new work arrived from outside the device). */
  wake(): void {
    this.waiter.wake();
  }

  /** Releases the descriptor; a wait in flight ends first. Reads and writes then fail ('unspecified'). */
  async close(): Promise<void> {
    if (this.fd < 0) return;
    await this.waiter.close();
    libc.close(this.fd);
    this.fd = -1;
  }
}
