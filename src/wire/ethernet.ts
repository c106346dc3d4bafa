/**
 * Ethernet II frames (IEEE 802.3 §3.2.6 with DIX type field), with one
 * 802.1Q / 802.1ad tag parsed. A view is re-pointed at each frame with
 * `check`, so the receive path allocates nothing.
 */
import type { MacAddress } from '../devices/index.ts';
import { EMPTY, macEquals, put16, u16 } from './bytes.ts';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_QINQ = 0x88a8;
export const ETHERTYPE_IPV6 = 0x86dd;

/** Field offsets (untagged). */
const DST = 0;
const SRC = 6;
const TYPE = 12;
export const ETHERNET_HEADER_LEN = 14;
export const VLAN_TAG_LEN = 4;

export type EthernetError = 'truncated';

export interface VlanTag {
  /** Priority code point, 0-7. */
  readonly pcp: number;
  /** Drop eligible indicator. */
  readonly dei: boolean;
  /** VLAN identifier, 0-4095. */
  readonly vid: number;
}

export interface EthernetRepr {
  readonly dst: MacAddress;
  readonly src: MacAddress;
  /** The payload's type (the inner one when tagged). */
  readonly ethertype: number;
  readonly vlan?: VlanTag;
}

/**
 * A checked view of one frame at `buf[off..end)`. After `check` returns 'ok'
 * no accessor can read out of bounds.
 */
export class EthernetView {
  buf: Uint8Array = EMPTY;
  off = 0;
  end = 0;
  /** Length of the header: 14, or 18 when tagged. */
  headerLen = ETHERNET_HEADER_LEN;

  static checked(buf: Uint8Array): EthernetView | EthernetError {
    const v = new EthernetView();
    const r = v.check(buf);
    return r === 'ok' ? v : r;
  }

  check(buf: Uint8Array, off = 0, end = buf.length): 'ok' | EthernetError {
    this.buf = buf;
    this.off = off;
    this.end = end;
    const len = end - off;
    if (len < ETHERNET_HEADER_LEN) return 'truncated';
    const t = u16(buf, off + TYPE);
    if (t === ETHERTYPE_VLAN || t === ETHERTYPE_QINQ) {
      if (len < ETHERNET_HEADER_LEN + VLAN_TAG_LEN) return 'truncated';
      this.headerLen = ETHERNET_HEADER_LEN + VLAN_TAG_LEN;
    } else {
      this.headerLen = ETHERNET_HEADER_LEN;
    }
    return 'ok';
  }

  get tagged(): boolean {
    return this.headerLen !== ETHERNET_HEADER_LEN;
  }
  get ethertype(): number {
    return u16(this.buf, this.off + this.headerLen - 2);
  }
  /** VLAN id, or -1 when untagged. */
  get vid(): number {
    return this.tagged ? u16(this.buf, this.off + 14) & 0x0fff : -1;
  }
  get pcp(): number {
    return this.tagged ? this.buf[this.off + 14]! >>> 5 : 0;
  }
  get dei(): boolean {
    return this.tagged && (this.buf[this.off + 14]! & 0x10) !== 0;
  }

  dstEquals(mac: MacAddress): boolean {
    return macEquals(this.buf, this.off + DST, mac);
  }
  dstIsBroadcast(): boolean {
    const b = this.buf,
      o = this.off;
    return (b[o]! & b[o + 1]! & b[o + 2]! & b[o + 3]! & b[o + 4]! & b[o + 5]!) === 0xff;
  }
  /** Group bit set (multicast or broadcast). */
  dstIsGroup(): boolean {
    return (this.buf[this.off + DST]! & 1) !== 0;
  }
  srcIsGroup(): boolean {
    return (this.buf[this.off + SRC]! & 1) !== 0;
  }
  /** 48-bit addresses as numbers (for tables keyed by MAC without allocation). */
  srcKey(): number {
    return macKey(this.buf, this.off + SRC);
  }
  dstKey(): number {
    return macKey(this.buf, this.off + DST);
  }
  /** Where the payload starts in `buf`. */
  get payloadOff(): number {
    return this.off + this.headerLen;
  }
  /** The payload as a new view of the frame's bytes (allocates; the stack uses the offsets). */
  payload(): Uint8Array {
    return this.buf.subarray(this.off + this.headerLen, this.end);
  }
}

/** A MAC as a 48-bit integer, exact in a double. */
export function macKey(b: Uint8Array, at = 0): number {
  return (
    b[at]! * 0x10000000000 + b[at + 1]! * 0x100000000 + (((b[at + 2]! << 24) | (b[at + 3]! << 16) | (b[at + 4]! << 8) | b[at + 5]!) >>> 0)
  );
}

export function parseEthernet(v: EthernetView): EthernetRepr {
  const dst = v.buf.slice(v.off + DST, v.off + DST + 6);
  const src = v.buf.slice(v.off + SRC, v.off + SRC + 6);
  if (!v.tagged) return { dst, src, ethertype: v.ethertype };
  return { dst, src, ethertype: v.ethertype, vlan: { pcp: v.pcp, dei: v.dei, vid: v.vid } };
}

export function ethernetHeaderLen(r: EthernetRepr): number {
  return r.vlan ? ETHERNET_HEADER_LEN + VLAN_TAG_LEN : ETHERNET_HEADER_LEN;
}

/** Writes the header into `into[0..headerLen)`; returns the header length. `into` must be large enough. */
export function emitEthernet(r: EthernetRepr, into: Uint8Array): number {
  into.set(r.dst.subarray(0, 6), DST);
  into.set(r.src.subarray(0, 6), SRC);
  if (r.vlan) {
    put16(into, TYPE, ETHERTYPE_VLAN);
    put16(into, 14, ((r.vlan.pcp & 7) << 13) | (r.vlan.dei ? 0x1000 : 0) | (r.vlan.vid & 0x0fff));
    put16(into, 16, r.ethertype);
    return ETHERNET_HEADER_LEN + VLAN_TAG_LEN;
  }
  put16(into, TYPE, r.ethertype);
  return ETHERNET_HEADER_LEN;
}
