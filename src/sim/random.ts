/**
 * A seeded random source: xoshiro128** (Blackman and Vigna), seeded through
 * splitmix32. Fast, 2^128-1 period, and identical on every engine, which is
 * what makes a simulated network reproducible from its seed. Not for secrets.
 */
import type { Random } from '../devices/index.ts';

export class SeededRandom implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  fill(into: Uint8Array): void {
    for (let i = 0; i < into.length; i += 4) {
      const r = this.u32();
      into[i] = r & 0xff;
      if (i + 1 < into.length) into[i + 1] = (r >>> 8) & 0xff;
      if (i + 2 < into.length) into[i + 2] = (r >>> 16) & 0xff;
      if (i + 3 < into.length) into[i + 3] = r >>> 24;
    }
  }

  /** A derived, independent stream (for giving each component its own). */
  fork(): SeededRandom {
    return new SeededRandom(this.u32());
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
