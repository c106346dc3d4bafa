/**
 * A DHCPv4 client (RFC 2131 §4.4): INIT → SELECTING (DISCOVER, take the
 * first OFFER) → REQUESTING → BOUND, then RENEWING at T1 (unicast to the
 * server), REBINDING at T2 (broadcast), and back to INIT when the lease
 * expires or a NAK arrives. Retransmissions back off 4, 8, 16, 32, 64 s with
 * ±1 s of jitter (§4.1); in RENEWING and REBINDING they come at half the
 * time left, at least 60 s (§4.4.5). Time and randomness are parameters.
 */
import type { Clock, Random } from '../../devices/index.ts';
import { macEquals } from '../../wire/bytes.ts';
import {
  decodeDhcp,
  DHCP,
  DHCP_CLIENT_PORT,
  DHCP_SERVER_PORT,
  encodeDhcp,
  encodeOpt,
  messageType,
  OPT,
  optAddress,
  optAddresses,
  optText,
  optU32,
  type DhcpMessage,
} from '../../wire/dhcp.ts';
import type { Ipv4 } from '../ipv4.ts';
import type { Udp, UdpDatagram, UdpSocket } from '../udp.ts';

export interface DhcpLease {
  readonly address: number;
  readonly prefixLen: number;
  readonly gateway: number | undefined;
  readonly dns: readonly number[];
  readonly server: number;
  /** Seconds; 0xffffffff is infinite. */
  readonly leaseSeconds: number;
  readonly domain: string | undefined;
  /** The host name the server gave (option 12), if any. */
  readonly hostname: string | undefined;
  readonly boundAtNs: bigint;
  readonly renewAtNs: bigint;
  readonly rebindAtNs: bigint;
  readonly expiresAtNs: bigint;
}

export type DhcpState = 'init' | 'selecting' | 'requesting' | 'checking' | 'bound' | 'renewing' | 'rebinding';

/** What the client needs from ARP to check that an offered address is free (RFC 5227 §2.1). */
export interface ArpProber {
  probe(ip: number): void;
  onSender: ((ip: number) => void) | undefined;
}

export interface DhcpClientOptions {
  readonly udp: Udp;
  readonly ipv4: Ipv4;
  readonly clock: Clock;
  readonly random: Random;
  readonly mac: Uint8Array;
  readonly hostname?: string;
  /** Probe an acknowledged address before using it, and DECLINE it when someone answers. */
  readonly arp?: ArpProber;
  /** How long to listen for an answer to the probes, in ms (default 1000). */
  readonly probeWaitMs?: number;
  /** First retransmission delay in ms (default 4000, RFC 2131 §4.1). */
  readonly firstRetryMs?: number;
  /** Least wait between renewal attempts in ms (default 60000). */
  readonly minRenewRetryMs?: number;
  /** Called when a lease is bound or renewed; the address is already configured. */
  readonly onBound?: (lease: DhcpLease, renewed: boolean) => void;
  /** Called when the lease is gone (expired or NAKed); the address is already removed. */
  readonly onLost?: (reason: 'expired' | 'nak') => void;
  /** Progress, for the console: `dhcp-discover attempt=2`, … */
  readonly log?: (event: string, fields: Record<string, unknown>) => void;
}

const MS = 1_000_000n;
const S = 1_000_000_000n;
const INFINITE = 0xffffffff;
/** REQUESTs sent in REQUESTING before starting over (RFC 2131 §3.1 step 5). */
const MAX_REQUESTS = 4;

function prefixFromMask(mask: number): number | undefined {
  let n = 0;
  while (n < 32 && (mask & (0x80000000 >>> n)) !== 0) n++;
  return (mask << n) >>> 0 === 0 || n === 32 ? n : undefined;
}

export class DhcpClient {
  private readonly o: DhcpClientOptions;
  private readonly socket: UdpSocket;
  state: DhcpState = 'init';
  lease: DhcpLease | undefined;
  private xid = 0;
  private startedNs = 0n;
  private nextAtNs: bigint | undefined;
  private attempt = 0;
  private offer: DhcpMessage | undefined;
  /** The ACK being checked for conflicts, and whether a probe was answered. */
  private pendingAck: DhcpMessage | undefined;
  private conflict = false;
  readonly counters = { sent: 0, received: 0, ignored: 0, naks: 0, renewals: 0, declines: 0 };

  constructor(o: DhcpClientOptions) {
    this.o = o;
    const s = o.udp.bind(DHCP_CLIENT_PORT, (d) => this.receive(d));
    if (typeof s === 'string') throw new Error(`DHCP client cannot bind UDP port ${DHCP_CLIENT_PORT}: ${s}`);
    this.socket = s;
    if (o.arp)
      o.arp.onSender = (ip) => {
        if (this.state === 'checking' && ip === this.pendingAck?.yiaddr) this.conflict = true;
      };
  }

  /** Begins acquiring a lease (INIT → SELECTING). */
  start(): void {
    this.restart(this.o.clock.monotonicNs());
  }

