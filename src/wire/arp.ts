/**
 * ARP for IPv4 over Ethernet (RFC 826). Only hardware type 1 / protocol
 * 0x0800 with 6- and 4-byte addresses is accepted; anything else is
 * 'unsupported', never an exception.
 */
import type { MacAddress } from '../devices/index.ts';
import { EMPTY, put16, put32, u16, u32 } from './bytes.ts';

export const ARP_LEN = 28;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

const HTYPE = 0,
  PTYPE = 2,
  HLEN = 4,
  PLEN = 5,
  OPER = 6,
  SHA = 8,
  SPA = 14,
  THA = 18,
  TPA = 24;

export type ArpError = 'truncated' | 'unsupported';

export interface ArpRepr {
  readonly operation: number;
  readonly senderMac: MacAddress;
  readonly senderIp: number;
  readonly targetMac: MacAddress;
  readonly targetIp: number;
}

/** A checked view of an ARP packet at `buf[off..end)`. */
export class ArpView {
  buf: Uint8Array = EMPTY;
  off = 0;

  static checked(buf: Uint8Array): ArpView | ArpError {
    const v = new ArpView();
    const r = v.check(buf);
    return r === 'ok' ? v : r;
  }

  check(buf: Uint8Array, off = 0, end = buf.length): 'ok' | ArpError {
    this.buf = buf;
    this.off = off;
    if (end - off < ARP_LEN) return 'truncated';
    if (u16(buf, off + HTYPE) !== 1 || u16(buf, off + PTYPE) !== 0x0800 || buf[off + HLEN] !== 6 || buf[off + PLEN] !== 4) {
      return 'unsupported';
    }
    return 'ok';
  }

  get operation(): number {
    return u16(this.buf, this.off + OPER);
  }
  get senderIp(): number {
    return u32(this.buf, this.off + SPA);
  }
  get targetIp(): number {
    return u32(this.buf, this.off + TPA);
  }
  /** Offset of the sender hardware address in `buf` (compare without allocating). */
  get senderMacAt(): number {
    return this.off + SHA;
  }
  senderMac(): Uint8Array {
    return this.buf.subarray(this.off + SHA, this.off + SHA + 6);
  }
  targetMac(): Uint8Array {
    return this.buf.subarray(this.off + THA, this.off + THA + 6);
  }
}

export function parseArp(v: ArpView): ArpRepr {
  return {
    operation: v.operation,
    senderMac: v.senderMac().slice(),
    senderIp: v.senderIp,
    targetMac: v.targetMac().slice(),
    targetIp: v.targetIp,
  };
}

/** Writes the 28-byte ARP packet at `into[0..28)`; returns 28. */
export function emitArp(r: ArpRepr, into: Uint8Array): number {
  put16(into, HTYPE, 1);
  put16(into, PTYPE, 0x0800);
  into[HLEN] = 6;
  into[PLEN] = 4;
  put16(into, OPER, r.operation);
  into.set(r.senderMac.subarray(0, 6), SHA);
  put32(into, SPA, r.senderIp);
  into.set(r.targetMac.subarray(0, 6), THA);
  put32(into, TPA, r.targetIp);
  return ARP_LEN;
}
