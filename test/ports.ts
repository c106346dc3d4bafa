/**
 * Test helper: loopback ports the kernel says are free right now, for TCP
 * and UDP both (a DNS server takes the same number on each). Better than a
 * number derived from the pid, which two runs, or another program, can hold.
 */
import { createServer, type Server } from 'node:net';
import { createSocket, type Socket } from 'node:dgram';

/** `N` port numbers, as a tuple a caller can take apart: `const [a, b] = await freePorts(2)`. */
type Ports<N extends number, T extends number[] = []> = number extends N ? number[] : T['length'] extends N ? T : Ports<N, [...T, number]>;

export async function freePorts<N extends number>(count: N): Promise<Ports<N>> {
  const held: (Server | Socket)[] = [];
  const ports: number[] = [];
  try {
    for (let tries = 0; ports.length < count && tries < count * 20; tries++) {
      const tcp = createServer();
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(0, '127.0.0.1', resolve);
      });
      held.push(tcp);
      const port = (tcp.address() as { port: number }).port;
      const udp = createSocket('udp4');
      const ok = await new Promise<boolean>((resolve) => {
        udp.once('error', () => resolve(false));
        udp.bind(port, '127.0.0.1', () => resolve(true));
      });
      if (ok) {
        held.push(udp);
        ports.push(port);
      } else udp.close();
    }
  } finally {
    for (const h of held) h.close();
  }
  if (ports.length < count) throw new Error(`could not find ${count} free loopback ports`);
  return ports as Ports<N>; // count of them: the loop stops there, and fewer threw.
}