  private restart(now: bigint): void {
    this.state = 'selecting';
    this.xid = this.o.random.u32();
    this.startedNs = now;
    this.attempt = 0;
    this.offer = undefined;
    this.transmit(now);
  }

  private backoffNs(): bigint {
    const base = BigInt(this.o.firstRetryMs ?? 4000) * MS;
    const exp = base << BigInt(Math.min(this.attempt - 1, 4)); // 4, 8, 16, 32, 64 s
    const jitter = BigInt(this.o.random.u32() % 2001) * MS - 1000n * MS; // ±1 s (RFC 2131 §4.1)
    const d = exp + (base >= 1000n * MS ? jitter : 0n);
    return d > 0n ? d : base;
  }

  private transmit(now: bigint): void {
    this.attempt++;
    const l = this.lease;
    const o: Map<number, Uint8Array> = new Map();
    let type: number = DHCP.DISCOVER;
    let ciaddr = 0;
    let dst = 0xffffffff;
    if (this.state === 'requesting') {
      type = DHCP.REQUEST;
      o.set(OPT.REQUESTED_IP, encodeOpt.u32(this.offer!.yiaddr));
      o.set(OPT.SERVER_ID, encodeOpt.u32(optAddress(this.offer!, OPT.SERVER_ID)!));
    } else if (this.state === 'renewing' || this.state === 'rebinding') {
      type = DHCP.REQUEST;
      ciaddr = l!.address;
      if (this.state === 'renewing') dst = l!.server;
    }
    o.set(OPT.MESSAGE_TYPE, encodeOpt.u8(type));
    o.set(OPT.CLIENT_ID, Uint8Array.of(1, ...this.o.mac));
    o.set(OPT.MAX_SIZE, Uint8Array.of(0x05, 0xdc));
    o.set(
      OPT.PARAMS,
      Uint8Array.of(
        OPT.SUBNET_MASK,
        OPT.ROUTER,
        OPT.DNS,
        OPT.HOSTNAME,
        OPT.DOMAIN,
        OPT.BROADCAST,
        OPT.LEASE_TIME,
        OPT.RENEWAL,
        OPT.REBINDING,
      ),
    );
    if (this.o.hostname) o.set(OPT.HOSTNAME, encodeOpt.text(this.o.hostname));
    const secs = Number((now - this.startedNs) / S);
    const m: DhcpMessage = {
      op: 1,
      xid: this.xid,
      secs: Math.min(secs, 0xffff),
      broadcast: ciaddr === 0,
      ciaddr,
      yiaddr: 0,
      siaddr: 0,
      giaddr: 0,
      chaddr: this.o.mac,
      options: o,
    };
    this.socket.send(dst, DHCP_SERVER_PORT, encodeDhcp(m));
    this.counters.sent++;
    this.o.log?.(type === DHCP.DISCOVER ? 'dhcp-discover' : 'dhcp-request', {
      state: this.state,
      attempt: this.attempt,
      xid: this.xid.toString(16),
    });
    if (this.state === 'renewing' || this.state === 'rebinding') {
      const until = this.state === 'renewing' ? l!.rebindAtNs : l!.expiresAtNs;
      let wait = (until - now) / 2n;
      const min = BigInt(this.o.minRenewRetryMs ?? 60_000) * MS;
      if (wait < min) wait = min;
      this.nextAtNs = now + wait < until ? now + wait : until;
    } else {
      this.nextAtNs = now + this.backoffNs();
    }
  }

  private receive(d: UdpDatagram): void {
    if (d.srcPort !== DHCP_SERVER_PORT) {
      this.counters.ignored++;
      return;
    }
    const m = decodeDhcp(d.data);
    if (typeof m === 'string' || m.op !== 2 || m.xid !== this.xid || !macEquals(m.chaddr, 0, this.o.mac)) {
      this.counters.ignored++;
      return;
    }
    this.counters.received++;
    const t = messageType(m);
    const now = this.o.clock.monotonicNs();
    if (t === DHCP.OFFER && this.state === 'selecting') {
      if (m.yiaddr === 0 || optAddress(m, OPT.SERVER_ID) === undefined) {
        this.counters.ignored++;
        return;
      }
      this.offer = m;
      this.state = 'requesting';
      this.attempt = 0;
      this.transmit(now);
    } else if (t === DHCP.ACK && this.state === 'requesting' && this.o.arp) {
      // RFC 2131 §4.4.1: check the address is not in use before taking it.
      this.state = 'checking';
      this.pendingAck = m;
      this.conflict = false;
      this.o.arp.probe(m.yiaddr);
      this.o.log?.('dhcp-probe', { address: m.yiaddr });
      this.nextAtNs = now + BigInt(this.o.probeWaitMs ?? 1000) * MS;
    } else if (t === DHCP.ACK && (this.state === 'requesting' || this.state === 'renewing' || this.state === 'rebinding')) {
      this.bind(m, now);
    } else if (t === DHCP.NAK && (this.state === 'requesting' || this.state === 'renewing' || this.state === 'rebinding')) {
      this.counters.naks++;
      this.o.log?.('dhcp-nak', { state: this.state, message: optText(m, OPT.MESSAGE) ?? '' });
      this.drop('nak');
      this.restart(now);
    } else {
      this.counters.ignored++;
    }
  }

