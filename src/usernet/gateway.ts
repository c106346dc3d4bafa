/**
 * The user-mode network gateway (vpnkit's and slirp's design): the host end
 * of a unikernel's socketpair link, built from Fata's own stack. The guest
 * sees an ordinary Ethernet link to 10.0.2.0/24 (QEMU's addresses):
 *   - 10.0.2.2, the gateway: DHCP (the guest gets 10.0.2.15), ARP, ping;
 *     TCP and UDP to it reach the host's 127.0.0.1;
 *   - 10.0.2.3: a DNS forwarder to the host's resolver (node:dns's servers),
 *     over UDP and over TCP (RFC 7766: several queries per connection,
 *     pipelined, each forwarded as a UDP one is, and asked again over TCP when
 *     that answer is truncated; bounded, closed when idle);
 *   - any other address X: a TCP connection to X:P becomes a host socket to
 *     X:P, a UDP datagram a host datagram socket's, an echo request one from
 *     the host's ping socket where the host allows it (./ping.ts).
 * Each address the guest talks to is one Fata `Stack` of its own (the
 * stack is a host, not a router), made when the guest first reaches it;
 * a frame goes to the stack of its destination address. TCP is terminated
 * here and spliced to host sockets (./splice.ts); host ports are forwarded
 * in (`hostfwd`) as connections from 10.0.2.2, and UDP ports as datagrams
 * from 10.0.2.2, one gateway port per host peer (so that the guest's answers
 * find their way back). With `restrict`, nothing leaves: a connection out is
 * refused (RST), a datagram out gets port unreachable, DNS goes unanswered
 * (over TCP: refused).
 */
import { createSocket, type Socket as UdpHostSocket } from 'node:dgram';
import { getServers } from 'node:dns';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { MacAddress, NetCapabilities, NetDevice, RxInfo } from '../devices/index.ts';
import { DhcpServer } from '../net/dhcp/server.ts';
import { Stack } from '../net/stack.ts';
import { IPV4_PAYLOAD_AT } from '../net/ipv4.ts';
import { resetRepr } from '../net/tcp/reset.ts';
import type { TcpConnection } from '../net/tcp/index.ts';
import type { ByteStream } from '../net/stream.ts';
import { DnsTcpSessions, frameTcp, TcpDeframer } from '../net/dns/transport.ts';
import { decodeDns, encodeDns, formErrFor, isDecodeError, RCODE, replyTo } from '../wire/dns.ts';
import { seqAdd } from '../net/tcp/seq.ts';
import { emitTcp } from '../wire/tcp.ts';
import { decodeDhcp, DHCP, DHCP_SERVER_PORT, encodeDhcp, messageType } from '../wire/dhcp.ts';
import { emitArp, ARP_REPLY } from '../wire/arp.ts';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4 } from '../wire/ethernet.ts';
import { formatIpv4Address, PROTO_ICMP, PROTO_TCP, PROTO_UDP } from '../wire/ipv4.ts';
import { FrameSocketDevice } from '../targets/node/frame-socket.ts';
import { NodeRandom, nodeClock } from '../targets/node/platform.ts';
import type { HostForward, UserNetOptions } from './options.ts';
import { splice } from './splice.ts';
import { type EchoFromHost, HostPinger } from './ping.ts';
import { emitIcmpv4, ICMP_ECHO_REQUEST, Icmpv4View } from '../wire/icmpv4.ts';

const ip = (a: number, b: number, c: number, d: number): number => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
export const USERNET = {
  network: ip(10, 0, 2, 0),
  prefixLen: 24,
  gateway: ip(10, 0, 2, 2),
  dns: ip(10, 0, 2, 3),
  guest: ip(10, 0, 2, 15),
  broadcast: ip(10, 0, 2, 255),
  /** QEMU's gateway MAC. */
  gatewayMac: Uint8Array.of(0x52, 0x55, 0x0a, 0x00, 0x02, 0x02),
} as const;

/** How long a guest's connection attempt may take, the host's connect and the guest's handshake together. */
const ATTEMPT_MS = 75_000;

/** A guest SYN's host connection: made (`ready`) or under way. */
interface Attempt {
  readonly sock: Socket;
  ready: boolean;
  readonly timer: NodeJS.Timeout;
}

