/**
 * A DHCPv4 server (RFC 2131 §4.3) for one subnet: an address pool, static
 * leases by MAC, offers held briefly, REQUEST in its SELECTING,
 * INIT-REBOOT, RENEWING and REBINDING forms, DECLINE, RELEASE and INFORM,
 * and replies addressed as §4.1 says (relay, broadcast, or the client's
 * address). Leases are kept by wall-clock expiry and go through a
 * `LeaseStore` on every change, so a restarted server knows them.
 *
 * Pure logic: `handle(message, nowWallMs)` returns the reply and where to
 * send it; the caller owns the socket and the clock.
 */
import { formatMac, parseMac } from '../../devices/index.ts';
import { DHCP, encodeOpt, messageType, OPT, optAddress, optText, type DhcpMessage } from '../../wire/dhcp.ts';
import { formatIpv4Address, prefixMask } from '../../wire/ipv4.ts';

export interface StaticLease {
  readonly mac: string;
  readonly address: number;
  readonly hostname?: string;
}

export interface DhcpServerConfig {
  /** This server's address (the server identifier, option 54). */
  readonly address: number;
  readonly prefixLen: number;
  /** First and last address handed out dynamically (inclusive). */
  readonly poolFirst: number;
  readonly poolLast: number;
  readonly router?: number;
  readonly dns?: readonly number[];
  readonly domain?: string;
  /** Lease length in seconds (default 3600). */
  readonly leaseSeconds?: number;
  readonly statics?: readonly StaticLease[];
}

export interface LeaseRecord {
  readonly mac: string;
  readonly address: number;
  /** Wall-clock ms when it expires. */
  readonly expiresMs: number;
  readonly hostname?: string | undefined;
  /** An address a client declined: held out of the pool until expiry. */
  readonly declined?: boolean;
}

export interface LeaseStore {
  /** Persists the full set; false when it could not (the lease is then not granted). */
  save(leases: readonly LeaseRecord[]): boolean;
}

export interface DhcpReply {
  readonly message: DhcpMessage;
  /** Destination address and port (67 for a relay, 68 for a client). */
  readonly dst: number;
  readonly dstPort: number;
}

/** How long an offer holds its address for the client (RFC 2131 §4.3.1 leaves it to us). */
const OFFER_HOLD_MS = 60_000;
/** How long a declined address stays out of the pool. */
const DECLINE_HOLD_MS = 10 * 60_000;

export class DhcpServer {
  private readonly c: DhcpServerConfig;
  private readonly store: LeaseStore | undefined;
  private readonly byMac = new Map<string, LeaseRecord>();
  private readonly byAddress = new Map<number, LeaseRecord>();
  private readonly offers = new Map<string, { address: number; untilMs: number }>();
  /** The same offers by address, so checking an address is one lookup, not a scan. */
  private readonly offered = new Map<number, { mac: string; untilMs: number }>();
  private readonly statics = new Map<string, StaticLease>();
  private readonly staticAddresses = new Set<number>();
  readonly counters = {
    discovers: 0,
    offers: 0,
    requests: 0,
    acks: 0,
    naks: 0,
    declines: 0,
    releases: 0,
    informs: 0,
    ignored: 0,
    storeFailures: 0,
  };
  /** Why the last message got no answer, for the log. */
  lastIgnored = '';

  constructor(c: DhcpServerConfig, restored: readonly LeaseRecord[] = [], store?: LeaseStore) {
    this.c = c;
    this.store = store;
    const m = prefixMask(c.prefixLen);
    const inNet = (a: number): boolean => (a & m) >>> 0 === (c.address & m) >>> 0;
    if (!inNet(c.poolFirst) || !inNet(c.poolLast) || c.poolFirst > c.poolLast) {
      throw new RangeError(
        `pool ${formatIpv4Address(c.poolFirst)}-${formatIpv4Address(c.poolLast)} is not a range inside ${formatIpv4Address(c.address)}/${c.prefixLen}`,
      );
    }
    for (const s of c.statics ?? []) {
      const mac = parseMac(s.mac);
      if (!mac) throw new RangeError(`static lease MAC '${s.mac}' is not a MAC address`);
      if (!inNet(s.address))
        throw new RangeError(`static lease ${formatIpv4Address(s.address)} is outside ${formatIpv4Address(c.address)}/${c.prefixLen}`);
      this.statics.set(formatMac(mac), s);
      this.staticAddresses.add(s.address);
    }
    for (const l of restored) this.put(l);
  }

  get leaseSeconds(): number {
    return this.c.leaseSeconds ?? 3600;
  }

  /** The current leases (live and declined), for inspection and persistence. */
  leases(): LeaseRecord[] {
    return [...this.byMac.values(), ...[...this.byAddress.values()].filter((l) => l.declined)];
  }

  private put(l: LeaseRecord): void {
    if (!l.declined) {
      const old = this.byMac.get(l.mac);
      if (old && this.byAddress.get(old.address) === old) this.byAddress.delete(old.address);
      this.byMac.set(l.mac, l);
    }
    this.byAddress.set(l.address, l);
  }

