/**
 * A tap `NetDevice` for the node target: frames move through a Linux tap
 * with one non-blocking `read`/`write` system call each (through koffi, so
 * an empty queue costs no exception). Waiting for input never blocks the
 * event loop: `wait` runs `poll(2)` on a libuv worker thread and resolves
 * when a frame is queued, the deadline passes, or `wake()` is called.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { DeviceResult, MacAddress, NetCapabilities, NetDevice, RxInfo } from '../../devices/index.ts';
import { FataError } from '../../host/errors.ts';
import { describeErrno, EAGAIN, EINTR, errno, libc, O_CLOEXEC, O_NONBLOCK, O_RDWR, POLLIN } from './libc.ts';
import { FdDevice } from './fd-device.ts';

const TUNSETIFF = 0x400454ca;
const SIOCGIFMTU = 0x8921;
const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const IFF_UP = 0x0001;
const IFF_TUN = 0x0001;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
/** Each frame is preceded by a `struct virtio_net_hdr` (10 bytes): how we hand the kernel 64 KB TCP packets to cut. */
const IFF_VNET_HDR = 0x4000;
const TUNSETOFFLOAD = 0x400454d0;
const VNET_HDR_LEN = 10;
const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
const VIRTIO_NET_HDR_F_DATA_VALID = 2;
/** Receive offloads: the kernel may hand us joined TCP segments with checksums it vouches for. */
const TUN_F_CSUM = 0x01,
  TUN_F_TSO4 = 0x02;
const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
/** The largest frame written with segmentation offload: a 64 KiB IPv4 packet behind its Ethernet header. */
const GSO_MAX = 14 + 65535;
const IFNAMSIZ = 16;
const AF_INET = 2;
const SOCK_DGRAM = 2;

function ifreq(name: string): Uint8Array {
  const b = new Uint8Array(40);
  const n = new TextEncoder().encode(name);
  if (n.length === 0 || n.length >= IFNAMSIZ) {
    throw new FataError('FATA_BAD_IFACE', `interface name '${name}' must be 1-15 bytes`);
  }
  b.set(n);
  return b;
}

/** The MTU of interface `name` in the current network namespace. */
function interfaceMtu(name: string): number {
  const s = libc.socket(AF_INET, SOCK_DGRAM, 0) as number;
  if (s < 0) return 1500;
  try {
    const req = ifreq(name);
    if ((libc.ioctl(s, SIOCGIFMTU, req) as number) < 0) return 1500;
    return new DataView(req.buffer).getInt32(16, true);
  } finally {
    libc.close(s);
  }
}

/**
 * Why `name` in this network namespace cannot be attached as a tap, with the
 * advice that fits what it is; undefined when it is a tap, or when it does
 * not exist and `create` asks for one. (Attaching a name that does not exist
 * would otherwise create a tap that is down and has no address, and the
 * unikernel would serve into nothing.)
 */
export function tapProblem(name: string, create = false): string | undefined {
  const sys = `/sys/class/net/${name}`;
  if (name.includes('/') || name === '.' || name === '..') return `'${name}' is not an interface name`;
  if (!existsSync(sys)) {
    if (create) return undefined;
    return (
      `there is no interface '${name}' here; create the tap first ('ip tuntap add dev ${name} mode tap', then give it an ` +
      `address or a bridge), or write --net:NAME=${name},create to have Fata make one for this run (up, with no address)`
    );
  }
  if (existsSync(`${sys}/tun_flags`)) {
    const flags = Number.parseInt(readFileSync(`${sys}/tun_flags`, 'utf8').trim(), 16);
    if ((flags & 0x000f) === IFF_TUN)
      return `'${name}' is a tun device (IP packets, no Ethernet); Fata needs a tap: 'ip tuntap add dev NAME mode tap'`;
    return undefined;
  }
  const type = readFileSync(`${sys}/type`, 'utf8').trim();
  if (type === '772')
    return `'${name}' is the loopback interface, not a tap; to serve on the host's own addresses without a tap, build or run with --net=socket`;
  if (existsSync(`${sys}/bridge`))
    return `'${name}' is a bridge, not a tap; make a tap and attach it to the bridge: 'ip tuntap add dev fata0 mode tap && ip link set fata0 master ${name} up', then --net:NAME=fata0`;
  return (
    `'${name}' is not a tap (Fata attaches to taps); make one ('ip tuntap add dev fata0 mode tap'), and put it on a bridge ` +
    `with '${name}' or route to it; or use --net=socket to serve on the host's addresses`
  );
}

