/**
 * Big-endian field access on plain `Uint8Array`s, shared by every wire view.
 * Callers have bounds-checked the range already (views are checked once on
 * construction), so these do no checks of their own.
 */

export function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

export function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

export function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

export function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/** True when `b[at..at+6)` equals `mac`. */
export function macEquals(b: Uint8Array, at: number, mac: Uint8Array): boolean {
  return (
    b[at] === mac[0] && b[at + 1] === mac[1] && b[at + 2] === mac[2] && b[at + 3] === mac[3] && b[at + 4] === mac[4] && b[at + 5] === mac[5]
  );
}

export const EMPTY: Uint8Array = new Uint8Array(0);
export const BROADCAST_MAC: Uint8Array = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
export const ZERO_MAC: Uint8Array = new Uint8Array(6);
