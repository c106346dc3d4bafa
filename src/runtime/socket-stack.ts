/** `--net=socket` on the node target: a service's network device as the host's own sockets, bound to loopback. */
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { connect, createServer } from 'node:net';
import { socketStream as stream } from './socket-stream.ts';
import type { NetStack, TcpServer, TcpStream, UdpEndpoint, UdpMessage } from './types.ts';

/** A bind failure as something to act on: which port, and what to do about it. */
function bindError(kind: 'UDP' | 'TCP', port: number, e: unknown): Error {
  const code = (e as { code?: string }).code;
  if (code === 'EACCES' && port < 1024)
    return new Error(
      `cannot bind ${kind} port ${port} on 127.0.0.1: ports below 1024 need root; run as root or give the service a port above 1023 (see --help)`,
    );
  if (code === 'EADDRINUSE')
    return new Error(
      `cannot bind ${kind} port ${port} on 127.0.0.1: another program is using it; stop it or choose another port (see --help)`,
    );
  return new Error(`cannot bind ${kind} port ${port} on 127.0.0.1: ${e instanceof Error ? e.message : String(e)}`);
}

export function hostSocketStack(): NetStack {
  return {
    mode: 'socket',
    ipv4: undefined,
    udpBind: (port, onMessage) =>
      new Promise<UdpEndpoint>((resolve, reject) => {
        const s = createSocket('udp4');
        s.once('error', (e) => {
          s.close();
          reject(bindError('UDP', port, e));
        });
        s.on('message', (data, rinfo) => {
          const m: UdpMessage = { src: rinfo.address, srcPort: rinfo.port, data };
          onMessage(m);
        });
        s.bind(port, '127.0.0.1', () => {
          s.removeAllListeners('error');
          s.on('error', () => {});
          resolve({
            port: s.address().port,
            send: (dst, dstPort, data) => {
              s.send(data, dstPort, dst);
              return true;
            },
            close: () => s.close(),
          });
        });
      }),
    tcpListen: (port, onConnection) =>
      new Promise<TcpServer>((resolve, reject) => {
        const srv = createServer({ allowHalfOpen: true }, (sock) => onConnection(stream(sock)));
        srv.once('error', (e) => reject(bindError('TCP', port, e)));
        srv.listen(port, '127.0.0.1', () => {
          const a = srv.address();
          resolve({ port: typeof a === 'object' && a ? a.port : port, close: () => srv.close() });
        });
      }),
    tcpConnect: (dst, port) =>
      new Promise<TcpStream>((resolve, reject) => {
        const sock = connect({ host: dst, port, allowHalfOpen: true });
        sock.once('error', reject);
        sock.once('connect', () => {
          sock.off('error', reject);
          resolve(stream(sock));
        });
      }),
    lookup: async (host, o = {}) => (await lookup(host, { all: true, family: o.family ?? 4 })).map((a) => a.address),
    ping: async (dst) => {
      throw Object.assign(new Error(`cannot ping ${dst} on --net=socket: the host's sockets give no ICMP; use --net=direct`), {
        code: 'ENOTSUP',
      });
    },
  };
}
