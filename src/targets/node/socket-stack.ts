/** `--net=socket` on the node target: a service's network device as the host's own UDP sockets. */
import { createSocket } from 'node:dgram';
import { connect, createServer, type Socket } from 'node:net';
import type { NetStack, TcpServer, TcpStream, UdpEndpoint, UdpMessage } from '../../runtime/types.ts';

/** A host TCP socket behind the portable stream interface (Node buffers; back-pressure via 'drain'). */
function stream(sock: Socket): TcpStream {
  let closed = false;
  const s: TcpStream = {
    remote: sock.remoteAddress ?? '', remotePort: sock.remotePort ?? 0,
    onData: undefined, onEnd: undefined, onDrain: undefined, onClose: undefined,
    write: (d) => {
      if (closed) throw new Error('cannot write: the connection is closed');
      if (sock.writableNeedDrain) return 0; // Back-pressure: wait for onDrain.
      sock.write(d);
      return d.length;
    },
    end: () => { sock.end(); }, destroy: () => { sock.resetAndDestroy(); }, pause: () => { sock.pause(); }, resume: () => { sock.resume(); },
  };
  sock.on('data', (d) => s.onData?.(d));
  sock.on('end', () => s.onEnd?.());
  sock.on('drain', () => s.onDrain?.());
  sock.on('error', () => {});
  sock.on('close', (hadError) => { closed = true; s.onClose?.(hadError ? 'reset' : undefined); });
  return s;
}

export function hostSocketStack(): NetStack {
  return {
    mode: 'socket',
    ipv4: undefined,
    udpBind: (port, onMessage) => new Promise<UdpEndpoint>((resolve, reject) => {
      const s = createSocket('udp4');
      s.once('error', reject);
      s.on('message', (data, rinfo) => {
        const m: UdpMessage = { src: rinfo.address, srcPort: rinfo.port, data };
        onMessage(m);
      });
      s.bind(port, () => {
        s.off('error', reject);
        s.on('error', () => {});
        resolve({
          port: s.address().port,
          send: (dst, dstPort, data) => { s.send(data, dstPort, dst); return true; },
          close: () => s.close(),
        });
      });
    }),
    tcpListen: (port, onConnection) => new Promise<TcpServer>((resolve, reject) => {
      const srv = createServer({ allowHalfOpen: true }, (sock) => onConnection(stream(sock)));
      srv.once('error', reject);
      srv.listen(port, () => {
        const a = srv.address();
        resolve({ port: typeof a === 'object' && a ? a.port : port, close: () => srv.close() });
      });
    }),
    tcpConnect: (dst, port) => new Promise<TcpStream>((resolve, reject) => {
      const sock = connect({ host: dst, port, allowHalfOpen: true });
      sock.once('error', reject);
      sock.once('connect', () => { sock.off('error', reject); resolve(stream(sock)); });
    }),
  };
}
