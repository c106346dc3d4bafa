/**
 * `--net=direct`: each net device gets a Fata IPv4 stack on its raw frames,
 * driven by the yield loop. The address comes from `--ipv4` (default
 * 10.0.0.2/24, as MirageOS) and `--ipv4-gateway`.
 */
import { earlier } from '../devices/index.ts';
import { Stack, TcpListener, UdpSocket, type TcpConnection } from '../net/index.ts';
import { formatIpv4Address, parseIpv4Address } from '../wire/ipv4.ts';
import type { NetProvider } from './boot.ts';
import { runLoop, type Pollable } from './loop.ts';
import type { NetStack, TcpServer, TcpStream, UdpEndpoint } from './types.ts';

/** A Fata TCP connection behind the portable stream interface (both net modes give services this shape). */
export function tcpStream(c: TcpConnection): TcpStream {
  const s: TcpStream = {
    remote: formatIpv4Address(c.remoteAddr), remotePort: c.remotePort,
    onData: undefined, onEnd: undefined, onDrain: undefined, onClose: undefined,
    write: (d) => c.write(d), end: () => c.shutdown(), destroy: () => c.abort(), pause: () => c.pause(), resume: () => c.resume(),
    setNoDelay: (on) => { c.noDelay = on; },
  };
  c.events = {
    onData: (d) => s.onData?.(d), onEnd: () => s.onEnd?.(), onDrain: () => s.onDrain?.(), onClose: (e) => s.onClose?.(e),
  };
  return s;
}

function adapt(stack: Stack, ipv4: string): NetStack {
  return {
    mode: 'direct',
    ipv4,
    udpBind: async (port, onMessage): Promise<UdpEndpoint> => {
      const msg: { src: string; srcPort: number; data: Uint8Array } = { src: '', srcPort: 0, data: new Uint8Array(0) };
      const s = stack.udp.bind(port, (d) => {
        msg.src = formatIpv4Address(d.src); msg.srcPort = d.srcPort; msg.data = d.data;
        onMessage(msg);
      });
      if (!(s instanceof UdpSocket)) throw new Error(`cannot bind UDP port ${port}: ${s}`);
      return {
        port: s.port,
        send: (dst, dstPort, data) => {
          const a = parseIpv4Address(dst);
          if (a === undefined) throw new Error(`'${dst}' is not an IPv4 address`);
          return s.send(a, dstPort, data) === 'ok';
        },
        close: () => s.close(),
      };
    },
    tcpListen: async (port, onConnection): Promise<TcpServer> => {
      const l = stack.tcp.listen(port, (c) => onConnection(tcpStream(c)));
      if (!(l instanceof TcpListener)) throw new Error(`cannot listen on TCP port ${port}: ${l}`);
      return { port, close: () => stack.tcp.unlisten(l) };
    },
    tcpConnect: (dst, port) => new Promise<TcpStream>((resolve, reject) => {
      const a = parseIpv4Address(dst);
      if (a === undefined) { reject(new Error(`'${dst}' is not an IPv4 address`)); return; }
      const c = stack.tcp.connect(a, port);
      c.events = {
        onConnect: () => resolve(tcpStream(c)),
        onClose: (e) => reject(new Error(`TCP connection to ${dst}:${port} ${e ?? 'closed'}`)),
      };
    }),
  };
}

export const directNet: NetProvider = {
  mode: 'direct',
  start(platform, names, args, log) {
    const stacks = new Map<string, NetStack>();
    const raw: Stack[] = [];
    for (const name of names) {
      const dev = platform.nets.get(name);
      if (!dev) return { error: `net device '${name}' is not attached; attach it with --net:${name}=TAP` };
      const cidr = args.ipv4 ?? { address: 0x0a000002, prefixLen: 24 };
      const s = new Stack({
        device: dev, clock: platform.clock, random: platform.random,
        ipv4: { ...cidr, gateway: args.gateway },
      });
      s.start();
      raw.push(s);
      const text = args.ipv4Text ?? '10.0.0.2/24';
      stacks.set(name, adapt(s, text));
      log.info('net-up', { device: name, mode: 'direct', ipv4: text, gateway: args.gateway === undefined ? 'none' : formatIpv4Address(args.gateway), mtu: dev.mtu });
    }
    const all: Pollable = {
      poll: (now) => { let did = false; for (const s of raw) if (s.poll(now)) did = true; return did; },
      pollAtNs: () => {
        let t: bigint | undefined;
        for (const s of raw) t = earlier(t, s.pollAtNs());
        return t;
      },
    };
    return { stacks, run: (stop) => runLoop(all, platform.clock, platform.yield, stop) };
  },
};
