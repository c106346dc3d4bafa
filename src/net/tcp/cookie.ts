/**
 * SYN cookies (RFC 4987 §3.6): when a listener's backlog is full, the
 * SYN-ACK's initial sequence number carries everything needed to rebuild
 * the connection from the returning ACK, so a SYN flood holds no state.
 *
 *   ISS = t (5 bits: 64 s slot) | MSS index (2 bits) | keyed hash (25 bits)
 *
 * The hash is SipHash-2-4 over the 4-tuple and the slot, keyed with 128
 * random bits from the stack's Random, so that cookies cannot be forged
 * without the key. A cookie is honoured for two slots (64-128 s).
 * Options the SYN carried other than MSS (window scale, timestamps, SACK)
 * are not remembered: such connections run without them, as in Linux
 * without timestamp-encoded cookies.
 */
import type { Random } from '../../devices/index.ts';
import { DEFAULT_MSS } from './constants.ts';

export const COOKIE_MSS = [536, 1220, 1440, 1460] as const;
const SLOT_NS = 64_000_000_000n;

/** SipHash-2-4 of four 32-bit words, returning the low 32 bits (BigInt lanes: a few µs, on the flood path only). */
function siphash(k: Uint32Array, w0: number, w1: number, w2: number, w3: number): number {
  let v0 = BigInt.asUintN(64, ((BigInt(k[1]!) << 32n) | BigInt(k[0]!)) ^ 0x736f6d6570736575n);
  let v1 = BigInt.asUintN(64, ((BigInt(k[3]!) << 32n) | BigInt(k[2]!)) ^ 0x646f72616e646f6dn);
  let v2 = BigInt.asUintN(64, ((BigInt(k[1]!) << 32n) | BigInt(k[0]!)) ^ 0x6c7967656e657261n);
  let v3 = BigInt.asUintN(64, ((BigInt(k[3]!) << 32n) | BigInt(k[2]!)) ^ 0x7465646279746573n);
  const rotl = (x: bigint, b: bigint): bigint => BigInt.asUintN(64, (x << b) | (x >> (64n - b)));
  const round = (): void => {
    v0 = BigInt.asUintN(64, v0 + v1);
    v1 = rotl(v1, 13n);
    v1 ^= v0;
    v0 = rotl(v0, 32n);
    v2 = BigInt.asUintN(64, v2 + v3);
    v3 = rotl(v3, 16n);
    v3 ^= v2;
    v0 = BigInt.asUintN(64, v0 + v3);
    v3 = rotl(v3, 21n);
    v3 ^= v0;
    v2 = BigInt.asUintN(64, v2 + v1);
    v1 = rotl(v1, 17n);
    v1 ^= v2;
    v2 = rotl(v2, 32n);
  };
  const m = [(BigInt(w1 >>> 0) << 32n) | BigInt(w0 >>> 0), (BigInt(w3 >>> 0) << 32n) | BigInt(w2 >>> 0), 16n << 56n];
  for (const mi of m) {
    v3 ^= mi;
    round();
    round();
    v0 ^= mi;
  }
  v2 ^= 0xffn;
  round();
  round();
  round();
  round();
  return Number(BigInt.asUintN(32, v0 ^ v1 ^ v2 ^ v3));
}

export class SynCookies {
  private readonly key = new Uint32Array(4);

  constructor(random: Random) {
    for (let i = 0; i < 4; i++) this.key[i] = random.u32();
  }

  private slot(nowNs: bigint): number {
    return Number((nowNs / SLOT_NS) & 31n);
  }

  private hash(slot: number, la: number, lp: number, ra: number, rp: number): number {
    return siphash(this.key, la, ra, ((lp << 16) | rp) >>> 0, slot) & 0x1ffffff;
  }

  /** The ISS for a SYN from ra:rp to la:lp advertising `peerMss` (0 when absent). */
  make(nowNs: bigint, la: number, lp: number, ra: number, rp: number, peerMss: number): number {
    let idx = 0;
    for (let i = COOKIE_MSS.length - 1; i >= 0; i--)
      if (COOKIE_MSS[i]! <= (peerMss || DEFAULT_MSS)) {
        idx = i;
        break;
      }
    const t = this.slot(nowNs);
    return ((t << 27) | (idx << 25) | this.hash(t, la, lp, ra, rp)) >>> 0;
  }

  /** Checks `iss` (the returning ACK's number minus one); returns the MSS it encodes, or undefined. */
  check(nowNs: bigint, iss: number, la: number, lp: number, ra: number, rp: number): number | undefined {
    const t = iss >>> 27;
    const now = this.slot(nowNs);
    if (t !== now && t !== ((now + 31) & 31)) return undefined; // Older than two slots.
    if ((iss & 0x1ffffff) !== this.hash(t, la, lp, ra, rp)) return undefined;
    return COOKIE_MSS[(iss >>> 25) & 3];
  }
}
