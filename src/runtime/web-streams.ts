/**
 * Web Streams over a portable `TcpStream`: a `ReadableStream` of the bytes
 * received and a `WritableStream` that sends. Standard globals only (no
 * node:*), so the same code runs in Deno, Bun or a browser. Back-pressure:
 * a full readable queue pauses the TCP reader (the window closes); a short
 * TCP write holds the writer's promise until drain.
 * @module fata/web-streams
 */
import type { TcpStream } from './types.ts';

export interface TcpWebStreams {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
}

export function tcpWebStreams(s: TcpStream, highWaterMark = 65536): TcpWebStreams {
  const readable = new ReadableStream<Uint8Array>(
    {
      start(ctrl) {
        s.onData = (d) => {
          ctrl.enqueue(d.slice()); // Copy: the TCP layer's bytes are borrowed.
          if ((ctrl.desiredSize ?? 1) <= 0) s.pause();
        };
        s.onEnd = () => {
          try {
            ctrl.close();
          } catch {
            /* already closed */
          }
        };
        s.onClose = (e) => {
          if (e) {
            try {
              ctrl.error(new Error(`TCP connection ${e}`));
            } catch {
              /* already done */
            }
          }
        };
      },
      pull() {
        s.resume();
      },
      cancel() {
        s.destroy();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark }),
  );
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      return new Promise<void>((resolve, reject) => {
        let off = 0;
        const go = (): void => {
          try {
            off += s.write(chunk.subarray(off));
            if (off >= chunk.length) {
              s.onDrain = undefined;
              resolve();
            } else s.onDrain = go;
          } catch (e) {
            reject(e as Error);
          }
        };
        go();
      });
    },
    close() {
      s.end();
    },
    abort() {
      s.destroy();
    },
  });
  return { readable, writable };
}