  private bind(m: DhcpMessage, now: bigint): void {
    const leaseS = optU32(m, OPT.LEASE_TIME) ?? 3600;
    const mask = optAddress(m, OPT.SUBNET_MASK);
    // Without a mask, assume the classful default's modern stand-in: a /24.
    const prefixLen = (mask === undefined ? undefined : prefixFromMask(mask)) ?? 24;
    const at = (s: number): bigint => (leaseS === INFINITE ? now + 100n * 365n * 86400n * S : now + BigInt(s) * S);
    const t1 = optU32(m, OPT.RENEWAL) ?? Math.floor(leaseS * 0.5);
    const t2 = optU32(m, OPT.REBINDING) ?? Math.floor(leaseS * 0.875);
    const renewed = this.state !== 'requesting' && this.state !== 'checking';
    const lease: DhcpLease = {
      address: m.yiaddr,
      prefixLen,
      gateway: optAddresses(m, OPT.ROUTER)[0],
      dns: optAddresses(m, OPT.DNS),
      server: optAddress(m, OPT.SERVER_ID) ?? this.lease?.server ?? 0,
      leaseSeconds: leaseS,
      domain: optText(m, OPT.DOMAIN),
      hostname: optText(m, OPT.HOSTNAME),
      boundAtNs: now,
      renewAtNs: at(Math.min(t1, leaseS)),
      rebindAtNs: at(Math.min(Math.max(t2, t1), leaseS)),
      expiresAtNs: at(leaseS),
    };
    this.lease = lease;
    this.state = 'bound';
    this.attempt = 0;
    this.nextAtNs = lease.renewAtNs;
    if (renewed) this.counters.renewals++;
    this.o.ipv4.configure({ ...this.o.ipv4.config, address: lease.address, prefixLen, gateway: lease.gateway });
    this.o.onBound?.(lease, renewed);
  }

  /** Someone answered the probe: tell the server (DHCPDECLINE) and start over after 10 s (RFC 2131 §3.1.5). */
  private decline(ack: DhcpMessage, now: bigint): void {
    this.counters.declines++;
    const o = new Map<number, Uint8Array>([
      [OPT.MESSAGE_TYPE, encodeOpt.u8(DHCP.DECLINE)],
      [OPT.REQUESTED_IP, encodeOpt.u32(ack.yiaddr)],
      [OPT.SERVER_ID, encodeOpt.u32(optAddress(ack, OPT.SERVER_ID) ?? 0)],
      [OPT.CLIENT_ID, Uint8Array.of(1, ...this.o.mac)],
    ]);
    this.socket.send(
      0xffffffff,
      DHCP_SERVER_PORT,
      encodeDhcp({
        op: 1,
        xid: this.xid,
        secs: 0,
        broadcast: true,
        ciaddr: 0,
        yiaddr: 0,
        siaddr: 0,
        giaddr: 0,
        chaddr: this.o.mac,
        options: o,
      }),
    );
    this.counters.sent++;
    this.o.log?.('dhcp-decline', { address: ack.yiaddr, reason: 'another host answered the ARP probe' });
    this.state = 'init';
    this.nextAtNs = now + 10n * S;
  }

  private drop(reason: 'expired' | 'nak'): void {
    if (!this.lease) return;
    this.lease = undefined;
    this.o.ipv4.configure({ ...this.o.ipv4.config, address: 0, gateway: undefined });
    this.o.onLost?.(reason);
  }

  /** Does what is due; returns true when it sent anything. */
  poll(now: bigint): boolean {
    if (this.nextAtNs === undefined || now < this.nextAtNs) return false;
    switch (this.state) {
      case 'init':
        this.restart(now);
        return true;
      case 'selecting':
        this.transmit(now);
        return true;
      case 'requesting':
        if (this.attempt >= MAX_REQUESTS) this.restart(now);
        else this.transmit(now);
        return true;
      case 'checking': {
        const ack = this.pendingAck!;
        this.pendingAck = undefined;
        if (!this.conflict) {
          this.bind(ack, now);
          return true;
        }
        this.decline(ack, now);
        return true;
      }
      case 'bound':
      case 'renewing':
      case 'rebinding': {
        const l = this.lease!;
        if (now >= l.expiresAtNs) {
          this.o.log?.('dhcp-expired', { address: l.address });
          this.drop('expired');
          this.restart(now);
        } else if (now >= l.rebindAtNs && this.state !== 'rebinding') {
          this.state = 'rebinding';
          this.attempt = 0;
          this.transmit(now);
        } else if (this.state === 'bound') {
          this.state = 'renewing';
          this.xid = this.o.random.u32();
          this.startedNs = now;
          this.attempt = 0;
          this.transmit(now);
        } else {
          this.transmit(now);
        }
        return true;
      }
    }
  }

  pollAtNs(): bigint | undefined {
    return this.nextAtNs;
  }

  /** Stops: releases the UDP port. The lease is kept by the server until it expires. */
  close(): void {
    this.socket.close();
  }
}
