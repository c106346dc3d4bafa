/**
 * A `stream.Duplex` over a portable `TcpStream`, so Node libraries take
 * Fata's TCP unchanged: `httpServer.emit('connection', new TcpDuplex(s))`,
 * `new tls.TLSSocket(new TcpDuplex(s))`, or `http.request({ createConnection })`.
 * Back-pressure runs both ways: a full Node buffer pauses the TCP reader
 * (closing the window), a short TCP write holds the write callback until drain.
 */
import { Duplex } from 'node:stream';
import type { TcpStream } from './types.ts';

/** Node's error code for how a TCP connection failed: reset, refused, else it timed out. */
function errorCode(error: string): string {
  if (error === 'reset') return 'ECONNRESET';
  if (error === 'refused') return 'ECONNREFUSED';
  return 'ETIMEDOUT';
}

/**
 * The error for a connection the peer reset or that timed out, as Node's sockets give it (`code` ECONNRESET, …),
 * without a stack: it is the peer's doing, one per such connection (every client that ends with RST), and a stack
 * of our frames would only cost its formatting (through the image's source map) when Node's stream code reads it.
 */
/**
 * Lets go of a connection nothing reads any more (a Node stream destroyed without an error): what still arrives is
 * dropped. Left paused, a peer still sending would meet a shut window, its FIN would queue behind its data for ever,
 * and both ends would wait (FIN-WAIT-2 here, CLOSE-WAIT or LAST-ACK there) with their buffers full. Fata's TCP closes
 * (which also resets a peer that never finishes, after FIN-WAIT-2's timeout); a host socket resumes and ends.
 */
export function letGo(tcp: TcpStream): void {
  tcp.onData = undefined;
  if (tcp.close) tcp.close();
  else {
    tcp.resume();
    tcp.end();
  }
}

export function peerError(error: string): Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const e = Object.assign(new Error(`TCP connection ${error}`), { code: errorCode(error) });
  Error.stackTraceLimit = limit;
  return e;
}

export class TcpDuplex extends Duplex {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly remoteFamily = 'IPv4';
  private readonly tcp: TcpStream;
  private pendingWrite: { data: Uint8Array; cb: (e?: Error | null) => void } | undefined;
  private idleMs = 0;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private tcpClosed = false;

  constructor(tcp: TcpStream) {
    super({ allowHalfOpen: true });
    this.tcp = tcp;
    this.remoteAddress = tcp.remote;
    this.remotePort = tcp.remotePort;
    // Nagle off, as node:http's server sets for the sockets it accepts itself (its noDelay default):
    // a response written in two parts must not wait for the client's delayed ACK (40 ms a request).
    tcp.setNoDelay?.(true);
    tcp.onData = (d) => {
      this.touch();
      if (!this.push(Buffer.from(d))) tcp.pause(); // Copy: the TCP layer's bytes are borrowed.
    };
    tcp.onEnd = () => {
      this.push(null);
    };
    tcp.onDrain = () => this.flushWrite();
    tcp.onClose = (error) => {
      this.tcpClosed = true;
      this.clearIdle();
      if (error) this.destroy(peerError(error));
      else if (!this.destroyed) {
        this.push(null);
        this.destroy();
      }
    };
  }

  override _read(): void {
    this.tcp.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.writeChunk(chunk, cb);
  }

  private writeChunk(chunk: Uint8Array, cb: (e?: Error | null) => void): void {
    if (this.tcpClosed) {
      cb(new Error('write after the TCP connection closed'));
      return;
    }
    this.touch();
    this.pendingWrite = { data: chunk, cb };
    this.flushWrite();
  }

  /** Corked writes (node:http's head and body) go out as one TCP write, so one segment where they fit. */
  override _writev(chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void): void {
    this.writeChunk(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk)), cb);
  }

  private flushWrite(): void {
    const p = this.pendingWrite;
    if (!p) return;
    let n: number;
    try {
      n = this.tcp.write(p.data);
    } catch (e) {
      this.pendingWrite = undefined;
      p.cb(e as Error);
      return;
    }
    if (n < p.data.length) {
      p.data = p.data.subarray(n);
      return;
    } // The rest goes on drain.
    this.pendingWrite = undefined;
    p.cb();
  }

  override _final(cb: (e?: Error | null) => void): void {
    if (!this.tcpClosed) this.tcp.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.clearIdle();
    if (!this.tcpClosed) {
      this.tcpClosed = true;
      if (err) this.tcp.destroy();
      else letGo(this.tcp);
    }
    cb(err);
  }

  /** net.Socket's idle timeout: emits 'timeout' after `ms` without traffic (0 turns it off). */
  setTimeout(ms: number, cb?: () => void): this {
    this.idleMs = ms;
    if (cb) this.once('timeout', cb);
    this.touch();
    return this;
  }

  /** node:http's server calls this with true (its default): small responses then leave without waiting for an ACK. */
  setNoDelay(on = true): this {
    this.tcp.setNoDelay?.(on);
    return this;
  }
  setKeepAlive(): this {
    return this;
  }

  private touch(): void {
    this.clearIdle();
    if (this.idleMs > 0 && !this.tcpClosed) this.idleTimer = setTimeout(() => this.emit('timeout'), this.idleMs);
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}
