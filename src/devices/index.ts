/**
 * The Fata device ABI: everything a unikernel can touch, in one file.
 *
 * Shaped after Solo5's `solo5.h`. Every target (node, spt, sim) implements
 * these interfaces; protocol code receives them as constructor arguments and
 * never learns which target it runs on.
 *
 * Error rules, stated once (as solo5.h does):
 * - Calls return a result; they do not throw on I/O conditions. A call MAY
 *   throw (the Solo5 "abort") only on a programmer error: a buffer of the
 *   wrong size, an offset that is not a multiple of the block size, use of a
 *   device after `close()`.
 * - `'again'` means "nothing now, try after the next yield"; it is never an
 *   error and is never logged.
 * - Buffers passed in are borrowed for the duration of the call only. A
 *   device never keeps a reference to a caller's buffer after it returns, and
 *   a caller may reuse the buffer immediately.
 * - Nanoseconds are `bigint` everywhere.
 *
 * This module imports nothing and has no runtime state.
 */

/** Result of a device call that may fail (Solo5: OK, AGAIN, EINVAL, EUNSPEC). */
export type DeviceResult = 'ok' | 'again' | 'invalid' | 'unspecified';

/** A 48-bit Ethernet address: exactly 6 bytes. */
export type MacAddress = Uint8Array;

/** The Ethernet II header length that `NetDevice.mtu` excludes. */
export const ETHERNET_HEADER_LEN = 14;

/**
 * What a network device can do beyond moving plain frames, in one record.
 * A device without offloads says `NO_OFFLOAD`.
 */
export interface NetCapabilities {
  /**
   * Segmentation offload (TSO): the largest frame `write` takes with a
   * `gsoSize`. Undefined: no offload; never pass one.
   */
  readonly gsoMax: number | undefined;
  /**
   * Receive offload: `read` may return frames of up to `gsoMax` bytes (TCP
   * segments the host joined), `into` must hold that many, and each read
   * says whether the host already verified the frame's TCP/UDP checksum
   * (`RxInfo.checksumVerified`).
   */
  readonly rxOffload: boolean;
  /**
   * Bytes the device may use in place in front of a frame (the tap's 10-byte
   * virtio-net header): a caller that reserves them in its buffers — before
   * `into` for `read`, before `frame` for `write` — spares the device a copy
   * of every frame. A device copies when they are not there.
   */
  readonly headroom: number;
}

/** A device that moves plain frames and nothing more. */
export const NO_OFFLOAD: NetCapabilities = { gsoMax: undefined, rxOffload: false, headroom: 0 };

/**
 * Facts about one received frame, filled in by `NetDevice.read` into a
 * record the caller owns and reuses (nothing is allocated per frame).
 */
export interface RxInfo {
  /**
   * The frame's TCP/UDP checksum was verified by the host or never filled
   * in (a local sender's partial checksum: virtio-net's DATA_VALID or
   * NEEDS_CSUM), so the stack need not verify it. False: verify as usual.
   * Only for this frame: it travels with the packet up the stack, and a
   * datagram reassembled from fragments is always verified.
   */
  checksumVerified: boolean;
}

/**
 * A network device moving whole Ethernet frames (Solo5 NET_BASIC).
 *
 * `mtu` is the largest payload after the 14-byte Ethernet header; a frame is
 * therefore at most `mtu + 14` bytes (plus 4 when it carries an 802.1Q tag).
 */
