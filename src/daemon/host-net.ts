/**
 * The host's side of a unikernel's network: one persistent tap per net
 * device, made by the daemon, attached to a Linux bridge, removed with the
 * unikernel. Made with the kernel's ioctls (what `ip tuntap add` and `ip
 * link set … master … up` call), removed with iproute2's `ip`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { FataError } from '../host/errors.ts';
import { describeErrno, libc, O_CLOEXEC, O_RDWR } from '../targets/node/libc.ts';

/** Linux interface names: at most 15 bytes (IFNAMSIZ - 1). */
export const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

function ip(args: string[]): { ok: true } | { error: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.error) return { error: `cannot run 'ip' (${r.error.message}); install iproute2` };
  return r.status === 0 ? { ok: true } : { error: `'ip ${args.join(' ')}' failed: ${r.stderr.trim()}` };
}

export function isBridge(name: string): boolean {
  return IFNAME.test(name) && existsSync(`/sys/class/net/${name}/bridge`);
}

export function interfaceExists(name: string): boolean {
  return IFNAME.test(name) && existsSync(`/sys/class/net/${name}`);
}

const TUNSETIFF = 0x400454ca,
  TUNSETPERSIST = 0x400454cb,
  SIOCGIFFLAGS = 0x8913,
  SIOCSIFFLAGS = 0x8914,
  SIOCGIFINDEX = 0x8933,
  SIOCBRADDIF = 0x89a2,
  SIOCBRDELIF = 0x89a3;
const IFF_UP = 0x1,
  IFF_TAP = 0x2,
  IFF_NO_PI = 0x1000;
const AF_INET = 2,
  SOCK_DGRAM = 2,
  SOCK_CLOEXEC = 0o2000000;

/** A `struct ifreq` (40 bytes) naming `name`; the union after the name (offset 16) is the caller's. */
function ifreq(name: string): { req: Uint8Array; view: DataView } {
  const req = new Uint8Array(40);
  req.set(new TextEncoder().encode(name));
  return { req, view: new DataView(req.buffer) };
}

/**
 * Makes tap `tap` (if missing) as `ip tuntap add dev TAP mode tap` does (TUNSETIFF with IFF_TAP | IFF_NO_PI, then
 * TUNSETPERSIST), makes it a port of `bridge` (SIOCBRADDIF; moved from another bridge it was on) and sets it up.
 * Ioctls instead of `ip -batch`: a create no longer forks the daemon for `ip` (about 7 ms of a create's wall time here
 * under load, 1.4 ms of the daemon's CPU: docs/profiling.md, Create latency).
 */
export function makeTap(tap: string, bridge: string): void {
  if (!IFNAME.test(tap) || !IFNAME.test(bridge)) throw new FataError('FATA_TAP', `'${tap}' or '${bridge}' is not an interface name`);
  const failed = (what: string): never => {
    throw new FataError('FATA_TAP', `${what} failed: ${describeErrno()}; the daemon needs root (CAP_NET_ADMIN) and the bridge '${bridge}'`);
  };
  if (!interfaceExists(tap)) {
    const fd = libc.open('/dev/net/tun', O_RDWR | O_CLOEXEC) as number;
    if (fd < 0) failed('opening /dev/net/tun');
    try {
      const { req, view } = ifreq(tap);
      view.setUint16(16, IFF_TAP | IFF_NO_PI, true);
      if ((libc.ioctl(fd, TUNSETIFF, req) as number) < 0) failed(`making tap ${tap}`);
      if ((libc.ioctlValue(fd, TUNSETPERSIST, 1) as number) < 0) failed(`making tap ${tap} persistent`);
    } finally {
      libc.close(fd);
    }
  }
  const s = libc.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0) as number;
  if (s < 0) failed('a socket for interface ioctls');
  try {
    const master = masterOf(tap);
    if (master !== bridge) {
      const { req, view } = ifreq(tap);
      if ((libc.ioctl(s, SIOCGIFINDEX, req) as number) < 0) failed(`finding tap ${tap}`);
      const index = view.getInt32(16, true);
      const port = (br: string): Uint8Array => {
        const r = ifreq(br);
        r.view.setInt32(16, index, true);
        return r.req;
      };
      if (master !== undefined && (libc.ioctl(s, SIOCBRDELIF, port(master)) as number) < 0) failed(`taking ${tap} off bridge ${master}`);
      if ((libc.ioctl(s, SIOCBRADDIF, port(bridge)) as number) < 0) failed(`adding ${tap} to bridge ${bridge}`);
    }
    const { req, view } = ifreq(tap);
    if ((libc.ioctl(s, SIOCGIFFLAGS, req) as number) < 0) failed(`reading ${tap}'s flags`);
    view.setUint16(16, view.getUint16(16, true) | IFF_UP, true);
    if ((libc.ioctl(s, SIOCSIFFLAGS, req) as number) < 0) failed(`setting ${tap} up`);
  } finally {
    libc.close(s);
  }
}

/** The bridge interface `name` is a port of, if any. */
function masterOf(name: string): string | undefined {
  try {
    const target = readlinkSync(`/sys/class/net/${name}/master`);
    return target.slice(target.lastIndexOf('/') + 1);
  } catch {
    return undefined;
  }
}

/** Removes tap `tap`; a tap that is already gone is fine. */
export function removeTap(tap: string): void {
  if (!interfaceExists(tap)) return;
  const r = ip(['tuntap', 'del', 'dev', tap, 'mode', 'tap']);
  if ('error' in r && interfaceExists(tap)) ip(['link', 'del', 'dev', tap]);
}

/** Interfaces whose name starts with `prefix`. */
export function interfacesWithPrefix(prefix: string): string[] {
  try {
    return readdirSync('/sys/class/net').filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
}

/** Whether a process holds the tap open: carrier is 1 while one is attached (the link is up). */
export function tapAttached(tap: string): boolean {
  try {
    return readFileSync(`/sys/class/net/${tap}/carrier`, 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

export interface TapCounters {
  /** Frames the unikernel wrote (the kernel's rx on the tap). */
  readonly sentPackets: number;
  readonly sentBytes: number;
  /** Frames for the unikernel (the kernel's tx on the tap); dropped: ones the kernel dropped, as a full queue. */
  readonly receivedPackets: number;
  readonly receivedBytes: number;
  readonly droppedToUnikernel: number;
  readonly droppedFromUnikernel: number;
}

/** The kernel's counters of tap `tap`, as the unikernel sees them. */
export function tapCounters(tap: string): TapCounters | undefined {
  const read = (f: string): number => Number(readFileSync(`/sys/class/net/${tap}/statistics/${f}`, 'utf8'));
  try {
    return {
      sentPackets: read('rx_packets'),
      sentBytes: read('rx_bytes'),
      receivedPackets: read('tx_packets'),
      receivedBytes: read('tx_bytes'),
      droppedToUnikernel: read('tx_dropped'),
      droppedFromUnikernel: read('rx_dropped'),
    };
  } catch {
    return undefined;
  }
}
