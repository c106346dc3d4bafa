/**
 * DNS over TCP (RFC 1035 §4.2.2, RFC 7766): each message behind a two-octet
 * length. `DnsTcpSession` frames a byte stream into messages, answers them
 * in order (several per connection, pipelined), honours back-pressure and
 * closes after `maxQueries` or when the caller's idle sweep says so.
 * It runs on any `ByteStream`, so it is free of any one stack.
 */
import type { ByteStream } from '../stream.ts';

/** Appends a length prefix. */
export function frameTcp(msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(msg.length + 2);
  out[0] = msg.length >>> 8;
  out[1] = msg.length & 0xff;
  out.set(msg, 2);
  return out;
}

/** Splits length-prefixed messages out of a byte stream. */
export class TcpDeframer {
  private buf = new Uint8Array(0);
  push(data: Uint8Array): Uint8Array[] {
    let joined = data;
    if (this.buf.length) {
      joined = new Uint8Array(this.buf.length + data.length);
      joined.set(this.buf);
      joined.set(data, this.buf.length);
    }
    const out: Uint8Array[] = [];
    let at = 0;
    while (joined.length - at >= 2) {
      const len = (joined[at]! << 8) | joined[at + 1]!;
      if (joined.length - at - 2 < len) break;
      out.push(joined.slice(at + 2, at + 2 + len));
      at += 2 + len;
    }
    this.buf = joined.slice(at);
    return out;
  }
  get pending(): number {
    return this.buf.length;
  }
}

export interface DnsTcpOptions {
  /** Close after this many queries on one connection (default 100). */
  readonly maxQueries?: number;
  /** Pause reading while more than this much output waits (default 256 KiB). */
  readonly highWater?: number;
  /** A clock in ms, for idle tracking. */
  readonly now?: () => number;
}

/** The TCP sessions of one server, closed when idle longer than `idleMs` (RFC 7766 §6.2.3). */
export class DnsTcpSessions {
  private readonly all = new Set<DnsTcpSession>();
  private readonly o: DnsTcpOptions & { readonly idleMs: number; readonly now: () => number };
  constructor(o: DnsTcpOptions & { readonly idleMs: number; readonly now: () => number }) {
    this.o = o;
  }
  open(s: ByteStream, handle: (msg: Uint8Array) => Uint8Array[] | Promise<Uint8Array[]>): DnsTcpSession {
    const t = new DnsTcpSession(s, handle, this.o);
    this.all.add(t);
    return t;
  }
  get size(): number {
    return this.all.size;
  }
  /** Forgets closed sessions and closes idle ones; returns how many it closed. */
  sweep(): number {
    const now = this.o.now();
    let n = 0;
    for (const t of this.all) {
      if (t.closed) {
        this.all.delete(t);
        continue;
      }
      if (now - t.lastActive > this.o.idleMs) {
        t.close();
        this.all.delete(t);
        n++;
      }
    }
    return n;
  }
}

export class DnsTcpSession {
  private readonly s: ByteStream;
  private readonly handle: (msg: Uint8Array) => Uint8Array[] | Promise<Uint8Array[]>;
  /** Answers still being worked out (a resolver's); they go out in query order. */
  private inflight = 0;
  private chain: Promise<void> = Promise.resolve();
  private readonly deframer = new TcpDeframer();
  private readonly out: Uint8Array[] = [];
  private outBytes = 0;
  private queries = 0;
  private ending = false;
  private readonly maxQueries: number;
  private readonly highWater: number;
  closed = false;
  /** When a query last arrived (the owner's clock, ms); an idle sweep compares it. */
  lastActive = 0;
  private readonly now: (() => number) | undefined;

  constructor(s: ByteStream, handle: (msg: Uint8Array) => Uint8Array[] | Promise<Uint8Array[]>, o: DnsTcpOptions = {}) {
    this.s = s;
    this.handle = handle;
    this.maxQueries = o.maxQueries ?? 100;
    this.highWater = o.highWater ?? 256 * 1024;
    this.now = o.now;
    this.lastActive = o.now?.() ?? 0;
    s.onData = (d) => this.data(d);
    s.onEnd = () => {
      this.ending = true;
      this.flush();
    };
    s.onDrain = () => this.flush();
    s.onClose = () => {
      this.closed = true;
    };
  }

  private data(d: Uint8Array): void {
    if (this.ending || this.closed) return;
    if (this.now) this.lastActive = this.now();
    for (const m of this.deframer.push(d)) {
      const r = this.handle(m);
      if (Array.isArray(r) && this.inflight === 0) {
        this.enqueue(r);
      } else {
        this.inflight++;
        this.chain = this.chain.then(async () => {
          const got = await r;
          this.inflight--;
          if (!this.closed) {
            this.enqueue(got);
            this.flush();
          }
        });
      }
      if (++this.queries >= this.maxQueries) {
        this.ending = true;
        break;
      }
    }
    // A length prefix says how much is coming; a message can be 65535 bytes at most, so nothing larger ever waits.
    if (this.outBytes > this.highWater) this.s.pause();
    this.flush();
  }

  private enqueue(rs: readonly Uint8Array[]): void {
    for (const r of rs) {
      this.out.push(frameTcp(r));
      this.outBytes += r.length + 2;
    }
  }

  private flush(): void {
    while (this.out.length) {
      const head = this.out[0]!;
      const n = this.s.write(head);
      this.outBytes -= n;
      if (n < head.length) {
        this.out[0] = head.subarray(n);
        return;
      }
      this.out.shift();
    }
    this.s.resume();
    if (this.ending && this.inflight === 0 && !this.closed) {
      this.closed = true;
      this.s.end();
    }
  }

  /** Closes an idle connection (RFC 7766 §6.2.3: servers may close idle ones). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.s.end();
  }
}