export interface NetDevice {
  /** The device's own address, 6 bytes. Callers must not mutate it. */
  readonly mac: MacAddress;
  /** Largest Ethernet payload in bytes (1500 on a standard link). */
  readonly mtu: number;
  readonly capabilities: NetCapabilities;
  /**
   * Sends one frame, never blocking.
   * - `'ok'`: the frame was handed to the link (it may still be lost there).
   * - `'again'`: dropped on a transient condition (queue full); the caller
   *   may count it; upper layers recover as they would from loss.
   * - `'invalid'`: shorter than 14 bytes or longer than `mtu + 18`.
   * - `'unspecified'`: the link is gone (host interface removed).
   * `frame` is copied (or sent) before the call returns; the device may
   * write into the `capabilities.headroom` bytes before it.
   *
   * With `gsoSize` (only on a device with `capabilities.gsoMax`): `frame`
   * is one Ethernet/IPv4/TCP packet of up to `gsoMax` bytes whose TCP
   * checksum field holds the pseudo-header sum for its whole length; the
   * device cuts it into segments of `gsoSize` payload bytes and completes
   * the checksums (virtio-net's GSO_TCPV4 with NEEDS_CSUM).
   */
  write(frame: Uint8Array, gsoSize?: number): DeviceResult;
  /**
   * Puts the next received frame in `into` and returns its length, with the
   * frame's facts in `rx`; `'again'` when nothing is queued; `'unspecified'`
   * when the device failed (the host interface is gone: EBADF, EIO). `into`
   * must hold at least `mtu + 18` bytes (so that a tagged frame fits), or
   * `gsoMax` with receive offload; a shorter buffer throws. The device may
   * use the `capabilities.headroom` bytes before `into`. Never blocks.
   */
  read(into: Uint8Array, rx: RxInfo): number | 'again' | 'unspecified';
  /**
   * Earliest monotonic time at which `read` may stop returning `'again'`
   * without any outside event: a device that holds frames back (a delaying
   * link) reports when the next one is due. `undefined` when nothing is held.
   * `0n` means "now" (frames are queued).
   */
  readyAtNs(): bigint | undefined;
}

/**
 * A buffer of `size` bytes with `headroom` free bytes in front of it in the
 * same memory: what layers build frames in, so that a device with headroom
 * (`NetCapabilities.headroom`) fills it in place instead of copying.
 */
export function withHeadroom(size: number, headroom: number): Uint8Array {
  return new Uint8Array(headroom + size).subarray(headroom);
}

/** A block device (Solo5 BLOCK_BASIC). */
export interface BlockDevice {
  /** Size in bytes; a multiple of `blockSize`. */
  readonly capacity: bigint;
  /** The unit of I/O in bytes, a power of two (512 or 4096). */
  readonly blockSize: number;
  /**
   * Reads `into.length` bytes at byte `offset`. Both must be multiples of
   * `blockSize` and the range inside `capacity`, else `'invalid'`.
   * Blocks the caller until the data is there (block I/O is local).
   */
  read(offset: bigint, into: Uint8Array): DeviceResult;
  /** Writes `data` at `offset`, same rules as `read`. Durable when `'ok'`. */
  write(offset: bigint, data: Uint8Array): DeviceResult;
}

/**
 * The console: best effort, but a write always terminates. Implementations
 * must finish (or drop) a write of any size in bounded time; a 1 MB line
 * must neither loop nor block (MirageOS advisory 03 was that bug).
 */
export interface Console {
  write(bytes: Uint8Array): void;
}

/** Time, in nanoseconds (Solo5 `clock_monotonic`/`clock_wall`). */
export interface Clock {
  /** Monotonic time since an arbitrary origin; never goes back. */
  monotonicNs(): bigint;
  /** Wall-clock time since the Unix epoch; may jump. */
  wallNs(): bigint;
}

/**
 * A source of randomness. Protocol code takes one of these and never calls
 * `Math.random`; the simulator passes a seeded one so that runs reproduce.
 */
export interface Random {
  /** Fills `into` with random bytes. */
  fill(into: Uint8Array): void;
  /** A uniformly distributed unsigned 32-bit integer. */
  u32(): number;
}

/** Identifies devices in a ready set: the names given in the manifest. */
export type ReadySet = ReadonlySet<string>;

/**
 * `yield(deadlineNs)`: wait until the monotonic clock reaches `deadlineNs`
 * or a net device has input, whichever is first. Resolves with the names of
 * the net devices that have input (possibly empty on timeout). A deadline in
 * the past returns at once with the devices ready now.
 */
