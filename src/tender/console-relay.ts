/**
 * The sealed engine's console reaches the operator through its tender, never
 * directly: the engine writes into a pipe and the tender copies to its own
 * stdout and stderr with every control character made visible, so that a
 * service cannot drive the operator's terminal (titles, clears, colours,
 * OSC 52 clipboard writes) or rewrite earlier lines. The native tender
 * (src/tender/spt-tender.c, `sanitize`) applies the same rule, byte for byte.
 *
 * Rule: tab and newline pass; every other C0 control, DEL and the UTF-8 form
 * of every C1 control (U+0080–U+009F, `C2 80`–`C2 9F`) becomes `\xNN`
 * (C1: `\u00NN`). Everything else, including other UTF-8, passes unchanged.
 */
import { writeSync } from 'node:fs';
import { libc } from '../targets/node/libc.ts';

const HEX = '0123456789abcdef';
const plain = (b: number): boolean => b === 0x09 || b === 0x0a || (b >= 0x20 && b < 0x7f) || (b > 0x7f && b !== 0xc2);

export class ConsoleSanitizer {
  /** A 0xC2 that ended the previous chunk: whether it starts a C1 control depends on the next byte. */
  private pendingC2 = false;

  /** The visible form of `chunk`; an unfinished `C2` is held back for the next call (or `flush`). */
  push(chunk: Uint8Array): Uint8Array {
    if (!this.pendingC2 && chunk.every(plain)) return chunk; // The usual case: log lines.
    const out: number[] = [];
    const esc = (prefix: string, b: number): void => {
      for (const c of prefix) out.push(c.charCodeAt(0));
      out.push(HEX.charCodeAt(b >> 4), HEX.charCodeAt(b & 15));
    };
    let i = 0;
    if (this.pendingC2) {
      this.pendingC2 = false;
      if (chunk.length > 0 && chunk[0]! >= 0x80 && chunk[0]! <= 0x9f) {
        esc('\\u00', chunk[0]!);
        i = 1;
      } else out.push(0xc2);
    }
    for (; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (plain(b)) out.push(b);
      else if (b === 0xc2) {
        if (i + 1 === chunk.length) this.pendingC2 = true;
        else if (chunk[i + 1]! >= 0x80 && chunk[i + 1]! <= 0x9f) {
          esc('\\u00', chunk[i + 1]!);
          i++;
        } else out.push(b);
      } else esc('\\x', b);
    }
    return Uint8Array.from(out);
  }

  /** What `push` held back, at the end of the stream. */
  flush(): Uint8Array {
    const held = this.pendingC2 ? Uint8Array.of(0xc2) : new Uint8Array(0);
    this.pendingC2 = false;
    return held;
  }
}

/**
 * Writes all of `bytes` to descriptor `fd` with plain write(2): never through
 * `process.stdout`, which would make a pipe it shares with our own caller
 * non-blocking under the caller. Waits for room when the descriptor is
 * non-blocking already; drops the rest when the reader is gone.
 */
function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  const pfd = new Uint8Array(8);
  new DataView(pfd.buffer).setInt32(0, fd, true);
  pfd[4] = POLLOUT;
  while (done < bytes.length) {
    try {
      done += writeSync(fd, bytes, done, bytes.length - done);
    } catch (e) {
      if ((e as { code?: string }).code !== 'EAGAIN') return;
      libc.poll(pfd, 1, 1000);
    }
  }
}
const POLLOUT = 0x4;

/** Copies `from` to descriptor `to` through a sanitizer; resolves when `from` ends. `seen` gets each clean chunk as text. */
export function relayConsole(from: NodeJS.ReadableStream, to: number, seen?: (text: string) => void): Promise<void> {
  const s = new ConsoleSanitizer();
  return new Promise((resolve) => {
    from.on('data', (chunk: Buffer) => {
      const clean = s.push(chunk);
      seen?.(Buffer.from(clean.buffer, clean.byteOffset, clean.byteLength).toString('latin1'));
      writeAll(to, clean);
    });
    from.on('end', () => {
      writeAll(to, s.flush());
      resolve();
    });
    from.on('error', () => resolve());
  });
}
