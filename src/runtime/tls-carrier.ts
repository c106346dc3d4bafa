/**
 * What node:tls needs of the stream under a TLSSocket that has no handle of its own, and no more: Node wraps such
 * a stream in its `JSStreamSocket`, which calls `pause`, `resume`, `cork`, `write(buf, cb)`, `uncork`, `end(cb)` and
 * `destroy`, listens for `data`, `end`, `error` and `close`, and reads `readable`, `writable`, `allowHalfOpen`,
 * `readableLength` and `readableObjectMode`. A full `stream.Duplex` (TcpDuplex) in that place costs a Readable and a
 * Writable state machine on every record each way; this is an EventEmitter over the portable TcpStream.
 *
 * The bytes of `data` are the TCP layer's, borrowed: `JSStream.readBuffer` copies them into TLS at once, so no copy is
 * made here. Writes are gathered while corked (Node writes a record flight that way) and go as one TCP write; a short
 * TCP write keeps the rest until the stream drains, and the callbacks run when every byte was taken.
 */
import { EventEmitter } from 'node:events';
import { letGo, peerError } from './duplex.ts';
import type { TcpStream } from './types.ts';

type Done = (e?: Error | null) => void;

export class TlsCarrier extends EventEmitter {
  readonly allowHalfOpen = true;
  readonly readableLength = 0;
  readonly readableObjectMode = false;
  readable = true;
  writable = true;
  private readonly tcp: TcpStream;
  private corked = 0;
  /** Chunks written while corked, and the bytes a short TCP write left, with the callbacks waiting on them. */
  private held: Uint8Array[] = [];
  private rest: Uint8Array | undefined;
  private waiting: Done[] = [];
  private ending: Done | undefined;
  private closed = false;

  constructor(tcp: TcpStream) {
    super();
    this.tcp = tcp;
    // Nagle off, as for TcpDuplex: a record written in two parts must not wait for the peer's delayed ACK.
    tcp.setNoDelay?.(true);
    tcp.onData = (d) => void this.emit('data', d);
    tcp.onEnd = () => {
      this.readable = false;
      this.emit('end');
    };
    tcp.onDrain = () => this.flush();
    tcp.onClose = (error) => {
      if (this.closed) return;
      this.closed = true;
      this.readable = this.writable = false;
      const e = error ? peerError(error) : undefined;
      this.fail(e ?? new Error('write after the TCP connection closed'));
      if (e) this.emit('error', e);
      this.emit('close');
    };
  }

  pause(): this {
    this.tcp.pause();
    return this;
  }

  resume(): this {
    this.tcp.resume();
    return this;
  }

  cork(): void {
    this.corked++;
  }

  uncork(): void {
    if (this.corked > 0 && --this.corked === 0) this.flush();
  }

  write(chunk: Uint8Array, cb?: Done): boolean {
    if (this.closed || !this.writable) {
      const e = new Error('write after the TCP connection closed');
      if (cb) queueMicrotask(() => cb(e));
      return false;
    }
    this.held.push(chunk);
    if (cb) this.waiting.push(cb);
    if (this.corked === 0) this.flush();
    return this.rest === undefined;
  }

  end(cb?: Done): this {
    if (this.closed || !this.writable) {
      if (cb) queueMicrotask(() => cb());
      return this;
    }
    this.writable = false;
    this.ending = cb ?? (() => {});
    this.flush();
    return this;
  }

  /**
   * Node destroys the stream when the TLS socket closes, with no error also after a clean end both ways: then the
   * TCP connection ends with a FIN (as closing a host socket does, and as TcpDuplex does); with an error it is reset.
   */
  destroy(err?: Error | null): this {
    if (this.closed) return this;
    this.closed = true;
    this.readable = this.writable = false;
    if (err) this.tcp.destroy();
    else letGo(this.tcp);
    this.fail(new Error('the TLS stream was destroyed'));
    queueMicrotask(() => this.emit('close'));
    return this;
  }

  /** Writes what is held; when all of it is taken, runs the callbacks, then the FIN if `end` asked for one. */
  private flush(): void {
    if (this.closed) return;
    if (this.rest === undefined && this.held.length > 0) {
      this.rest = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held);
      this.held = [];
    }
    while (this.rest !== undefined) {
      let n: number;
      try {
        n = this.tcp.write(this.rest);
      } catch (e) {
        this.fail(e as Error);
        return;
      }
      if (n < this.rest.length) {
        this.rest = this.rest.subarray(n);
        return; // The rest goes on drain.
      }
      this.rest = undefined;
      if (this.held.length > 0 && this.corked === 0) {
        this.rest = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held);
        this.held = [];
      }
    }
    if (this.held.length > 0) return; // Still corked.
    const done = this.waiting;
    this.waiting = [];
    for (const cb of done) cb();
    if (this.ending) {
      const cb = this.ending;
      this.ending = undefined;
      this.tcp.end();
      cb();
    }
  }

  /** Fails every write still waiting (the connection is gone). */
  private fail(e: Error): void {
    this.held = [];
    this.rest = undefined;
    const done = this.waiting;
    this.waiting = [];
    for (const cb of done) cb(e);
    const end = this.ending;
    this.ending = undefined;
    end?.(e);
  }
}
