/** Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4): values are unsigned 32-bit numbers. */
export const seqAdd = (a: number, n: number): number => (a + n) >>> 0;
/** a - b as a signed 32-bit distance. */
export const seqDiff = (a: number, b: number): number => (a - b) | 0;
export const seqLt = (a: number, b: number): boolean => ((a - b) | 0) < 0;
export const seqLe = (a: number, b: number): boolean => ((a - b) | 0) <= 0;
export const seqGt = (a: number, b: number): boolean => ((a - b) | 0) > 0;
export const seqGe = (a: number, b: number): boolean => ((a - b) | 0) >= 0;
/** lo ≤ x < hi, modulo 2^32. */
export const seqInWindow = (x: number, lo: number, hi: number): boolean => seqLe(lo, x) && seqLt(x, hi);
