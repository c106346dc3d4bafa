/**
 * ICMP echo beyond the user-mode gateway: the guest's echo requests to an
 * outside address go out from one unprivileged ICMP socket of the host's
 * (`socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)`, Linux's ping socket, which
 * the kernel allows to the groups in net.ipv4.ping_group_range and to no one
 * else), and each echo reply comes back to the guest with the guest's own
 * identifier. The kernel picks the socket's identifier and checks what comes
 * back, so nothing but replies to this socket's requests is read. Where the
 * host does not allow ping sockets, `send` says so and nothing is sent.
 */
import { describeErrno, EAGAIN, EINTR, errno, libc, POLLIN, SOCK_CLOEXEC, SOCK_NONBLOCK } from '../targets/node/libc.ts';
import { FdWaiter } from '../targets/node/fd-device.ts';

const AF_INET = 2;
const SOCK_DGRAM = 2;
const IPPROTO_ICMP = 1;
const ICMP_ECHO_REQUEST = 8;
const ICMP_ECHO_REPLY = 0;

/** Requests waiting for a reply at most, and how long one waits (then its slot is given back). */
const MAX_WAITING = 1024;
const WAIT_MS = 30_000;

export interface EchoFromHost {
  readonly src: number;
  /** Who asked: the address the request came from. */
  readonly to: number;
  readonly ident: number;
  readonly seq: number;
  /** Borrowed: valid during the call. */
  readonly data: Uint8Array;
}

export class HostPinger {
  private fd = -1;
  private waiter: FdWaiter | undefined;
  /** Why the socket cannot be made (the host's answer), once known. */
  private refusedWith: string | undefined;
  /** `dst:seq` → the guest's identifier and when the request went, oldest first. */
  private readonly waiting = new Map<string, { ident: number; from: number; at: number }>();
  private readonly buf = new Uint8Array(65536);
  private readonly from = new Uint8Array(16);
  private readonly fromLen = new Uint8Array(4);
  private closed = false;
  private loop: Promise<void> | undefined;
  private readonly onReply: (r: EchoFromHost) => void;
  readonly counters = { sent: 0, replies: 0, unmatched: 0, sendFailed: 0 };

  constructor(onReply: (r: EchoFromHost) => void) {
    this.onReply = onReply;
  }

  /**
   * Sends an echo request to `dst` for `from`'s `ident`/`seq` with `data`: 'sent', or why not (the host
   * refuses ping sockets: the first refusal's text, for the operator, then 'refused' each time after).
   */
  send(from: number, dst: number, ident: number, seq: number, data: Uint8Array): 'sent' | 'refused' | 'failed' | { refused: string } {
    if (this.closed) return 'failed';
    if (this.fd < 0) {
      if (this.refusedWith !== undefined) return 'refused';
      const fd = libc.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP) as number;
      if (fd < 0) {
        this.refusedWith = describeErrno();
        return { refused: this.refusedWith };
      }
      this.fd = fd;
      this.waiter = new FdWaiter(fd, POLLIN);
      this.loop = this.run();
    }
    const msg = new Uint8Array(8 + data.length);
    msg[0] = ICMP_ECHO_REQUEST;
    msg[6] = seq >>> 8;
    msg[7] = seq & 0xff;
    msg.set(data, 8);
    const to = sockaddrIn(dst);
    const key = `${dst}:${seq}`;
    if (this.waiting.size >= MAX_WAITING) this.waiting.delete(this.waiting.keys().next().value!);
    this.waiting.delete(key);
    this.waiting.set(key, { ident, from, at: Date.now() });
    if ((libc.sendto(this.fd, msg, msg.length, 0, to, to.length) as number) < 0) {
      this.waiting.delete(key);
      this.counters.sendFailed++;
      return 'failed';
    }
    this.counters.sent++;
    return 'sent';
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      await this.waiter!.wait(1000);
      if (this.closed) return;
      for (;;) {
        new DataView(this.fromLen.buffer).setUint32(0, this.from.length, true);
        const n = libc.recvfrom(this.fd, this.buf, this.buf.length, 0, this.from, this.fromLen) as number;
        if (n < 0) {
          const e = errno();
          if (e === EINTR) continue;
          if (e !== EAGAIN) this.counters.unmatched++;
          break;
        }
        this.receive(n);
      }
    }
  }

  private receive(n: number): void {
    const b = this.buf;
    if (n < 8 || b[0] !== ICMP_ECHO_REPLY) return;
    const src = ((this.from[4]! << 24) | (this.from[5]! << 16) | (this.from[6]! << 8) | this.from[7]!) >>> 0;
    const seq = (b[6]! << 8) | b[7]!;
    const key = `${src}:${seq}`;
    const w = this.waiting.get(key);
    if (!w || Date.now() - w.at > WAIT_MS) {
      this.waiting.delete(key);
      this.counters.unmatched++;
      return;
    }
    this.waiting.delete(key);
    this.counters.replies++;
    this.onReply({ src, to: w.from, ident: w.ident, seq, data: b.subarray(8, n) });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.waiter) await this.waiter.close();
    await this.loop;
    if (this.fd >= 0) libc.close(this.fd);
    this.fd = -1;
  }
}

/** A `struct sockaddr_in` for `addr`, port 0. */
function sockaddrIn(addr: number): Uint8Array {
  const a = new Uint8Array(16);
  a[0] = AF_INET & 0xff;
  a[1] = AF_INET >> 8;
  a[4] = addr >>> 24;
  a[5] = (addr >>> 16) & 0xff;
  a[6] = (addr >>> 8) & 0xff;
  a[7] = addr & 0xff;
  return a;
}
