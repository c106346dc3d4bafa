/**
 * The Ethernet layer: reads frames from one `NetDevice`, keeps those for this
 * host (its MAC, broadcast, untagged or priority-tagged) and hands each
 * payload to the handler registered for its EtherType. Transmit fills in the
 * 14-byte header of a frame the caller has laid out.
 */
import type { DeviceResult, MacAddress, NetDevice } from '../devices/index.ts';
import { ETHERNET_HEADER_LEN, EthernetView } from '../wire/ethernet.ts';
import { put16 } from '../wire/bytes.ts';
import { counters } from './counters.ts';

export interface EthernetHandler {
  /**
   * The payload is `buf[off..end)`; `buf` and `frame` are borrowed, valid
   * only during the call (the next frame overwrites them).
   */
  receive(buf: Uint8Array, off: number, end: number, frame: EthernetView): void;
}

const DROPS = ['truncated', 'not-for-us', 'vlan', 'unknown-ethertype', 'tx-again', 'tx-invalid', 'tx-gone'] as const;

export class Ethernet {
  readonly device: NetDevice;
  readonly mac: MacAddress;
  /** Largest payload (IP datagram) per frame. */
  readonly mtu: number;
  private readonly handlers = new Map<number, EthernetHandler>();
  private readonly view = new EthernetView();
  private readonly rxBuf: Uint8Array;
  readonly drops = counters(DROPS);
  rxFrames = 0;
  txFrames = 0;
  /** While a frame is dispatched: its device said its transport checksum needs no check. */
  rxChecksumTrusted = false;

  constructor(device: NetDevice) {
    this.device = device;
    this.mac = device.mac.slice();
    this.mtu = device.mtu;
    this.rxBuf = new Uint8Array(Math.max(device.mtu + ETHERNET_HEADER_LEN + 4, device.gsoMax ?? 0));
  }

  register(ethertype: number, handler: EthernetHandler): void {
    this.handlers.set(ethertype, handler);
  }

  /** Reads and dispatches up to `budget` frames; returns how many were read. */
  poll(budget = 256): number {
    let n = 0;
    for (; n < budget; n++) {
      const len = this.device.read(this.rxBuf);
      if (len === 'again') break;
      this.rxChecksumTrusted = this.device.rxChecksumTrusted === true;
      this.input(this.rxBuf, len);
      this.rxChecksumTrusted = false;
    }
    return n;
  }

  /** Processes one received frame, `frame[0..len)` (borrowed). Allocates nothing. */
  input(frame: Uint8Array, len = frame.length): void {
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
    h.receive(frame, v.payloadOff, len, v);
  }

  /**
   * Sends `frame` (whole, header included) after writing its header: `dst`,
   * this host's MAC and `ethertype` into `frame[0..14)`.
   */
  /** The device's segmentation offload limit (a frame size), if it has one. */
  get gsoMax(): number | undefined {
    return this.device.gsoMax;
  }

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
