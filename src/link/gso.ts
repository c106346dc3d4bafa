/**
 * Segmentation offload in software: a `NetDevice` wrapper that offers
 * `gsoMax` and cuts each offloaded Ethernet/IPv4/TCP packet into
 * `gsoSize`-byte segments the way a NIC or the kernel's GSO does — IPv4
 * total length, identification and header checksum per segment; TCP
 * sequence number per segment; PSH and FIN only on the last; each TCP
 * checksum completed from the pseudo-header sum the sender left. Lets the
 * simulator exercise the stack's offload path, and states exactly what the
 * tap's `GSO_TCPV4` contract is.
 */
import type { DeviceResult, MacAddress, NetCapabilities, NetDevice, RxInfo } from '../devices/index.ts';
import { put16, put32, u16, u32 } from '../wire/bytes.ts';
import { finish, fold, onesSum, pseudoHeaderSum } from '../wire/checksum.ts';

const PSH = 0x08,
  FIN = 0x01;

export class SoftGso implements NetDevice {
  private readonly inner: NetDevice;
  readonly gsoMax = 14 + 65535;
  /** Segmentation offload here; receiving is the inner device's. */
  readonly capabilities: NetCapabilities;
  private readonly seg: Uint8Array;
  readonly counters = { offloaded: 0, segments: 0, largest: 0, badPartialChecksum: 0 };

  constructor(inner: NetDevice) {
    this.inner = inner;
    this.capabilities = { gsoMax: this.gsoMax, rxOffload: inner.capabilities.rxOffload, headroom: 0 };
    this.seg = new Uint8Array(inner.mtu + 18);
  }

  get mac(): MacAddress {
    return this.inner.mac;
  }
  get mtu(): number {
    return this.inner.mtu;
  }
  read(into: Uint8Array, rx: RxInfo): number | 'again' | 'unspecified' {
    return this.inner.read(into, rx);
  }
  readyAtNs(): bigint | undefined {
    return this.inner.readyAtNs();
  }

  write(frame: Uint8Array, gsoSize?: number): DeviceResult {
    if (!gsoSize) return this.inner.write(frame);
    if (frame.length > this.gsoMax || frame.length < 14 + 20 + 20 || u16(frame, 12) !== 0x0800 || frame[14 + 9] !== 6) return 'invalid';
    const ip = 14,
      ihl = (frame[ip]! & 0x0f) * 4,
      tcp = ip + ihl;
    const thl = (frame[tcp + 12]! >>> 4) * 4,
      data = tcp + thl;
    const payload = frame.length - data;
    const src = u32(frame, ip + 12),
      dst = u32(frame, ip + 16);
    const seq0 = u32(frame, tcp + 4),
      id0 = u16(frame, ip + 4),
      flags = frame[tcp + 13]!;
    // The contract: the sender left the pseudo-header sum for the whole TCP length in the checksum field.
    if (u16(frame, tcp + 16) !== fold(pseudoHeaderSum(src, dst, 6, thl + payload))) {
      this.counters.badPartialChecksum++;
      return 'invalid';
    }
    this.counters.offloaded++;
    this.counters.largest = Math.max(this.counters.largest, Math.ceil(payload / gsoSize));
    let result: DeviceResult = 'ok';
    for (let off = 0; off < payload; off += gsoSize) {
      const n = Math.min(gsoSize, payload - off);
      const last = off + n >= payload;
      const s = this.seg;
      if (data + n > s.length) return 'invalid';
      s.set(frame.subarray(0, data), 0);
      s.set(frame.subarray(data + off, data + off + n), data);
      put16(s, ip + 2, ihl + thl + n);
      put16(s, ip + 4, (id0 + off / gsoSize) & 0xffff);
      put16(s, ip + 10, 0);
      put16(s, ip + 10, finish(onesSum(s, ip, ip + ihl)));
      put32(s, tcp + 4, (seq0 + off) >>> 0);
      s[tcp + 13] = last ? flags : flags & ~(PSH | FIN);
      put16(s, tcp + 16, 0);
      put16(s, tcp + 16, finish(onesSum(s, tcp, data + n, pseudoHeaderSum(src, dst, 6, thl + n))));
      const r = this.inner.write(s.subarray(0, data + n));
      this.counters.segments++;
      if (r !== 'ok') result = r;
    }
    return result;
  }
}
