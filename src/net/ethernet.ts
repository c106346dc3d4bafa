/**
 * The Ethernet layer: reads frames from one `NetDevice`, keeps those for this
 * host (its MAC, broadcast, untagged or priority-tagged) and hands each
 * payload to the handler registered for its EtherType. Transmit fills in the
 * 14-byte header of a frame the caller has laid out.
 */
import { type DeviceResult, type MacAddress, type NetDevice, type RxInfo, withHeadroom } from '../devices/index.ts';
import { ETHERNET_HEADER_LEN, EthernetView } from '../wire/ethernet.ts';
import { put16 } from '../wire/bytes.ts';
import { counters } from './counters.ts';

export interface EthernetHandler {
  /**
   * The payload is `buf[off..end)`; `buf` and `frame` are borrowed, valid
   * only during the call (the next frame overwrites them). `checksumVerified`:
   * the device vouched for this frame's TCP/UDP checksum (`RxInfo`).
   */
  receive(buf: Uint8Array, off: number, end: number, frame: EthernetView, checksumVerified: boolean): void;
}

const DROPS = ['truncated', 'not-for-us', 'vlan', 'unknown-ethertype', 'rx-failed', 'tx-again', 'tx-invalid', 'tx-gone'] as const;

export class Ethernet {
  readonly device: NetDevice;
  readonly mac: MacAddress;
  /** Largest payload (IP datagram) per frame. */
  readonly mtu: number;
  private readonly handlers = new Map<number, EthernetHandler>();
  private readonly view = new EthernetView();
  private readonly rxBuf: Uint8Array;
  /** What the device says of each frame it hands over (reused: nothing is allocated per frame). */
  private readonly rx: RxInfo = { checksumVerified: false };
  readonly drops = counters(DROPS);
  rxFrames = 0;
  txFrames = 0;

  constructor(device: NetDevice) {
    this.device = device;
    this.mac = device.mac.slice();
    this.mtu = device.mtu;
    const caps = device.capabilities;
    // The device's headroom stays free in front of the buffer, so that it reads in place.
    this.rxBuf = withHeadroom(Math.max(device.mtu + ETHERNET_HEADER_LEN + 4, caps.rxOffload ? (caps.gsoMax ?? 0) : 0), caps.headroom);
  }

  register(ethertype: number, handler: EthernetHandler): void {
    this.handlers.set(ethertype, handler);
  }

  /** Reads and dispatches up to `budget` frames; returns how many were read. */
  poll(budget = 256): number {
    let n = 0;
    for (; n < budget; n++) {
      const len = this.device.read(this.rxBuf, this.rx);
      if (len === 'again') break;
      if (len === 'unspecified') {
        this.drops['rx-failed']++; // The device failed (its host interface gone): nothing more to read now.
        break;
      }
      this.input(this.rxBuf, len, this.rx.checksumVerified);
    }
    return n;
  }

  /**
   * Processes one received frame, `frame[0..len)` (borrowed), whose device
   * vouched for its transport checksum or not. Allocates nothing.
   */
  input(frame: Uint8Array, len = frame.length, checksumVerified = false): void {
    this.rxFrames++;
    const v = this.view;
    if (v.check(frame, 0, len) !== 'ok') {
      this.drops.truncated++;
      return;
    }
    if (!v.dstEquals(this.mac) && !v.dstIsBroadcast()) {
      this.drops['not-for-us']++;
      return;
    }
    if (v.tagged && v.vid !== 0) {
      this.drops.vlan++;
      return;
    }
    const h = this.handlers.get(v.ethertype);
    if (!h) {
      this.drops['unknown-ethertype']++;
      return;
    }
    h.receive(frame, v.payloadOff, len, v, checksumVerified);
  }

  /** The device's segmentation offload limit (a frame size), if it has one. */
  get gsoMax(): number | undefined {
    return this.device.capabilities.gsoMax;
  }

  /** Bytes to leave free in front of transmit buffers, for the device to fill in place. */
  get headroom(): number {
    return this.device.capabilities.headroom;
  }

  /**
   * Sends `frame` (whole, header included) after writing its header: `dst`,
   * this host's MAC and `ethertype` into `frame[0..14)`.
   */

  transmit(frame: Uint8Array, dst: MacAddress, ethertype: number, gsoSize?: number): DeviceResult {
    frame.set(dst, 0);
    frame.set(this.mac, 6);
    put16(frame, 12, ethertype);
    const r = gsoSize ? this.device.write(frame, gsoSize) : this.device.write(frame);
    if (r === 'ok') this.txFrames++;
    else if (r === 'again') this.drops['tx-again']++;
    else if (r === 'invalid') this.drops['tx-invalid']++;
    else this.drops['tx-gone']++;
    return r;
  }
}