/**
 * The gateway's side of every spliced connection: a send buffer of 4 MiB (the default 256 KiB is four
 * 64 KB segments on this link, too few to keep it busy while the other end's loop wakes up), and no Nagle:
 * what the host sent has been through its sender's own, so a small write goes at once (held for the ACK of
 * the one before, it waited for the guest's delayed ACK: 40 ms).
 */
const SPLICED = { sendBuffer: 4 << 20, noDelay: true } as const;

/** Stacks for outside addresses kept at most; beyond it, ones with no connection are forgotten. */
const MAX_STACKS = 256;
/** A UDP flow with no traffic for this long is closed. */
const UDP_IDLE_MS = 60_000;
/** Host peers of one UDP forward kept at most (each holds a gateway port); beyond it, the longest idle is forgotten. */
const MAX_UDP_PEERS = 1024;

/**
 * DNS over TCP at 10.0.2.3:53: connections open at once (beyond, a new one is reset), queries per
 * connection (then it is closed after the answers, RFC 7766 §6.2.1), bytes the guest may send on one
 * (beyond, it is reset: room for one largest message and many ordinary ones), and idle time before the
 * gateway closes it (RFC 7766 §6.2.3).
 */
export const DNS_TCP = { connections: 16, queries: 64, bytes: 128 << 10, idleMs: 10_000 } as const;
/** How long the host's resolver has to answer one query. */
const DNS_ANSWER_MS = 5000;

/** One host peer of a UDP forward: the gateway port its datagrams come to the guest from. */
interface UdpPeer {
  readonly port: number;
  readonly timer: NodeJS.Timeout;
}

export interface GatewayOptions extends UserNetOptions {
  /** The gateway's end of the socketpair. */
  readonly fd: number;
  readonly mtu: number;
  /** Verify the guest's checksums (a fault injector corrupts frames in front of it); else they are trusted. */
  readonly verifyChecksums?: boolean;
  /** Lines for the operator (leases, refusals), without a trailing newline. */
  readonly say: (line: string) => void;
}

/** Every stack writes to the one socketpair; frames come in through the gateway's demultiplexer, not `read`. */
class SharedLink implements NetDevice {
  readonly mac: MacAddress = USERNET.gatewayMac;
  readonly capabilities: NetCapabilities;
  readonly mtu: number;
  private readonly dev: FrameSocketDevice;
  constructor(dev: FrameSocketDevice) {
    this.dev = dev;
    this.mtu = dev.mtu;
    this.capabilities = dev.capabilities;
  }
  write(frame: Uint8Array, gsoSize?: number): ReturnType<NetDevice['write']> {
    return this.dev.write(frame, gsoSize);
  }
  read(_into: Uint8Array, _rx: RxInfo): 'again' {
    return 'again';
  }
  readyAtNs(): undefined {
    return undefined;
  }
}

