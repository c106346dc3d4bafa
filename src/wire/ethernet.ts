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

/** A checked view of one frame. After `check` returns 'ok' no accessor can read out of bounds. */
export class EthernetView {
  buf: Uint8Array = EMPTY;
  /** Offset of the payload: 14, or 18 when tagged. */
  headerLen = ETHERNET_HEADER_LEN;

  static checked(buf: Uint8Array): EthernetView | EthernetError {
    const v = new EthernetView();
    const r = v.check(buf);
    return r === 'ok' ? v : r;
  }

  check(buf: Uint8Array): 'ok' | EthernetError {
    this.buf = buf;
    if (buf.length < ETHERNET_HEADER_LEN) return 'truncated';
    const t = u16(buf, TYPE);
    if (t === ETHERTYPE_VLAN || t === ETHERTYPE_QINQ) {
      if (buf.length < ETHERNET_HEADER_LEN + VLAN_TAG_LEN) return 'truncated';
      this.headerLen = ETHERNET_HEADER_LEN + VLAN_TAG_LEN;
    } else {
      this.headerLen = ETHERNET_HEADER_LEN;
    }
    return 'ok';
  }

  get tagged(): boolean { return this.headerLen !== ETHERNET_HEADER_LEN; }
  get ethertype(): number { return u16(this.buf, this.headerLen - 2); }
  /** VLAN id, or -1 when untagged. */
  get vid(): number { return this.tagged ? u16(this.buf, 14) & 0x0fff : -1; }
  get pcp(): number { return this.tagged ? this.buf[14]! >>> 5 : 0; }
  get dei(): boolean { return this.tagged && (this.buf[14]! & 0x10) !== 0; }

  dstEquals(mac: MacAddress): boolean { return macEquals(this.buf, DST, mac); }
  dstIsBroadcast(): boolean {
    const b = this.buf;
    return (b[0]! & b[1]! & b[2]! & b[3]! & b[4]! & b[5]!) === 0xff;
  }
  /** Group bit set (multicast or broadcast). */
  dstIsGroup(): boolean { return (this.buf[DST]! & 1) !== 0; }
  srcIsGroup(): boolean { return (this.buf[SRC]! & 1) !== 0; }
  /** Copies the source address into `into` at `at`. */
  copySrc(into: Uint8Array, at = 0): void { into.set(this.buf.subarray(SRC, SRC + 6), at); }
  copyDst(into: Uint8Array, at = 0): void { into.set(this.buf.subarray(DST, DST + 6), at); }
  /** 48-bit source address as a number (for tables keyed by MAC without allocation). */
  srcKey(): number { return macKey(this.buf, SRC); }
  dstKey(): number { return macKey(this.buf, DST); }
  /** The payload, borrowed from the frame. */
  payload(): Uint8Array { return this.buf.subarray(this.headerLen); }
}

/** A MAC as a 48-bit integer, exact in a double. */
export function macKey(b: Uint8Array, at = 0): number {
  return (b[at]! * 0x10000000000) + (b[at + 1]! * 0x100000000) +
    (((b[at + 2]! << 24) | (b[at + 3]! << 16) | (b[at + 4]! << 8) | b[at + 5]!) >>> 0);
}

export function parseEthernet(v: EthernetView): EthernetRepr {
  const dst = v.buf.slice(DST, DST + 6);
  const src = v.buf.slice(SRC, SRC + 6);
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
