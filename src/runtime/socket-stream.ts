/** A Node `net.Socket` (a host TCP socket, or a TLSSocket) behind the portable stream interface. */
import type { Socket } from 'node:net';
import type { TcpStream } from './types.ts';

/** Node buffers the writes; back-pressure shows as a 0-byte write until 'drain'. */
export function socketStream(
  sock: Socket,
  remote = sock.remoteAddress ?? '',
  remotePort = sock.remotePort ?? 0,
  canReset = true,
): TcpStream {
  let closed = false;
  const s: TcpStream = {
    remote,
    remotePort,
    onData: undefined,
    onEnd: undefined,
    onDrain: undefined,
    onClose: undefined,
    write: (d) => {
      if (closed) throw new Error('cannot write: the connection is closed');
      if (sock.writableNeedDrain) return 0; // Back-pressure: wait for onDrain.
      sock.write(d);
      return d.length;
    },
    end: () => {
      sock.end();
    },
    // A host TCP socket aborts with RST; a TLS socket over a Duplex has no TCP handle of its own to reset.
    destroy: () => {
      if (canReset) sock.resetAndDestroy();
      else sock.destroy();
    },
    pause: () => {
      sock.pause();
    },
    resume: () => {
      sock.resume();
    },
    setNoDelay: (on) => {
      sock.setNoDelay(on);
    },
  };
  sock.on('data', (d: Buffer) => s.onData?.(d));
  sock.on('end', () => s.onEnd?.());
  sock.on('drain', () => s.onDrain?.());
  sock.on('error', () => {});
  sock.on('close', (hadError: boolean) => {
    closed = true;
    s.onClose?.(hadError ? 'reset' : undefined);
  });
  return s;
}
