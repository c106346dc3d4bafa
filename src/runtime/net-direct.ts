/**
 * `--net=direct`: each net device gets a Fata IPv4 stack on its raw frames,
 * driven by the yield loop. The address comes from `--ipv4` and
 * `--ipv4-gateway`, or, without `--ipv4`, from DHCP (as MirageOS): `main`
 * starts once the first lease is bound. Name lookups go through a stub
 * resolver asking the `--dns` servers or the ones the lease names.
 */
import { earlier, formatMac, type NetDevice } from '../devices/index.ts';
import { Stack, TcpListener, UdpSocket, type EchoReply, type TcpConnection, type TcpEvents } from '../net/index.ts';
import { DhcpClient } from '../net/dhcp/client.ts';
import { DnsQuerier, sleepTimer } from '../net/dns/query.ts';
import { StubResolver } from '../net/dns/stub.ts';
import { formatIpv4Address, parseIpv4Address } from '../wire/ipv4.ts';
import type { Platform, NetProvider } from './boot.ts';
import { runLoop, type Pollable } from './loop.ts';
import type { Logger, NetStack, TcpServer, TcpStream, UdpEndpoint } from './types.ts';

/**
 * A Fata TCP connection behind the portable stream interface (both net modes give services this shape).
 * With `settle`, what the connection hears before it resolves is held (data copied) and then handed, in
 * order, to the handlers the service has set by then: a peer that speaks first can have its first
 * segments read in the very poll that completed the handshake, before the service's `await tcpConnect`
 * has even returned, and they were lost (a download through user-mode networking missed its first
 * 32 KB about one run in six).
 */
export function tcpStream(c: TcpConnection, settle?: Promise<void>): TcpStream {
  const s: TcpStream = {
    remote: formatIpv4Address(c.remoteAddr),
    remotePort: c.remotePort,
    onData: undefined,
    onEnd: undefined,
    onDrain: undefined,
    onClose: undefined,
    write: (d) => c.write(d),
    end: () => c.shutdown(),
    close: () => c.close(),
    destroy: () => c.abort(),
    pause: () => c.pause(),
    resume: () => c.resume(),
    setNoDelay: (on) => {
      c.noDelay = on;
    },
  };
  const live: TcpEvents = {
    onData: (d) => s.onData?.(d),
    onEnd: () => s.onEnd?.(),
    onDrain: () => s.onDrain?.(),
    onClose: (e) => s.onClose?.(e),
  };
  c.events = live;
  if (settle) {
    const held: (() => void)[] = [];
    c.events = {
      onData: (d) => {
        const copy = d.slice();
        held.push(() => live.onData?.(copy));
      },
      onEnd: () => held.push(() => live.onEnd?.()),
      onDrain: () => held.push(() => live.onDrain?.()),
      onClose: (e) => held.push(() => live.onClose?.(e)),
    };
    void settle.then(() => {
      c.events = live;
      for (const f of held) f();
    });
  }
  return s;
}