  private remove(mac: string): void {
    const l = this.byMac.get(mac);
    if (!l) return;
    this.byMac.delete(mac);
    if (this.byAddress.get(l.address) === l) this.byAddress.delete(l.address);
  }

  /** True when `a` may go to `mac` now. */
  private available(a: number, mac: string, now: number): boolean {
    if (a === this.c.address || a === 0) return false;
    const s = this.statics.get(mac);
    if (this.staticAddresses.has(a)) return s?.address === a;
    if (a < this.c.poolFirst || a > this.c.poolLast) return false;
    const l = this.byAddress.get(a);
    if (l && l.expiresMs > now && (l.declined || l.mac !== mac)) return false;
    const o = this.offered.get(a);
    return !(o && o.mac !== mac && o.untilMs > now);
  }

  private choose(mac: string, requested: number | undefined, now: number): number | undefined {
    const s = this.statics.get(mac);
    if (s) return s.address;
    const mine = this.byMac.get(mac);
    if (mine && this.available(mine.address, mac, now)) return mine.address;
    const offered = this.offers.get(mac);
    if (offered && this.available(offered.address, mac, now)) return offered.address;
    if (requested !== undefined && this.available(requested, mac, now)) return requested;
    for (let a = this.c.poolFirst; a <= this.c.poolLast; a++) {
      // Skip addresses ever leased to others, live or expired, while fresh ones remain (keeps old bindings stable).
      if (!this.byAddress.has(a) && this.available(a, mac, now)) return a;
    }
    for (let a = this.c.poolFirst; a <= this.c.poolLast; a++) if (this.available(a, mac, now)) return a;
    return undefined;
  }

  private options(type: number, withLease: boolean, hostname?: string): Map<number, Uint8Array> {
    const o = new Map<number, Uint8Array>();
    o.set(OPT.MESSAGE_TYPE, encodeOpt.u8(type));
    o.set(OPT.SERVER_ID, encodeOpt.u32(this.c.address));
    if (type === DHCP.NAK) return o;
    if (withLease) {
      const t = this.leaseSeconds;
      o.set(OPT.LEASE_TIME, encodeOpt.u32(t));
      o.set(OPT.RENEWAL, encodeOpt.u32(Math.floor(t / 2)));
      o.set(OPT.REBINDING, encodeOpt.u32(Math.floor((t * 7) / 8)));
    }
    o.set(OPT.SUBNET_MASK, encodeOpt.u32(prefixMask(this.c.prefixLen)));
    if (this.c.router !== undefined) o.set(OPT.ROUTER, encodeOpt.addrs([this.c.router]));
    if (this.c.dns?.length) o.set(OPT.DNS, encodeOpt.addrs(this.c.dns));
    if (this.c.domain) o.set(OPT.DOMAIN, encodeOpt.text(this.c.domain));
    if (hostname) o.set(OPT.HOSTNAME, encodeOpt.text(hostname));
    return o;
  }

  private reply(q: DhcpMessage, type: number, yiaddr: number, opts: Map<number, Uint8Array>): DhcpReply {
    const message: DhcpMessage = {
      op: 2,
      xid: q.xid,
      secs: 0,
      broadcast: q.broadcast,
      ciaddr: type === DHCP.NAK ? 0 : q.ciaddr,
      yiaddr,
      siaddr: 0,
      giaddr: q.giaddr,
      chaddr: q.chaddr,
      options: opts,
    };
    // RFC 2131 §4.1, "If the 'giaddr' field …": relay, NAK broadcast, ciaddr, else broadcast
    // (unicasting to a client without an address needs an ARP entry we cannot make).
    if (q.giaddr !== 0) return { message, dst: q.giaddr, dstPort: 67 };
    if (type !== DHCP.NAK && q.ciaddr !== 0) return { message, dst: q.ciaddr, dstPort: 68 };
    return { message, dst: 0xffffffff, dstPort: 68 };
  }

  private unoffer(mac: string): void {
    const o = this.offers.get(mac);
    if (!o) return;
    this.offers.delete(mac);
    if (this.offered.get(o.address)?.mac === mac) this.offered.delete(o.address);
  }

  private ignore(why: string): undefined {
    this.counters.ignored++;
    this.lastIgnored = why;
    return undefined;
  }

  private nak(q: DhcpMessage, why: string): DhcpReply {
    this.counters.naks++;
    const o = this.options(DHCP.NAK, false);
    o.set(OPT.MESSAGE, encodeOpt.text(why));
    return this.reply(q, DHCP.NAK, 0, o);
  }

