/**
 * A pcap writer (the classic libpcap format with nanosecond timestamps,
 * magic 0xa1b23c4d, LINKTYPE_ETHERNET) that Wireshark and tshark open.
 * It builds the file in memory; the caller decides where the bytes go.
 */
import type { Clock, DeviceResult, NetCapabilities, NetDevice, RxInfo } from '../devices/index.ts';

const LINKTYPE_ETHERNET = 1;
const SNAPLEN = 262144;

export class PcapWriter {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;
  frames = 0;

  constructor() {
    const h = new Uint8Array(24);
    const v = new DataView(h.buffer);
    v.setUint32(0, 0xa1b23c4d, true);
    v.setUint16(4, 2, true);
    v.setUint16(6, 4, true);
    v.setUint32(16, SNAPLEN, true);
    v.setUint32(20, LINKTYPE_ETHERNET, true);
    this.push(h);
  }

  private push(b: Uint8Array): void {
    this.chunks.push(b);
    this.size += b.length;
  }

  /** Appends one frame seen at `timeNs` (copied). */
  record(frame: Uint8Array, timeNs: bigint): void {
    const h = new Uint8Array(16);
    const v = new DataView(h.buffer);
    const t = timeNs < 0n ? 0n : timeNs;
    v.setUint32(0, Number(t / 1_000_000_000n), true);
    v.setUint32(4, Number(t % 1_000_000_000n), true);
    const incl = Math.min(frame.length, SNAPLEN);
    v.setUint32(8, incl, true);
    v.setUint32(12, frame.length, true);
    this.push(h);
    this.push(frame.slice(0, incl));
    this.frames++;
  }

  /** The whole file so far. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** A device that records every frame it sends and receives, then passes it on. */
export class PcapDevice implements NetDevice {
  private readonly inner: NetDevice;
  private readonly pcap: PcapWriter;
  private readonly clock: Clock;

  constructor(inner: NetDevice, pcap: PcapWriter, clock: Clock) {
    this.inner = inner;
    this.pcap = pcap;
    this.clock = clock;
  }

  get mac(): Uint8Array {
    return this.inner.mac;
  }
  get mtu(): number {
    return this.inner.mtu;
  }

  get capabilities(): NetCapabilities {
    return this.inner.capabilities;
  }

  write(frame: Uint8Array, gsoSize?: number): DeviceResult {
    const r = this.inner.write(frame, gsoSize);
    if (r === 'ok') this.pcap.record(frame, this.clock.monotonicNs());
    return r;
  }

  read(into: Uint8Array, rx: RxInfo): number | 'again' | 'unspecified' {
    const n = this.inner.read(into, rx);
    if (typeof n === 'number') this.pcap.record(into.subarray(0, n), this.clock.monotonicNs());
    return n;
  }

  readyAtNs(): bigint | undefined {
    return this.inner.readyAtNs();
  }
}