function adapt(stack: Stack, ipv4: () => string | undefined, dns: () => readonly string[], platform: Platform): NetStack {
  const timer = sleepTimer((ms) => platform.sleep(ms));
  let resolver: StubResolver | undefined;
  // Echo replies to the pings in flight, by identifier (one listener on the ICMP layer for all of them).
  const pings = new Map<number, (r: EchoReply) => void>();
  let pingIdent = Number(platform.random.u32() & 0xffff);
  stack.icmp.onEchoReply((r) => pings.get(r.ident)?.(r));
  const net: NetStack = {
    mode: 'direct',
    get ipv4() {
      return ipv4();
    },
    lookup: (host, o) => {
      resolver ??= new StubResolver({ querier: new DnsQuerier(net, platform.random, timer), clock: platform.clock, servers: dns });
      return resolver.lookup(host, o);
    },
    udpBind: async (port, onMessage): Promise<UdpEndpoint> => {
      const msg: { src: string; srcPort: number; data: Uint8Array } = { src: '', srcPort: 0, data: new Uint8Array(0) };
      // The last address each way as text and as a number: a server answering a client turns neither again.
      let srcNum = -1,
        dstText = '',
        dstNum = 0;
      const s = stack.udp.bind(port, (d) => {
        if (d.src !== srcNum) {
          srcNum = d.src;
          msg.src = formatIpv4Address(d.src);
        }
        msg.srcPort = d.srcPort;
        msg.data = d.data;
        onMessage(msg);
      });
      if (!(s instanceof UdpSocket)) throw new Error(`cannot bind UDP port ${port}: ${s}`);
      return {
        port: s.port,
        send: (dst, dstPort, data) => {
          if (dst !== dstText) {
            const a = parseIpv4Address(dst);
            if (a === undefined) throw new Error(`'${dst}' is not an IPv4 address`);
            dstText = dst;
            dstNum = a;
          }
          return s.send(dstNum, dstPort, data) === 'ok';
        },
        close: () => s.close(),
      };
    },
    tcpListen: async (port, onConnection): Promise<TcpServer> => {
      const l = stack.tcp.listen(port, (c) => onConnection(tcpStream(c)));
      if (!(l instanceof TcpListener)) throw new Error(`cannot listen on TCP port ${port}: ${l}`);
      return { port, close: () => stack.tcp.unlisten(l) };
    },
    ping: (dst, o = {}) =>
      new Promise<number>((resolve, reject) => {
        const a = parseIpv4Address(dst);
        if (a === undefined) {
          reject(new Error(`'${dst}' is not an IPv4 address`));
          return;
        }
        const timeoutMs = o.timeoutMs ?? 1000;
        pingIdent = (pingIdent + 1) & 0xffff;
        const ident = pingIdent;
        const t0 = platform.clock.monotonicNs();
        let done = false;
        pings.set(ident, (r) => {
          if (done || r.src !== a) return;
          done = true;
          pings.delete(ident);
          resolve(Number(platform.clock.monotonicNs() - t0) / 1e6);
        });
        stack.icmp.ping(a, ident, 1, new Uint8Array(Math.max(0, Math.min(1472, o.size ?? 56))));
        void platform.sleep(timeoutMs).then(() => {
          if (done) return;
          done = true;
          pings.delete(ident);
          reject(Object.assign(new Error(`no echo reply from ${dst} within ${timeoutMs} ms`), { code: 'ETIMEOUT' }));
        });
      }),
    tcpConnect: (dst, port) =>
      new Promise<TcpStream>((resolve, reject) => {
        const a = parseIpv4Address(dst);
        if (a === undefined) {
          reject(new Error(`'${dst}' is not an IPv4 address`));
          return;
        }
        const c = stack.tcp.connect(a, port);
        c.events = {
          // Held until a timer's turn: by then the service's continuation after `await` has set its handlers.
          onConnect: () => resolve(tcpStream(c, platform.sleep(0))),
          onClose: (e) => reject(new Error(`TCP connection to ${dst}:${port} ${e ?? 'closed'}`)),
        };
      }),
  };
  return net;
}

/** A device's address as text (`10.0.0.2/24`, undefined while it has none) and the DNS servers its lease names. */
interface Addressing {
  text: string | undefined;
  leaseDns: string[];
}

/** The first "no answer" warning comes this long after DHCP starts; each later one after twice the wait, up to 5 minutes. */
const DHCP_QUIET_NS = 5_000_000_000n;
const DHCP_QUIET_MAX_NS = 300_000_000_000n;

/**
 * Asks DHCP for a device's address: `a` follows the lease, and `bound` resolves once the first one is bound.
 * While nothing is bound, says so at the default level after 5 s, 10 s, 20 s … (at most every 5 minutes), with the
 * static-address hint, and keeps asking: a link with no DHCP server must not look like a boot that hangs.
 */