  /** Answers one client message; undefined when it needs no answer. */
  handle(q: DhcpMessage, nowMs: number): DhcpReply | undefined {
    if (q.op !== 1) return this.ignore('not a request');
    const mac = formatMac(q.chaddr);
    const type = messageType(q);
    const server = optAddress(q, OPT.SERVER_ID);
    const hostname = optText(q, OPT.HOSTNAME);
    for (const [m, o] of this.offers) if (o.untilMs <= nowMs) this.unoffer(m);
    switch (type) {
      case DHCP.DISCOVER: {
        this.counters.discovers++;
        const a = this.choose(mac, optAddress(q, OPT.REQUESTED_IP), nowMs);
        if (a === undefined) return this.ignore(`pool exhausted; no address for ${mac}`);
        this.unoffer(mac);
        this.offers.set(mac, { address: a, untilMs: nowMs + OFFER_HOLD_MS });
        this.offered.set(a, { mac, untilMs: nowMs + OFFER_HOLD_MS });
        this.counters.offers++;
        return this.reply(q, DHCP.OFFER, a, this.options(DHCP.OFFER, true, this.statics.get(mac)?.hostname));
      }
      case DHCP.REQUEST: {
        this.counters.requests++;
        const requested = optAddress(q, OPT.REQUESTED_IP);
        if (server !== undefined) {
          // SELECTING: the client chose a server; if not us, our offer is void.
          if (server !== this.c.address) {
            this.unoffer(mac);
            return this.ignore(`${mac} chose server ${formatIpv4Address(server)}`);
          }
          if (requested === undefined) return this.nak(q, 'REQUEST without a requested address');
        }
        const want = requested ?? q.ciaddr;
        if (want === 0) return this.nak(q, 'REQUEST names no address');
        const m = prefixMask(this.c.prefixLen);
        if ((want & m) >>> 0 !== (this.c.address & m) >>> 0) return this.nak(q, 'address is on the wrong network');
        if (server === undefined && q.ciaddr === 0 && !this.byMac.has(mac) && !this.statics.has(mac) && !this.offers.has(mac)) {
          // INIT-REBOOT for a binding we never made: stay silent (RFC 2131 §4.3.2).
          if (!this.available(want, mac, nowMs)) return this.nak(q, 'address belongs to another client');
          return this.ignore(`INIT-REBOOT from unknown ${mac}`);
        }
        if (!this.available(want, mac, nowMs)) return this.nak(q, 'address not available');
        const lease: LeaseRecord = {
          mac,
          address: want,
          expiresMs: nowMs + this.leaseSeconds * 1000,
          hostname: hostname ?? this.statics.get(mac)?.hostname,
        };
        const before = this.byMac.get(mac);
        this.put(lease);
        if (this.store && !this.store.save(this.leases())) {
          // Nothing granted that is not on disk: undo and tell the client no.
          this.remove(mac);
          if (before) this.put(before);
          this.counters.storeFailures++;
          return this.nak(q, 'server cannot record the lease');
        }
        this.unoffer(mac);
        this.counters.acks++;
        return this.reply(q, DHCP.ACK, want, this.options(DHCP.ACK, true, this.statics.get(mac)?.hostname));
      }
      case DHCP.DECLINE: {
        this.counters.declines++;
        const a = optAddress(q, OPT.REQUESTED_IP);
        if (a === undefined || server !== this.c.address) return this.ignore('DECLINE without our server id or an address');
        this.remove(mac);
        this.put({ mac, address: a, expiresMs: nowMs + DECLINE_HOLD_MS, declined: true });
        this.store?.save(this.leases());
        return undefined;
      }
      case DHCP.RELEASE: {
        this.counters.releases++;
        const l = this.byMac.get(mac);
        if (l && l.address === q.ciaddr) {
          this.remove(mac);
          this.store?.save(this.leases());
        }
        return undefined;
      }
      case DHCP.INFORM: {
        this.counters.informs++;
        if (q.ciaddr === 0) return this.ignore('INFORM without ciaddr');
        return this.reply(q, DHCP.ACK, 0, this.options(DHCP.ACK, false));
      }
      default:
        return this.ignore(`message type ${type ?? 'missing'}`);
    }
  }

  /** Drops expired leases (not persisted until the next change). */
  expire(nowMs: number): number {
    let n = 0;
    for (const [mac, l] of this.byMac)
      if (l.expiresMs <= nowMs) {
        this.remove(mac);
        n++;
      }
    for (const [a, l] of this.byAddress)
      if (l.declined && l.expiresMs <= nowMs) {
        this.byAddress.delete(a);
        n++;
      }
    return n;
  }
}

/** Leases as bytes for a `SlotStore`, and back (bad input gives an empty list and a reason). */
export function encodeLeases(leases: readonly LeaseRecord[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ version: 1, leases }));
}

export function decodeLeases(b: Uint8Array): LeaseRecord[] | string {
  try {
    const j = JSON.parse(new TextDecoder().decode(b)) as { version?: number; leases?: unknown };
    if (j.version !== 1 || !Array.isArray(j.leases)) return 'lease file has an unknown version';
    const out: LeaseRecord[] = [];
    for (const l of j.leases as Record<string, unknown>[]) {
      if (typeof l.mac !== 'string' || typeof l.address !== 'number' || typeof l.expiresMs !== 'number')
        return 'a lease record is malformed';
      out.push({
        mac: l.mac,
        address: l.address >>> 0,
        expiresMs: l.expiresMs,
        hostname: typeof l.hostname === 'string' ? l.hostname : undefined,
        declined: l.declined === true,
      });
    }
    return out;
  } catch {
    return 'lease file is not valid JSON';
  }
}
