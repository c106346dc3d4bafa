/**
 * The byte-level mutator of `npm run fuzz`: seeded (the same seed, the same
 * inputs), with bit flips, byte sets, interesting values, inserts, deletes,
 * splices of another corpus entry and edits of 16-bit length fields.
 */

/** A small seeded generator (mulberry32): fast, and every run replays from its seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** 0 ≤ n < max. */
  below(max: number): number {
    return max <= 0 ? 0 : this.u32() % max;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x40, 0x20, 0x0d, 0x0a, 0x2e, 0x3a, 0x3b, 0x22, 0x5c, 0x28, 0xc0];

function edit16(b: Uint8Array, rng: Rng): Uint8Array {
  if (b.length < 2) return b;
  const at = rng.below(b.length - 1);
  const cur = (b[at]! << 8) | b[at + 1]!;
  const picks = [0, 0xffff, b.length, b.length - at, cur + 1, cur - 1, cur + 8, cur * 2, 0x8000, b.length + 1];
  const v = picks[rng.below(picks.length)]! & 0xffff;
  b[at] = v >>> 8;
  b[at + 1] = v & 0xff;
  return b;
}

function splice(b: Uint8Array, other: Uint8Array, rng: Rng): Uint8Array {
  const cut = rng.below(b.length + 1);
  const from = rng.below(other.length + 1);
  const len = rng.below(other.length - from + 1);
  const out = new Uint8Array(cut + len + (b.length - cut));
  out.set(b.subarray(0, cut));
  out.set(other.subarray(from, from + len), cut);
  out.set(b.subarray(cut), cut + len);
  return out;
}

/** One mutation of `b` (a copy; `b` is not changed). `pool` supplies splices. */
function mutateOnce(input: Uint8Array, pool: readonly Uint8Array[], rng: Rng, maxLen: number): Uint8Array {
  let b: Uint8Array = input.slice();
  const at = rng.below(b.length);
  switch (rng.below(9)) {
    case 0:
      if (b.length) b[at] = b[at]! ^ (1 << rng.below(8));
      break;
    case 1:
      if (b.length) b[at] = rng.u32() & 0xff;
      break;
    case 2:
      if (b.length) b[at] = INTERESTING[rng.below(INTERESTING.length)]!;
      break;
    case 3: {
      const n = 1 + rng.below(16);
      const out = new Uint8Array(b.length + n);
      out.set(b.subarray(0, at));
      out.set(rng.bytes(n), at);
      out.set(b.subarray(at), at + n);
      b = out;
      break;
    }
    case 4: {
      const n = 1 + rng.below(Math.min(32, b.length + 1));
      b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + n)]);
      break;
    }
    case 5:
      b = b.subarray(0, rng.below(b.length + 1)).slice();
      break;
    case 6:
      b = splice(b, pool[rng.below(pool.length)] ?? new Uint8Array(0), rng);
      break;
    case 7:
      b = edit16(b, rng);
      break;
    default: {
      // Repeat a chunk (repeated headers, options, records).
      const from = rng.below(b.length + 1);
      const n = rng.below(Math.min(64, b.length - from) + 1);
      b = splice(b, b.slice(from, from + n), rng);
    }
  }
  return b.length > maxLen ? b.subarray(0, maxLen).slice() : b;
}

/** The next input: mostly a corpus entry with 1-8 mutations, sometimes fresh random bytes. */
export function nextInput(pool: readonly Uint8Array[], rng: Rng, maxLen: number): Uint8Array {
  if (pool.length === 0 || rng.below(8) === 0) return rng.bytes(rng.below(Math.min(maxLen, 512) + 1));
  let b = pool[rng.below(pool.length)]!;
  const n = 1 + rng.below(rng.below(2) ? 2 : 8);
  for (let i = 0; i < n; i++) b = mutateOnce(b, pool, rng, maxLen);
  return b;
}

/** Splits an input into records, each preceded by a big-endian 16-bit length (the last takes what is left). */
export function records(b: Uint8Array, max = 64): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < b.length && out.length < max) {
    const n = at + 2 <= b.length ? (b[at]! << 8) | b[at + 1]! : 0;
    const end = Math.min(b.length, at + 2 + n);
    out.push(b.subarray(at + 2, end));
    at = end;
  }
  return out;
}

/** The inverse of `records`: joins parts with their length prefixes (for seeds). */
export function joinRecords(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + 2 + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out[at] = p.length >>> 8;
    out[at + 1] = p.length & 0xff;
    out.set(p, at + 2);
    at += 2 + p.length;
  }
  return out;
}
