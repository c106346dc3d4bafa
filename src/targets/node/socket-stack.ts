/** `--net=socket` on the node target: a service's network device as the host's own UDP sockets. */
import { createSocket } from 'node:dgram';
import type { NetStack, UdpEndpoint, UdpMessage } from '../../runtime/types.ts';

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
  };
}
