/**
 * SHA-256 and randomness for the sealed engine without `node:crypto`.
 * Loading that module costs a fresh engine about 3.4 ms and 4 MiB of
 * resident memory (its JavaScript and the code pages it touches), which
 * was the largest single item of an spt boot after the engine's own
 * start, for two calls: hashing the image and filling the stack's
 * random pool. The engine already contains OpenSSL, and exports its
 * symbols for native addons; `SHA256` is called there through koffi, and
 * randomness comes from getrandom(2), which the seal allows. Where either
 * is missing (an engine built against a shared OpenSSL that does not put
 * `SHA256` in the global scope), `node:crypto` is the fallback.
 */
import { EINTR, koffi } from './libc.ts';

type Sha256 = (bytes: Uint8Array) => string;
type Fill = (into: Uint8Array) => void;

const hex = (b: Uint8Array): string => {
  let s = '';
  for (const x of b) s += (x < 16 ? '0' : '') + x.toString(16);
  return s;
};

function nativeSha256(): Sha256 | undefined {
  try {
    const self = koffi.load(null);
    const fn = self.func('uint8_t *SHA256(const uint8_t *d, unsigned long n, _Out_ uint8_t *md)');
    const md = new Uint8Array(32);
    return (bytes) => {
      fn(bytes, bytes.length, md);
      return hex(md);
    };
  } catch {
    return undefined;
  }
}

function nativeFill(): Fill | undefined {
  try {
    const getrandom = koffi.load('libc.so.6').func('long getrandom(_Out_ uint8_t *buf, unsigned long n, unsigned int flags)');
    return (into) => {
      // getrandom(2) returns at most 32 MiB per call, and fewer bytes when a signal interrupts a large read.
      for (let at = 0; at < into.length; ) {
        const n = Number(getrandom(at === 0 ? into : into.subarray(at), into.length - at, 0));
        if (n > 0) at += n;
        else if (koffi.errno() !== EINTR) throw new Error(`getrandom failed (errno ${koffi.errno()})`);
      }
    };
  } catch {
    return undefined;
  }
}

/** The SHA-256 of `bytes` as lowercase hex, from the engine's own OpenSSL. */
export const sha256Hex: Sha256 =
  nativeSha256() ?? ((bytes) => process.getBuiltinModule('node:crypto').createHash('sha256').update(bytes).digest('hex'));

/** Fills `into` with random bytes from the kernel (getrandom(2), blocking until the pool is ready). */
export const fillRandom: Fill = nativeFill() ?? ((into) => void process.getBuiltinModule('node:crypto').getRandomValues(into));
