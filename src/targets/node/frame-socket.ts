/**
 * A `NetDevice` over one end of an AF_UNIX SOCK_SEQPACKET socketpair: one
 * Ethernet frame per message, no virtio-net header, no offload (nothing on
 * the other end would cut or check segments). User-mode networking gives the
 * engine one end instead of a tap; the gateway (src/usernet) holds the
 * other. Reads and writes are single non-blocking `read(2)`/`write(2)`
 * calls, so the seal's rules for tap descriptors fit it unchanged; `wait`
 * polls on a libuv worker, as the tap's does.
 */
import type { DeviceResult, MacAddress, NetCapabilities, NetDevice, RxInfo } from '../../devices/index.ts';
import { FataError } from '../../host/errors.ts';
import { describeErrno, EAGAIN, EINTR, errno, libc } from './libc.ts';
import { ANY_EVENT, FdDevice } from './fd-device.ts';

const AF_UNIX = 1;
const SOCK_SEQPACKET = 5;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;

/**
 * A user-mode link's MTU and the largest packet it carries with segmentation offload. Both ends are Fata
 * stacks, so the link passes an offloaded TCP packet (up to 64 KB, four 16 KB segments) whole, as
 * virtio-net does between two guests on one host: the sending device does not cut it, the receiving one
 * hands it up as the kernel's receive offload would, and its checksum stays partial (the pseudo-header
 * sum), which the receiver does not check (see `trusted`). One 64 KB packet per system call then costs
 * no checksum in JavaScript on either side.
 */
export const FRAME_SOCKET_MTU = 16384;
const GSO_MAX = 14 + 65535;
const OFFLOAD: NetCapabilities = { gsoMax: GSO_MAX, rxOffload: true, headroom: 0 };
const NONE: NetCapabilities = { gsoMax: undefined, rxOffload: false, headroom: 0 };

/** Socket buffer asked for on each end (the kernel caps it at net.core.wmem_max for a user without CAP_NET_ADMIN). */
const SOCKET_BUFFER = 4 << 20;

/**
 * Makes the socketpair, both ends non-blocking and close-on-exec: `[engine, gateway]`. Throws a
 * `FataError` that says what to do when the kernel refuses (descriptor limits).
 */
export function openFramePair(): [number, number] {
  const sv = new Uint8Array(8);
  if ((libc.socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) as number) < 0) {
    throw new FataError(
      'FATA_SOCKETPAIR',
      `cannot make a socketpair for user-mode networking: ${describeErrno()}; raise the descriptor limit (ulimit -n)`,
    );
  }
  const v = new DataView(sv.buffer);
  const ends: [number, number] = [v.getInt32(0, true), v.getInt32(4, true)];
  const size = new Uint8Array(4);
  new DataView(size.buffer).setInt32(0, SOCKET_BUFFER, true);
  for (const fd of ends) {
    libc.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, size, 4);
    libc.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, size, 4);
  }
  return ends;
}

export class FrameSocketDevice extends FdDevice implements NetDevice {
  readonly name: string;
  readonly mac: MacAddress;
  readonly mtu: number;
  capabilities: NetCapabilities = OFFLOAD;
  rxFrames = 0;
  txFrames = 0;
  txErrors = 0;

  /** Adopts an open socketpair end (see `openFramePair`); the spt bootstrap does this with the one its tender passed. */
  constructor(fd: number, name: string, opts: { readonly mac: MacAddress; readonly mtu?: number }) {
    if (opts.mac.length !== 6) throw new FataError('FATA_BAD_MAC', 'a MAC address has exactly 6 bytes');
    // The other end closing wakes the reader too: its read() then says the link is gone.
    super(fd, ANY_EVENT);
    this.name = name;
    this.mac = opts.mac.slice();
    this.mtu = opts.mtu ?? FRAME_SOCKET_MTU;
  }

  /** One frame, one message; an offloaded packet (`gsoSize`) goes whole (see FRAME_SOCKET_MTU). */
  write(frame: Uint8Array, gsoSize?: number): DeviceResult {
    if (this.fd < 0) return 'unspecified';
    if (frame.length < 14 || frame.length > (gsoSize && this.trusted ? GSO_MAX : this.mtu + 18)) return 'invalid';
    const n = libc.write(this.fd, frame, frame.length) as number;
    if (n === frame.length) {
      this.txFrames++;
      return 'ok';
    }
    this.txErrors++;
    const e = errno();
    return e === EAGAIN || e === EINTR || n >= 0 ? 'again' : 'unspecified';
  }

  read(into: Uint8Array, rx: RxInfo): number | 'again' | 'unspecified' {
    const need = this.trusted ? GSO_MAX : this.mtu + 18;
    if (into.length < need)
      throw new RangeError(
        `read buffer of ${into.length} bytes is too small: it needs ${need} (${this.trusted ? 'gsoMax, with offload' : 'mtu + 18'})`,
      );
    if (this.fd < 0) return 'unspecified';
    const n = libc.read(this.fd, into, into.length) as number;
    if (n < 0) {
      const e = errno();
      return e === EAGAIN || e === EINTR ? 'again' : 'unspecified';
    }
    // 0: the other end closed (a message is never empty); the link is gone.
    if (n === 0) return 'unspecified';
    rx.checksumVerified = this.trusted;
    this.rxFrames++;
    return n;
  }

  /**
   * Whether received frames count as checksum-verified (the default): a socketpair does not corrupt what
   * goes through it, and both ends are Fata stacks that write correct checksums, so verifying each 64 KB
   * segment again would only cost CPU (a tap's kernel vouches the same way, DATA_VALID). Off when a
   * fault injector that corrupts frames sits in front (`--net-impair`): then checksums are checked.
   */
  private trusted = true;

  /**
   * Off: every received checksum is verified and nothing is offloaded (see `trusted`); for a fault
   * injector in front (whose own capabilities offer no offload, so the stack behind it sends whole
   * checksums). Both ends of a link must agree: the tender turns it off on both or neither.
   */
  setReceiveOffload(on: boolean): void {
    this.trusted = on;
    this.capabilities = on ? OFFLOAD : NONE;
  }
}
