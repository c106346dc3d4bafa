/**
 * Joins a Fata TCP connection (the guest's side, in the gateway's stack) to
 * a host socket, both ways, with back-pressure: a host socket that will not
 * take more pauses the Fata connection (its window closes), a Fata send
 * buffer that is full pauses the host socket. A FIN either way becomes a
 * half-close the other way; a reset or an error either way resets the other.
 * `kick` is called after every host event that queued work in the stack,
 * so that the gateway's loop sends it and re-arms its timers.
 */
import type { Socket } from 'node:net';
import type { TcpConnection } from '../net/tcp/index.ts';

/** Bytes queued for the host socket beyond which the guest's connection is paused (its window closes). */
const HOST_QUEUE = 1 << 20;

export function splice(c: TcpConnection, sock: Socket, kick: () => void, onDone: () => void): void {
  let pending: Uint8Array | undefined;
  let hostEnded = false;
  let finished = false;
  const done = (): void => {
    if (finished) return;
    finished = true;
    onDone();
  };
  const open = (): boolean => c.state !== 'CLOSED' && c.state !== 'TIME-WAIT';
  /** Host bytes into the connection; true when all of them were taken. */
  const push = (b: Uint8Array): boolean => {
    if (!open()) return true;
    const n = c.write(b);
    if (n < b.length) pending = b.subarray(n);
    return n === b.length;
  };
  const endIfDrained = (): void => {
    if (hostEnded && !pending && open()) c.shutdown();
  };
  sock.on('data', (b: Buffer) => {
    if (!push(b)) sock.pause();
    kick();
  });
  sock.on('end', () => {
    hostEnded = true;
    endIfDrained();
    kick();
  });
  sock.on('error', () => {
    if (open()) c.abort();
    kick();
    done();
  });
  sock.on('close', () => {
    if (!hostEnded && open()) c.abort();
    kick();
    done();
  });
  sock.on('drain', () => {
    c.resume();
    kick();
  });
  c.events = {
    onData: (d) => {
      // Copied: the stack's buffer is borrowed for the call only.
      // Node's socket says 'full' past 16 KB, a quarter of one segment here: pausing at that would
      // close the window on every segment. The guest waits only once a megabyte is queued for the host.
      sock.write(Buffer.from(d));
      if (sock.writableLength > HOST_QUEUE) c.pause();
    },
    onEnd: () => {
      sock.end();
    },
    onDrain: () => {
      if (pending) {
        const p = pending;
        pending = undefined;
        if (!push(p)) return;
      }
      sock.resume();
      endIfDrained();
    },
    onClose: (error) => {
      if (error) sock.destroy();
      else sock.end();
      done();
    },
  };
}
