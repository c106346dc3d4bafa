/**
 * The Internet checksum (RFC 1071) with the IPv4 pseudo-header and the
 * incremental update of RFC 1624. Pure functions over byte ranges; the sum is
 * carried unfolded in a JS number (exact up to 2^53, far beyond any packet),
 * so the inner loop does no carries and allocates nothing.
 */

/**
 * One's-complement sum of `buf[start..end)` as big-endian 16-bit words, added
 * to `initial`, not yet folded. An odd trailing byte is padded with zero
 * (RFC 1071 §4.1). Chain calls by passing the previous result as `initial`;
 * every range except the last must have even length.
 */
export function onesSum(buf: Uint8Array, start = 0, end = buf.length, initial = 0): number {
  let sum = initial;
  let i = start;
  // Eight bytes a turn: four 16-bit words, no carry handling in the loop.
  const end8 = end - ((end - start) & 7);
  for (; i < end8; i += 8) {
    sum +=
      ((buf[i]! << 8) | buf[i + 1]!) +
      ((buf[i + 2]! << 8) | buf[i + 3]!) +
      ((buf[i + 4]! << 8) | buf[i + 5]!) +
      ((buf[i + 6]! << 8) | buf[i + 7]!);
  }
  for (; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8;
  return sum;
}

/** Folds an unfolded sum to 16 bits with end-around carry. */
export function fold(sum: number): number {
  // Reduce the (up to 53-bit) number to 32 bits first without bit ops, which truncate.
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/** The finished checksum field value (one's complement of the folded sum). */
export function finish(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/** Checksum of a whole range: `finish(onesSum(...))`. Zero when verifying a correct packet. */
export function checksum(buf: Uint8Array, start = 0, end = buf.length, initial = 0): number {
  return finish(onesSum(buf, start, end, initial));
}

/**
 * Unfolded sum of the IPv4 pseudo-header (RFC 768, RFC 9293 §3.1):
 * source, destination, zero, protocol, upper-layer length.
 */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}

/**
 * RFC 1624 eqn. 3: the new checksum after one 16-bit word of the covered
 * data changes from `oldWord` to `newWord`: HC' = ~(~HC + ~m + m').
 */
export function updateChecksum(oldChecksum: number, oldWord: number, newWord: number): number {
  return finish((~oldChecksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff));
}

/** Same as `updateChecksum` for a 32-bit field (an IPv4 address): two words. */
export function updateChecksum32(oldChecksum: number, oldValue: number, newValue: number): number {
  return finish(
    (~oldChecksum & 0xffff) + (~(oldValue >>> 16) & 0xffff) + (~oldValue & 0xffff) + ((newValue >>> 16) & 0xffff) + (newValue & 0xffff),
  );
}
