/**
 * TCP echo (RFC 862), discard (RFC 863) and chargen (RFC 864) on net device
 * `service`: the services interop tests and benchmarks drive. Each honours
 * back-pressure: echo pauses its reader while its writes are short, chargen
 * writes until the window fills and resumes on drain. Discard logs each
 * connection's byte count and SHA-256, so a test can check what arrived.
 */
import { createHash } from 'node:crypto';
import type { Main, TcpStream } from 'fata';
import type config from './config.ts';

/** RFC 864's pattern: 72-character lines of the 95 printable characters, rotating by one per line. */
export function chargenBlock(lines: number, start = 0): Uint8Array {
  const out = new Uint8Array(lines * 74);
  for (let l = 0; l < lines; l++) {
    for (let i = 0; i < 72; i++) out[l * 74 + i] = 32 + ((start + l + i) % 95);
    out[l * 74 + 72] = 13;
    out[l * 74 + 73] = 10;
  }
  return out;
}

export const main: Main<typeof config> = async (devices, params, ctx) => {
  const net = devices.service;
  await net.tcpListen(params['echo-port'], (s) => {
    let pending: Uint8Array | undefined;
    const flush = (): void => {
      if (!pending) return;
      const n = s.write(pending);
      pending = n < pending.length ? pending.slice(n) : undefined;
      if (pending) s.pause();
      else s.resume();
    };
    s.onData = (d) => {
      if (pending) {
        // Still waiting for room: keep the order (the reader is paused, but data already queued may come).
        const joined = new Uint8Array(pending.length + d.length);
        joined.set(pending);
        joined.set(d, pending.length);
        pending = joined;
        return;
      }
      const n = s.write(d);
      if (n < d.length) {
        pending = d.slice(n);
        s.pause();
      }
    };
    s.onDrain = flush;
    s.onEnd = () => {
      if (!pending) s.end();
      else
        s.onDrain = () => {
          flush();
          if (!pending) s.end();
        };
    };
  });
  await net.tcpListen(params['discard-port'], (s) => {
    const hash = createHash('sha256');
    let bytes = 0;
    s.onData = (d) => {
      hash.update(d);
      bytes += d.length;
    };
    s.onEnd = () => {
      ctx.log.info('discarded', { remote: `${s.remote}:${s.remotePort}`, bytes, sha256: hash.digest('hex') });
      s.end();
    };
  });
  // 95 lines is one full rotation: the stream repeats this block forever.
  const block = chargenBlock(95);
  await net.tcpListen(params['chargen-port'], (s: TcpStream) => {
    let at = 0,
      open = true;
    const pump = (): void => {
      while (open) {
        const n = s.write(block.subarray(at));
        at = (at + n) % block.length;
        if (n === 0) return;
      }
    };
    s.onDrain = pump;
    s.onEnd = () => {
      open = false;
      s.end();
    };
    s.onClose = () => {
      open = false;
    };
    pump();
  });
  ctx.log.info('serving', {
    mode: net.mode,
    ipv4: net.ipv4 ?? 'host',
    echo: params['echo-port'],
    discard: params['discard-port'],
    chargen: params['chargen-port'],
  });
  await new Promise<never>(() => {});
};