export type Yield = (deadlineNs: bigint) => Promise<ReadySet>;

/**
 * Device kinds a manifest can declare: Solo5's NET_BASIC and BLOCK_BASIC,
 * and `assets`, files built into the image and read-only at run time.
 */
export type DeviceType = 'net' | 'block' | 'assets';

/** One declared device. Names: [A-Za-z0-9]{1,67}, as in Solo5. */
export interface DeviceDecl {
  readonly name: string;
  readonly type: DeviceType;
  /** assets: the modification time their files are served with (Last-Modified). */
  readonly modifiedMs?: number;
  /**
   * block only: the service runs without it. A tender starts the image whether or not
   * `--block:NAME=FILE` is given; when it is not, no file is opened, the seal allows no
   * block call for it, and the service's `main` sees the device as `undefined`.
   */
  readonly optional?: boolean;
}

/** The manifest: what a unikernel may touch. At most 63 devices. */
export interface Manifest {
  readonly type: 'fata.manifest';
  readonly version: 1;
  readonly devices: readonly DeviceDecl[];
}

export const MANIFEST_MAX_DEVICES = 63;
export const DEVICE_NAME_MAX = 67;
/** Solo5's device name rule, for flags and configs that name a device. */
export const DEVICE_NAME = /^[A-Za-z0-9]{1,67}$/;

/** What is wrong with a device name, or undefined: the one statement of the rule. */
export function deviceNameProblem(name: string): string | undefined {
  return DEVICE_NAME.test(name) ? undefined : `device name '${name}' must be 1-${DEVICE_NAME_MAX} letters or digits (Solo5's rule)`;
}

/**
 * Checks a manifest the way build, tender and bootstrap must before using it:
 * the count, every name, no name twice, known types only (a manifest read
 * from an image is untrusted input: this never throws).
 */
export function checkManifest(m: Manifest): 'ok' | string {
  if (m?.type !== 'fata.manifest' || m.version !== 1 || !Array.isArray(m.devices)) return 'not a version 1 fata.manifest';
  if (m.devices.length > MANIFEST_MAX_DEVICES) {
    return `manifest declares ${m.devices.length} devices; at most ${MANIFEST_MAX_DEVICES} are allowed`;
  }
  const seen = new Set<string>();
  for (const d of m.devices) {
    const bad = typeof d?.name === 'string' ? deviceNameProblem(d.name) : 'a device has no name';
    if (bad) return bad;
    if (d.type !== 'net' && d.type !== 'block' && d.type !== 'assets') return `device '${d.name}' has an unknown type '${String(d.type)}'`;
    if (d.optional !== undefined && typeof d.optional !== 'boolean') return `device '${d.name}': 'optional' must be true or false`;
    if (d.optional && d.type !== 'block') return `device '${d.name}' is a ${d.type} device; only block devices may be optional`;
    if (seen.has(d.name)) return `device '${d.name}' is declared twice; give each device its own name`;
    seen.add(d.name);
  }
  return 'ok';
}

/** The earlier of two optional deadlines (`undefined` means none): how every layer combines its timers. */
export function earlier(a: bigint | undefined, b: bigint | undefined): bigint | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a <= b ? a : b;
}

/** Formats a MAC as `02:00:00:00:00:01`. */
export function formatMac(mac: MacAddress): string {
  let s = '';
  for (let i = 0; i < 6; i++) s += (i ? ':' : '') + (mac[i] ?? 0).toString(16).padStart(2, '0');
  return s;
}

/** Parses `02:00:00:00:00:01` (or `-` separators); `undefined` if malformed. */
export function parseMac(text: string): MacAddress | undefined {
  const m = /^([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})$/.exec(
    text,
  );
  if (!m) return undefined;
  return Uint8Array.from(m.slice(1, 7), (h) => parseInt(h, 16));
}