/** Sets IFF_UP on a tap this run created. */
function bringUp(name: string): void {
  const s = libc.socket(AF_INET, SOCK_DGRAM, 0) as number;
  if (s < 0) return;
  try {
    const req = ifreq(name);
    const v = new DataView(req.buffer);
    if ((libc.ioctl(s, SIOCGIFFLAGS, req) as number) < 0) return;
    v.setUint16(IFNAMSIZ, v.getUint16(IFNAMSIZ, true) | IFF_UP, true);
    libc.ioctl(s, SIOCSIFFLAGS, req);
  } finally {
    libc.close(s);
  }
}

/**
 * Opens `/dev/net/tun` and attaches it to the existing tap `name` with
 * TUNSETIFF (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR) with checksum and TSO
 * offload both ways; returns the non-blocking descriptor and
 * the interface's MTU. With `create`, a tap that does not exist is made
 * for this run (it goes when the descriptor closes) and brought up.
 * Throws a `FataError` that says what to do.
 */
export function openTap(name: string, opts: { readonly create?: boolean } = {}): { fd: number; mtu: number } {
  ifreq(name); // The name's length first: its error is the clearest.
  const problem = tapProblem(name, opts.create);
  if (problem) throw new FataError('FATA_TAP_ATTACH', `cannot attach '${name}': ${problem}`);
  const created = !existsSync(`/sys/class/net/${name}`);
  const fd = libc.open('/dev/net/tun', O_RDWR | O_NONBLOCK | O_CLOEXEC) as number;
  if (fd < 0) {
    throw new FataError(
      'FATA_NO_TUN',
      `cannot open /dev/net/tun: ${describeErrno()}; ` + 'load the tun module and run as a user allowed to use it (root, or CAP_NET_ADMIN)',
    );
  }
  const req = ifreq(name);
  new DataView(req.buffer).setUint16(IFNAMSIZ, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, true);
  if ((libc.ioctl(fd, TUNSETIFF, req) as number) < 0 || (libc.ioctlValue(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) as number) < 0) {
    const why = describeErrno();
    libc.close(fd);
    throw new FataError(
      'FATA_TAP_ATTACH',
      `cannot attach tap '${name}': ${why}; check that nothing else holds it and that this user may use it (root, or the tap's owner)`,
    );
  }
  if (created) bringUp(name);
  return { fd, mtu: interfaceMtu(name) };
}

export interface TapOptions {
  /** The MAC this unikernel uses on the link (not the host side's). */
  readonly mac: MacAddress;
  /** Override the MTU read from the interface. */
  readonly mtu?: number;
}

export class TapDevice extends FdDevice implements NetDevice {
  readonly name: string;
  readonly mac: MacAddress;
  readonly mtu: number;
  rxFrames = 0;
  txFrames = 0;
  txErrors = 0;

  /**
   * Adopts an open tap descriptor (see `openTap`). The spt bootstrap does
   * this with the descriptors its tender passed down.
   */
  constructor(fd: number, name: string, opts: TapOptions & { readonly mtu: number }) {
    if (opts.mac.length !== 6) throw new FataError('FATA_BAD_MAC', 'a MAC address has exactly 6 bytes');
    super(fd, POLLIN);
    this.name = name;
    this.mac = opts.mac.slice();
    this.mtu = opts.mtu;
    this.rxBuf = new Uint8Array(VNET_HDR_LEN + GSO_MAX);
  }

  /** Opens and attaches the existing tap `name` (create it with `ip tuntap add dev NAME mode tap`). */
  static open(name: string, opts: TapOptions & { readonly create?: boolean }): TapDevice {
    const { fd, mtu } = openTap(name, { create: opts.create });
    return new TapDevice(fd, name, { mac: opts.mac, mtu: opts.mtu ?? mtu });
  }

  /** The virtio-net header goes in front of each frame: in place when the caller left room, else in these. */
  private readonly txBuf = new Uint8Array(VNET_HDR_LEN + GSO_MAX);
  private readonly rxBuf: Uint8Array;
  private rxOffload = true;
  /** The last buffers seen with headroom, and their views widened over it (reused: no allocation per frame). */
  private rxInto: Uint8Array | undefined;
  private rxWide: Uint8Array | undefined;
  private txBase: ArrayBufferLike | undefined;
  private txBaseOff = -1;
  private txWide: Uint8Array | undefined;

  capabilities: NetCapabilities = { gsoMax: GSO_MAX, rxOffload: true, headroom: VNET_HDR_LEN };