function startDhcp(
  name: string,
  dev: NetDevice,
  s: Stack,
  a: Addressing,
  platform: Platform,
  log: Logger,
  hostname: string | undefined,
): { client: Pollable; bound: Promise<void> } {
  let bound: () => void = () => {};
  const startNs = platform.clock.monotonicNs();
  let quiet = DHCP_QUIET_NS;
  let warnAt: bigint | undefined = startNs + quiet;
  const ready = new Promise<void>((r) => {
    bound = r;
  });
  const client = new DhcpClient({
    udp: s.udp,
    ipv4: s.ipv4,
    clock: platform.clock,
    random: platform.random,
    mac: dev.mac,
    arp: s.arp,
    hostname,
    log: (event, fields) => log.debug(event, { device: name, ...fields }),
    onBound: (l, renewed) => {
      a.text = `${formatIpv4Address(l.address)}/${l.prefixLen}`;
      a.leaseDns = l.dns.map(formatIpv4Address);
      if (!renewed) s.start();
      warnAt = undefined;
      log.info(renewed ? 'dhcp-renewed' : 'net-up', {
        device: name,
        mode: 'direct',
        ipv4: a.text,
        gateway: l.gateway === undefined ? 'none' : formatIpv4Address(l.gateway),
        dns: a.leaseDns.join(',') || 'none',
        lease: l.leaseSeconds,
        server: formatIpv4Address(l.server),
        mtu: dev.mtu,
      });
      bound();
    },
    onLost: (reason) => {
      log.warn('dhcp-lost', { device: name, ipv4: a.text, reason, next: 'asking again' });
      a.text = undefined;
    },
  });
  log.info('dhcp-start', { device: name, mac: formatMac(dev.mac) });
  client.start();
  const watched: Pollable = {
    poll: (now) => {
      const did = client.poll(now);
      if (warnAt === undefined || now < warnAt) return did;
      log.warn('dhcp-no-answer', {
        device: name,
        waited: `${(now - startNs) / 1_000_000_000n}s`,
        hint: 'no DHCP server answered on this link; give a static address with --ipv4=ADDRESS/PREFIX (and --gateway=ADDRESS)',
        next: 'still asking',
      });
      quiet = quiet * 2n < DHCP_QUIET_MAX_NS ? quiet * 2n : DHCP_QUIET_MAX_NS;
      warnAt = now + quiet;
      return true;
    },
    pollAtNs: () => earlier(client.pollAtNs(), warnAt),
  };
  return { client: watched, bound: ready };
}

export const directNet: NetProvider = {
  mode: 'direct',
  start(platform, names, args, log, opts = {}) {
    const stacks = new Map<string, NetStack>();
    const raw: Stack[] = [];
    const clients: Pollable[] = [];
    const waiting: Promise<void>[] = [];
    for (const name of names) {
      const dev = platform.nets.get(name);
      if (!dev) return { error: `net device '${name}' is not attached; attach it with --net:${name}=TAP` };
      if (!args.ipv4 && opts.staticOnly?.has(name))
        return { error: `net device '${name}' needs a static address: give --ipv4=ADDRESS/PREFIX` };
      const s = new Stack({
        device: dev,
        clock: platform.clock,
        random: platform.random,
        ipv4: args.ipv4 ? { ...args.ipv4, gateway: args.gateway } : { address: 0, prefixLen: 0 },
        tcp: args.tcpCongestion ? { congestion: args.tcpCongestion } : undefined,
      });
      raw.push(s);
      const a: Addressing = { text: args.ipv4Text, leaseDns: [] };
      const dns = args.dns?.map(formatIpv4Address);
      stacks.set(
        name,
        adapt(
          s,
          () => a.text,
          () => dns ?? a.leaseDns,
          platform,
        ),
      );
      if (args.ipv4) {
        s.start();
        log.info('net-up', {
          device: name,
          mode: 'direct',
          ipv4: a.text,
          gateway: args.gateway === undefined ? 'none' : formatIpv4Address(args.gateway),
          mtu: dev.mtu,
        });
        continue;
      }
      const { client, bound } = startDhcp(name, dev, s, a, platform, log, opts.hostname);
      waiting.push(bound);
      clients.push(client);
    }
    const all: Pollable = {
      poll: (now) => {
        let did = false;
        for (const s of raw) if (s.poll(now)) did = true;
        for (const c of clients) if (c.poll(now)) did = true;
        return did;
      },
      pollAtNs: () => {
        let t: bigint | undefined;
        for (const s of raw) t = earlier(t, s.pollAtNs());
        for (const c of clients) t = earlier(t, c.pollAtNs());
        return t;
      },
    };
    return {
      stacks,
      run: (stop) => runLoop(all, platform.clock, platform.yield, stop),
      ready: waiting.length ? Promise.all(waiting).then(() => {}) : undefined,
    };
  },
};