const u32 = (b: Uint8Array, at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

export class UserNetGateway {
  private readonly o: GatewayOptions;
  private readonly dev: FrameSocketDevice;
  private readonly link: SharedLink;
  private readonly random = new NodeRandom();
  private readonly stacks = new Map<number, Stack>();
  private readonly gw: Stack;
  private readonly rxBuf: Uint8Array;
  private readonly rx: RxInfo = { checksumVerified: false };
  private readonly servers: Server[] = [];
  /** Each UDP forward's end: its host socket closed, its peers' ports given back. */
  private readonly udpForwardEnds: (() => void)[] = [];
  /** The gateway's (10.0.2.2's) UDP ports that carry a forward's host peer: the guest's datagrams to them are answers. */
  private readonly forwardPorts = new Set<number>();
  private readonly hostSockets = new Set<{ destroy(): void }>();
  private readonly attempts = new Map<string, Attempt>();
  private readonly udpFlows = new Map<string, { sock: UdpHostSocket; timer: NodeJS.Timeout }>();
  private readonly dhcp: DhcpServer;
  private readonly dnsTcp = new DnsTcpSessions({ idleMs: DNS_TCP.idleMs, now: Date.now, maxQueries: DNS_TCP.queries });
  private readonly dnsSweep: NodeJS.Timeout;
  private closed = false;
  private loop: Promise<void> = Promise.resolve();
  /** The guest's address and MAC, once it has a lease. */
  guest: { address: number; mac: Uint8Array } | undefined;
  readonly counters = {
    framesIn: 0,
    framesOut: 0,
    refused: 0,
    tcpOut: 0,
    tcpIn: 0,
    udpOut: 0,
    udpIn: 0,
    dnsTcp: 0,
    dnsTcpRefused: 0,
    pingOut: 0,
    pingIn: 0,
  };
  /** Echo requests beyond the gateway, sent from the host's ping socket (made on the first). */
  private readonly pinger = new HostPinger((r) => this.echoBack(r));
  private readonly icmpView = new Icmpv4View();

  constructor(o: GatewayOptions) {
    this.o = o;
    this.dev = new FrameSocketDevice(o.fd, 'usernet', { mac: USERNET.gatewayMac, mtu: o.mtu });
    if (o.verifyChecksums) this.dev.setReceiveOffload(false);
    this.link = new SharedLink(this.dev);
    this.rxBuf = new Uint8Array(Math.max(o.mtu + 18, this.dev.capabilities.gsoMax ?? 0));
    this.gw = this.stackFor(USERNET.gateway, USERNET.prefixLen);
    this.dhcp = new DhcpServer({
      address: USERNET.gateway,
      prefixLen: USERNET.prefixLen,
      poolFirst: USERNET.guest,
      poolLast: USERNET.guest + 16,
      router: USERNET.gateway,
      dns: [USERNET.dns],
      leaseSeconds: 86_400,
    });
    this.gw.udp.bind(DHCP_SERVER_PORT, (d) => this.onDhcp(d.data));
    const dns = this.stackFor(USERNET.dns, USERNET.prefixLen);
    dns.udp.bind(53, (d) => this.onDns(d.data, d.src, d.srcPort));
    // Under restrict no listener: the guest's SYN is answered with a reset, as every connection out is.
    // No Nagle: an answer goes when it comes, not after the guest's (delayed) ACK of the one before.
    if (!o.restrict) dns.tcp.listen(53, (c) => this.onDnsTcp(c), { noDelay: true });
    this.dnsSweep = setInterval(() => this.dnsTcp.sweep(), 1000);
    this.dnsSweep.unref();
  }

  /** Listens on every forwarded host port (a port in use is a `{ error }`), then runs until `close`. */
  async start(): Promise<{ error: string } | undefined> {
    for (const f of this.o.forwards) {
      const e = await this.listen(f);
      if (e) {
        await this.close();
        return { error: e };
      }
    }
    this.loop = this.run();
    return undefined;
  }

  private listen(f: HostForward): Promise<string | undefined> {
    if (f.proto === 'udp') return this.listenUdp(f);
    const server = createServer({ noDelay: true }, (sock) => this.forwardIn(f, sock));
    this.servers.push(server);
    return new Promise((resolve) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        resolve(`hostfwd=tcp:${f.hostAddr}:${f.hostPort}-…: cannot listen on the host: ${e.code ?? e.message}; choose another host port`),
      );
      server.listen(f.hostPort, f.hostAddr || undefined, () => resolve(undefined));
    });
  }

  /**
   * A UDP forward: datagrams to HOSTADDR:HOSTPORT go to the guest from 10.0.2.2, from a gateway port for each
   * host peer (address and port), so that what the guest sends back to that port goes to that peer, from
   * HOSTPORT. A peer's port is given back after UDP_IDLE_MS without traffic either way.
   */
  private listenUdp(f: HostForward): Promise<string | undefined> {
    const sock = createSocket('udp4');
    const peers = new Map<string, UdpPeer>();
    const forget = (key: string): void => {
      const p = peers.get(key);
      if (!p) return;
      peers.delete(key);
      clearTimeout(p.timer);
      this.gw.udp.release(p.port);
      this.forwardPorts.delete(p.port);
    };
    this.udpForwardEnds.push(() => {
      for (const k of [...peers.keys()]) forget(k);
      try {
        sock.close();
      } catch {
        /* never bound (its port was taken) */
      }
    });
    sock.on('message', (m, from) => {
      if (this.closed) return;
      const key = `${from.address}:${from.port}`;
      let peer = peers.get(key);
      if (!peer) {
        if (peers.size >= MAX_UDP_PEERS) forget(peers.keys().next().value!);
        const bound = this.gw.udp.bind(0, (d) => {
          peers.get(key)?.timer.refresh();
          sock.send(Buffer.from(d.data), from.port, from.address); // Copied: the stack's buffer is borrowed for the call only.
        });
        if (typeof bound === 'string') return; // Every ephemeral port of 10.0.2.2 is taken: the datagram is dropped.
        peer = { port: bound.port, timer: setTimeout(() => forget(key), UDP_IDLE_MS) };
        peers.set(key, peer);
        this.forwardPorts.add(peer.port);
      } else {
        // Most recently used last, so that the first is the one to forget.
        peers.delete(key);
        peers.set(key, peer);
        peer.timer.refresh();
      }
      this.counters.udpIn++;
      const to = f.guestAddr ?? this.guest?.address ?? USERNET.guest;
      this.gw.udp.sendFrom(peer.port, to, f.guestPort, m);
      this.kick();
    });
    return new Promise((resolve) => {
      sock.once('error', (e: NodeJS.ErrnoException) =>
        resolve(`hostfwd=udp:${f.hostAddr}:${f.hostPort}-…: cannot bind on the host: ${e.code ?? e.message}; choose another host port`),
      );
      sock.bind({ port: f.hostPort, address: f.hostAddr || undefined }, () => {
        sock.removeAllListeners('error');
        sock.on('error', () => {}); // A send to a peer that went away (ICMP unreachable) is not the forward's end.
        resolve(undefined);
      });
    });
  }

  /** The stack for local address `addr`, made on first use. */
  private stackFor(addr: number, prefixLen = 0): Stack {
    let s = this.stacks.get(addr);
    if (s) return s;
    if (this.stacks.size >= MAX_STACKS) this.forgetIdle();
    // Prefix 0 for outside addresses: the guest is on their link, so replies go straight to it.
    s = new Stack({
      device: this.link,
      clock: nodeClock,
      random: this.random,
      ipv4: { address: addr, prefixLen },
      arp: { entryTtlNs: 3600_000_000_000n },
    });
    this.stacks.set(addr, s);
    if (this.guest) this.teach(s, addr);
    return s;
  }

  /** Forgets the stacks of outside addresses with no connection, no connection under way and no UDP flow. */
  private forgetIdle(): void {
    const busy = new Set<number>();
    for (const k of this.attempts.keys()) busy.add(Number(k.split(':')[0]));
    for (const k of this.udpFlows.keys()) busy.add(Number(k.split('>')[1]!.split(':')[0]));
    for (const [a, s] of this.stacks) {
      if (a === USERNET.gateway || a === USERNET.dns || busy.has(a) || s.tcp.connectionCount > 0) continue;
      this.stacks.delete(a);
    }
  }

  /** Tells a new stack where the guest is (an ARP reply from it), so that its first answer needs no ARP round. */
  private teach(s: Stack, addr: number): void {
    const g = this.guest!;
    const f = new Uint8Array(14 + 28);
    f.set(USERNET.gatewayMac, 0);
    f.set(g.mac, 6);
    f[12] = ETHERTYPE_ARP >> 8;
    f[13] = ETHERTYPE_ARP & 0xff;
    emitArp({ operation: ARP_REPLY, senderMac: g.mac, senderIp: g.address, targetMac: USERNET.gatewayMac, targetIp: addr }, f.subarray(14));
    s.ethernet.input(f, f.length);
  }

  private onDhcp(data: Uint8Array): void {
    const q = decodeDhcp(data);
    if (typeof q === 'string') return;
    const r = this.dhcp.handle(q, Date.now());
    if (!r) return;
    if (messageType(r.message) === DHCP.ACK && r.message.yiaddr !== 0) {
      const mac = q.chaddr.slice(0, 6);
      const first = !this.guest;
      this.guest = { address: r.message.yiaddr, mac };
      if (first) {
        for (const [a, s] of this.stacks) this.teach(s, a);
        this.o.say(
          `usernet: lease ${formatIpv4Address(r.message.yiaddr)} to ${[...mac].map((b) => b.toString(16).padStart(2, '0')).join(':')}`,
        );
      }
    }
    this.gw.udp.sendFrom(DHCP_SERVER_PORT, r.dst, r.dstPort, encodeDhcp(r.message));
  }

  /** DNS over UDP: the guest's query goes to the host's resolver (`forwardDns`); its answer comes back. */
  private onDns(query: Uint8Array, src: number, srcPort: number): void {
    if (this.o.restrict) return;
    void this.forwardDns(query).then((answer) => {
      if (!answer || this.closed) return;
      this.stacks.get(USERNET.dns)?.udp.sendFrom(53, src, srcPort, answer);
      this.kick();
    });
  }

  /**
   * One query, byte for byte, to the host's first resolver over UDP, from a socket of its own; its answer,
   * or undefined when none came within DNS_ANSWER_MS (or the socket failed). Bytes shorter than a DNS
   * header are not a query and do not go.
   */
  private forwardDns(query: Uint8Array): Promise<Uint8Array | undefined> {
    if (query.length < 12) return Promise.resolve(undefined);
    const server = getServers()[0] ?? '127.0.0.53';
    const [host, port] = parseServer(server);
    const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    return new Promise((resolve) => {
      const done = (answer: Uint8Array | undefined): void => {
        clearTimeout(timer);
        sock.close();
        resolve(answer);
      };
      const timer = setTimeout(() => done(undefined), DNS_ANSWER_MS);
      sock.on('error', () => done(undefined));
      sock.on('message', (answer) => done(answer));
      sock.send(Buffer.from(query), port, host); // Copied: the stack's buffer is borrowed for the call only.
    });
  }

  /**
   * One query to the host's first resolver over TCP (RFC 7766), on a connection of its own: the answer in
   * full when the UDP one came back truncated. Undefined when none came within DNS_ANSWER_MS, the
   * connection failed, or it closed before a whole message.
   */
  private forwardDnsTcp(query: Uint8Array): Promise<Uint8Array | undefined> {
    const [host, port] = parseServer(getServers()[0] ?? '127.0.0.53');
    const sock = connect({ host, port, noDelay: true });
    this.hostSockets.add(sock);
    const deframer = new TcpDeframer();
    return new Promise((resolve) => {
      const done = (answer: Uint8Array | undefined): void => {
        clearTimeout(timer);
        sock.destroy();
        this.hostSockets.delete(sock);
        resolve(answer);
      };
      const timer = setTimeout(() => done(undefined), DNS_ANSWER_MS);
      sock.on('error', () => done(undefined));
      sock.on('close', () => done(undefined));
      sock.on('data', (d: Buffer) => {
        const m = deframer.push(d)[0];
        if (m) done(m);
      });
      sock.write(frameTcp(query));
    });
  }

  /**
   * DNS over TCP (RFC 7766) from the guest to 10.0.2.3:53: `DnsTcpSession` frames the queries (several per
   * connection, pipelined, answered in order) and each goes to the host's resolver as a UDP query does (and
   * over TCP when that answer is truncated); one the resolver does not answer gets SERVFAIL, so that the
   * ones behind it are not held up.
   */
  private onDnsTcp(c: TcpConnection): void {
    if (this.closed) {
      c.abort();
      return;
    }
    if (this.dnsTcp.size >= DNS_TCP.connections) this.dnsTcp.sweep();
    if (this.dnsTcp.size >= DNS_TCP.connections) {
      this.counters.dnsTcpRefused++;
      c.abort();
      return;
    }
    this.counters.dnsTcp++;
    this.dnsTcp.open(this.dnsStream(c), async (query) => {
      const answer = await this.forwardDns(query);
      // Truncated over UDP: the guest asked over TCP for the whole answer, so the resolver is asked over TCP too.
      if (answer && answer.length >= 12 && (answer[2]! & 0x02) !== 0) return [(await this.forwardDnsTcp(query)) ?? answer];
      if (answer) return [answer];
      const q = decodeDns(query);
      const fail = isDecodeError(q) ? formErrFor(query, q, { ra: true }) : encodeDns(replyTo(q, RCODE.SERVFAIL, { ra: true }));
      return fail ? [fail] : [];
    });
  }

  /**
   * A guest's connection as the byte stream `DnsTcpSession` runs on; one whose guest sends more than
   * DNS_TCP.bytes is reset. Every write and end kicks the loop: answers come from host events.
   */
  private dnsStream(c: TcpConnection): ByteStream {
    let received = 0;
    const s: ByteStream = {
      onData: undefined,
      onEnd: undefined,
      onDrain: undefined,
      onClose: undefined,
      write: (d) => {
        const n = c.write(d);
        this.kick();
        return n;
      },
      end: () => {
        c.shutdown();
        this.kick();
      },
      destroy: () => c.abort(),
      pause: () => c.pause(),
      resume: () => c.resume(),
    };
    c.events = {
      onData: (d) => {
        received += d.length;
        if (received > DNS_TCP.bytes) {
          this.counters.dnsTcpRefused++;
          c.abort();
          return;
        }
        s.onData?.(d);
      },
      onEnd: () => s.onEnd?.(),
      onDrain: () => s.onDrain?.(),
      onClose: (e) => s.onClose?.(e),
    };
    return s;
  }

  /** One frame from the guest, to the stack of its destination (made, with a listener or a socket, when allowed). */
  private demux(f: Uint8Array, len: number): void {
    this.counters.framesIn++;
    if (len < 14) return;
    const type = (f[12]! << 8) | f[13]!;
    if (type === ETHERTYPE_ARP) {
      if (len >= 42) this.stacks.get(u32(f, 38))?.ethernet.input(f, len);
      return;
    }
    if (type !== ETHERTYPE_IPV4 || len < 34) return;
    const dst = u32(f, 30);
    if (dst === 0xffffffff || dst === USERNET.broadcast) {
      this.gw.ethernet.input(f, len);
      return;
    }
    const proto = f[23]!;
    const ihl = (f[14]! & 0x0f) * 4;
    const l4 = 14 + ihl;
    const firstFragment = ((f[20]! & 0x1f) | f[21]!) === 0;
    let s = this.stacks.get(dst);
    if (proto === PROTO_UDP && dst === USERNET.gateway && len >= l4 + 4 && this.forwardPorts.has((f[l4 + 2]! << 8) | f[l4 + 3]!)) {
      // An answer to a forward's host peer, under restrict too: forwards are what comes in.
      this.gw.ethernet.input(f, len, this.rx.checksumVerified);
      return;
    }
    if (proto === PROTO_ICMP && dst !== USERNET.gateway && dst !== USERNET.dns && len >= l4 + 8 && f[l4] === ICMP_ECHO_REQUEST) {
      this.pingOut(f, len, l4, dst);
      return;
    }
    if (!firstFragment || len < l4 + 4 || (proto !== PROTO_TCP && proto !== PROTO_UDP) || dst === USERNET.dns) {
      s?.ethernet.input(f, len, this.rx.checksumVerified);
      return;
    }
    s ??= this.stackFor(dst);
    const port = (f[l4 + 2]! << 8) | f[l4 + 3]!;
    if (this.o.restrict) this.counters.refused++;
    else if (proto === PROTO_TCP && len >= l4 + 14 && (f[l4 + 13]! & 0x12) === 0x02 && !this.connectFirst(s, dst, port, f, len, l4)) return;
    else if (proto === PROTO_UDP) this.openUdp(s, dst, port);
    s.ethernet.input(f, len, this.rx.checksumVerified);
  }

  /**
   * An echo request from the guest to an outside address: sent from the host's ping socket (its reply comes
   * back through `echoBack`), unless under restrict; a fragment, a bad checksum or a host that allows no
   * ping sockets (said once) is dropped, so the guest sees no reply, never one the host did not give.
   */
  private pingOut(f: Uint8Array, len: number, l4: number, dst: number): void {
    const end = Math.min(len, 14 + ((f[16]! << 8) | f[17]!));
    const whole = (f[20]! & 0x3f) === 0 && f[21] === 0; // Neither more fragments nor an offset.
    if (this.o.restrict || !whole || this.icmpView.check(f, true, l4, end) !== 'ok') {
      this.counters.refused++;
      return;
    }
    const v = this.icmpView;
    const r = this.pinger.send(u32(f, 26), dst, v.ident, v.seq, v.data());
    if (r === 'sent') this.counters.pingOut++;
    else if (typeof r === 'object')
      this.o.say(
        `usernet: this host does not let this user ping (${r.refused}); echo requests beyond 10.0.2.2 go unanswered. ` +
          'To allow them: sysctl -w net.ipv4.ping_group_range="0 2147483647" (or a range holding a group of this user)',
      );
  }

  /** An echo reply the host got: to the guest, from the address it pinged, with its own identifier. */
  private echoBack(r: EchoFromHost): void {
    if (this.closed) return;
    const s = this.stackFor(r.src);
    const n = emitIcmpv4({ kind: 'echo-reply', ident: r.ident, seq: r.seq, data: r.data }, s.ipv4.tx, IPV4_PAYLOAD_AT);
    if (s.ipv4.send(r.to, PROTO_ICMP, n) === 'ok') this.counters.pingIn++;
    this.kick();
  }

  /**
   * A guest SYN to dst:port: the host connection is made first (as slirp and vpnkit do), so that the
   * guest's connect fails as the host's did: refused is a RST to its SYN, not a reset once connected.
   * The SYN (and its retransmissions) wait until then; true when it may go to the stack now.
   */
  private connectFirst(s: Stack, dst: number, port: number, f: Uint8Array, len: number, l4: number): boolean {
    const guestPort = (f[l4]! << 8) | f[l4 + 1]!;
    const key = `${dst}:${port}:${guestPort}`;
    const known = this.attempts.get(key);
    if (known) return known.ready;
    const syn = f.slice(0, len);
    const sock = connect({ host: this.hostFor(dst), port, noDelay: true });
    sock.pause(); // What the host says first waits for the guest's side to exist.
    const a: Attempt = { sock, ready: false, timer: setTimeout(() => this.dropAttempt(key, a), ATTEMPT_MS) };
    this.attempts.set(key, a);
    this.hostSockets.add(sock);
    sock.once('connect', () => {
      a.ready = true;
      this.listenOut(s, dst, port);
      s.ethernet.input(syn, syn.length, true);
      this.kick();
    });
    sock.once('error', () => {
      if (!a.ready) this.refuse(s, syn, l4);
      this.dropAttempt(key, a);
      this.kick();
    });
    return false;
  }

  /** Guest connections to dst:port that complete their handshake are spliced to the host socket made for them. */
  private listenOut(s: Stack, dst: number, port: number): void {
    s.tcp.listen(
      port,
      (c) => {
        const key = `${dst}:${port}:${c.remotePort}`;
        const a = this.attempts.get(key);
        if (!a?.ready) {
          c.abort(); // Its host socket is gone (closed, or timed out waiting for the guest).
          return;
        }
        this.attempts.delete(key);
        clearTimeout(a.timer);
        this.counters.tcpOut++;
        splice(c, a.sock, this.kick, () => this.hostSockets.delete(a.sock));
        a.sock.resume();
      },
      SPLICED,
    );
  }

  private dropAttempt(key: string, a: Attempt): void {
    if (this.attempts.get(key) !== a) return;
    this.attempts.delete(key);
    clearTimeout(a.timer);
    a.sock.destroy();
    this.hostSockets.delete(a.sock);
  }

  /** The RST that answers a SYN the host refused (RFC 9293 §3.10.7.1: <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>). */
  private refuse(s: Stack, syn: Uint8Array, l4: number): void {
    this.counters.refused++;
    const guest = u32(syn, 26);
    const r = resetRepr((syn[l4 + 2]! << 8) | syn[l4 + 3]!, (syn[l4]! << 8) | syn[l4 + 1]!, 0, seqAdd(u32(syn, l4 + 4), 1));
    emitTcp(r, s.ipv4.address, guest, s.ipv4.tx, IPV4_PAYLOAD_AT, 0);
    s.ipv4.send(guest, PROTO_TCP, 20);
  }

  private hostFor(dst: number): string {
    return dst === USERNET.gateway ? '127.0.0.1' : formatIpv4Address(dst);
  }

  /** UDP to dst:port: one host datagram socket per guest port and destination, closed when idle. */
  private openUdp(s: Stack, dst: number, port: number): void {
    s.udp.bind(port, (d) => {
      const key = `${d.srcPort}>${d.dst}:${d.dstPort}`;
      let flow = this.udpFlows.get(key);
      if (!flow) {
        const sock = createSocket('udp4');
        const guestPort = d.srcPort,
          guestAddr = d.src;
        sock.on('message', (m) => {
          s.udp.sendFrom(port, guestAddr, guestPort, m);
          this.kick();
        });
        sock.on('error', () => this.endFlow(key));
        flow = { sock, timer: setTimeout(() => this.endFlow(key), UDP_IDLE_MS) };
        this.udpFlows.set(key, flow);
      }
      flow.timer.refresh();
      this.counters.udpOut++;
      flow.sock.send(Buffer.from(d.data), port, this.hostFor(dst));
    });
  }

  private endFlow(key: string): void {
    const f = this.udpFlows.get(key);
    if (!f) return;
    this.udpFlows.delete(key);
    clearTimeout(f.timer);
    f.sock.close();
  }

  /** A host connection to a forwarded port: a connection from 10.0.2.2 to the guest. */
  private forwardIn(f: HostForward, sock: Socket): void {
    // Before any lease (a guest with a static --ipv4, or one still booting), 10.0.2.15: the SYN waits for it.
    const to = f.guestAddr ?? this.guest?.address ?? USERNET.guest;
    if (this.closed) {
      sock.destroy();
      return;
    }
    this.counters.tcpIn++;
    this.hostSockets.add(sock);
    const c = this.gw.tcp.connect(to, f.guestPort, SPLICED);
    splice(c, sock, this.kick, () => this.hostSockets.delete(sock));
    this.kick();
  }

  /**
   * After a host event: what it queued has been sent already (writes outside the stack's callbacks go at
   * once), but it may have armed a timer (a retransmission) earlier than the loop's wait ends; then the
   * wait is cut short. (Waking on every event instead cost a third of the gateway's CPU in bulk transfers.)
   */
  private readonly kick = (): void => {
    if (this.closed || this.waitUntilNs === undefined) return;
    const at = this.nextDeadline();
    if (at !== undefined && at < this.waitUntilNs) {
      this.waitUntilNs = undefined;
      this.dev.wake();
    }
  };

  /** The end of the wait in flight; undefined when none is, or it was already cut short. */
  private waitUntilNs: bigint | undefined;

  private nextDeadline(): bigint | undefined {
    let next: bigint | undefined;
    for (const s of this.stacks.values()) {
      const at = s.pollAtNs();
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    return next;
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      const now = nodeClock.monotonicNs();
      for (const s of this.stacks.values()) s.poll(now);
      const next = this.nextDeadline() ?? now + 1_000_000_000n;
      if (next > now) {
        this.waitUntilNs = next;
        await this.dev.wait(Number(next - now) / 1e6);
        this.waitUntilNs = undefined;
      } else await new Promise<void>((r) => setImmediate(r));
      if (!this.drain()) break;
    }
  }

  /** Reads what the guest sent; false when its end is gone. */
  private drain(): boolean {
    for (let i = 0; i < 256; i++) {
      const n = this.dev.read(this.rxBuf, this.rx);
      if (n === 'again') return true;
      if (n === 'unspecified') return false;
      this.demux(this.rxBuf, n);
    }
    return true;
  }

  /** The gateway's TCP recoveries so far, over all its stacks: segments sent again, tail probes, timeouts. */
  get tcpRecoveries(): { retransmits: number; tailProbes: number; timeouts: number } {
    const r = { retransmits: 0, tailProbes: 0, timeouts: 0 };
    for (const s of this.stacks.values()) {
      r.retransmits += s.tcp.counters.retransmits;
      r.tailProbes += s.tcp.counters.tailProbes;
      r.timeouts += s.tcp.counters.timeouts;
    }
    return r;
  }

  /** Resolves when the guest's end of the link has closed (the engine exited). */
  get ended(): Promise<void> {
    return this.loop;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.dnsSweep);
    this.dev.wake();
    await this.loop;
    for (const s of this.servers) s.close();
    for (const end of this.udpForwardEnds) end();
    for (const s of this.hostSockets) s.destroy();
    for (const k of [...this.udpFlows.keys()]) this.endFlow(k);
    for (const [k, a] of [...this.attempts]) this.dropAttempt(k, a);
    await this.pinger.close();
    await this.dev.close();
  }
}

/** `1.2.3.4`, `1.2.3.4:5353`, `[::1]:53`, `::1` → host and port. */
function parseServer(s: string): [string, number] {
  const v6 = /^\[(.+)\]:(\d+)$/.exec(s);
  if (v6) return [v6[1]!, Number(v6[2])];
  const v4 = /^([\d.]+):(\d+)$/.exec(s);
  if (v4) return [v4[1]!, Number(v4[2])];
  return [s, 53];
}