  /** `frame` with its virtio-net header in front, as one contiguous view: in place when there is room. */
  private framed(frame: Uint8Array): Uint8Array {
    if (frame.byteOffset < VNET_HDR_LEN) {
      this.txBuf.set(frame, VNET_HDR_LEN);
      return this.txBuf;
    }
    const at = frame.byteOffset - VNET_HDR_LEN;
    if (this.txBase !== frame.buffer || this.txBaseOff !== at) {
      this.txBase = frame.buffer;
      this.txBaseOff = at;
      this.txWide = new Uint8Array(frame.buffer, at, Math.min(frame.buffer.byteLength - at, VNET_HDR_LEN + GSO_MAX));
    }
    return this.txWide!;
  }

  write(frame: Uint8Array, gsoSize?: number): DeviceResult {
    if (this.fd < 0) return 'unspecified';
    if (frame.length < 14 || frame.length > (gsoSize ? GSO_MAX : this.mtu + 18)) return 'invalid';
    const b = this.framed(frame);
    b.fill(0, 0, VNET_HDR_LEN);
    if (gsoSize) {
      // One Ethernet + IPv4 + TCP packet: the kernel cuts it into gsoSize-byte segments and finishes the checksums.
      const ihl = (frame[14]! & 0x0f) * 4;
      const csumStart = 14 + ihl;
      const hdrLen = csumStart + (frame[csumStart + 12]! >>> 4) * 4;
      b[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
      b[1] = VIRTIO_NET_HDR_GSO_TCPV4;
      b[2] = hdrLen & 0xff;
      b[3] = hdrLen >>> 8;
      b[4] = gsoSize & 0xff;
      b[5] = gsoSize >>> 8;
      b[6] = csumStart & 0xff;
      b[7] = csumStart >>> 8;
      b[8] = 16;
      b[9] = 0;
    }
    const len = VNET_HDR_LEN + frame.length;
    const n = libc.write(this.fd, b, len) as number;
    if (n === len) {
      this.txFrames++;
      return 'ok';
    }
    this.txErrors++;
    const e = errno();
    return e === EAGAIN || e === EINTR || n >= 0 ? 'again' : 'unspecified';
  }

  /**
   * Turns the kernel's receive offload (joined segments, checksums it
   * vouches for) on or off, for readers that work frame by frame (the
   * fault injector). Call before sealing, and before a stack reads the
   * capabilities. Sending with offload is unaffected.
   */
  setReceiveOffload(on: boolean): void {
    if (this.fd >= 0 && (libc.ioctlValue(this.fd, TUNSETOFFLOAD, on ? TUN_F_CSUM | TUN_F_TSO4 : 0) as number) < 0) {
      throw new FataError('FATA_TAP_OFFLOAD', `cannot change receive offload on tap '${this.name}': ${describeErrno()}`);
    }
    this.rxOffload = on;
    this.capabilities = { ...this.capabilities, rxOffload: on };
  }

  read(into: Uint8Array, rx: RxInfo): number | 'again' | 'unspecified' {
    const need = this.rxOffload ? GSO_MAX : this.mtu + 18;
    if (into.length < need) {
      throw new RangeError(
        `read buffer of ${into.length} bytes is too small: it needs ${need} (${this.rxOffload ? 'gsoMax, with receive offload' : 'mtu + 18'})`,
      );
    }
    if (this.fd < 0) return 'unspecified';
    // In place when the caller left room for the header in front of `into`; else through rxBuf and a copy.
    const inPlace = into.byteOffset >= VNET_HDR_LEN;
    let b = this.rxBuf;
    if (inPlace) {
      if (this.rxInto !== into) {
        this.rxInto = into;
        this.rxWide = new Uint8Array(into.buffer, into.byteOffset - VNET_HDR_LEN, into.length + VNET_HDR_LEN);
      }
      b = this.rxWide!;
    }
    const n = libc.read(this.fd, b, b.length) as number;
    if (n < 0) {
      const e = errno();
      return e === EAGAIN || e === EINTR ? 'again' : 'unspecified'; // EBADF, EIO: the tap is gone.
    }
    if (n <= VNET_HDR_LEN) return 'again';
    // The kernel vouches for (or never filled in) the checksum of what it flags; gso fields need nothing from us.
    rx.checksumVerified = (b[0]! & (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)) !== 0;
    const len = Math.min(n - VNET_HDR_LEN, into.length);
    if (!inPlace) into.set(this.rxBuf.subarray(VNET_HDR_LEN, VNET_HDR_LEN + len));
    this.rxFrames++;
    return len;
  }
}
