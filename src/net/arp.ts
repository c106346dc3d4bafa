/**
 * ARP (RFC 826) for one IPv4 address on one Ethernet: a cache with expiry,
 * at most one request per unresolved address per retry interval, a bounded
 * queue of frames waiting for resolution, gratuitous ARP on start
 * (RFC 5227 §3 announcement) and replies to probes (sender address 0).
 */
import type { Clock, MacAddress } from '../devices/index.ts';
import { ARP_LEN, ARP_REPLY, ARP_REQUEST, ArpView, emitArp } from '../wire/arp.ts';
import { BROADCAST_MAC, macEquals, ZERO_MAC } from '../wire/bytes.ts';
import { ETHERNET_HEADER_LEN, ETHERTYPE_ARP } from '../wire/ethernet.ts';
import { counters } from './counters.ts';
import type { Ethernet, EthernetHandler } from './ethernet.ts';

export interface ArpOptions {
  /** How long a learned address stays valid (default 60 s). */
  readonly entryTtlNs?: bigint;
  /** Interval between requests for one unresolved address (default 1 s): the rate limit. */
  readonly retryNs?: bigint;
  /** Requests sent before giving up on an address and dropping its queue (default 3). */
  readonly maxRequests?: number;
  /**
   * Bytes of frames queued per unresolved address (default 256 KiB, room for
   * a few fragmented 64 KB datagrams, like Linux's unres_qlen_bytes) and in
   * all (default 1 MiB).
   */
  readonly queueBytesPerAddress?: number;
  readonly queueBytesTotal?: number;
  /** Cache entries at most (default 1024); the oldest is evicted. */
  readonly maxEntries?: number;
}

interface Entry {
  mac: MacAddress | undefined;
  expiresNs: bigint;
  /** Unresolved: when the next request is due, and how many were sent. */
  nextRequestNs: bigint;
  requests: number;
  queue: { frame: Uint8Array; ethertype: number; gsoSize: number | undefined }[];
  queuedBytes: number;
}

const DROPS = ['malformed', 'unsupported', 'not-for-us', 'conflict', 'looped-back', 'queue-full', 'unresolved'] as const;

export class Arp implements EthernetHandler {
  private readonly eth: Ethernet;
  private readonly clock: Clock;
  private readonly entries = new Map<number, Entry>();
  private readonly view = new ArpView();
  private readonly tx = new Uint8Array(ETHERNET_HEADER_LEN + ARP_LEN);
  private readonly opts: Required<ArpOptions>;
  /** Bytes of frames waiting for resolution. */
  private queued = 0;
  /** This host's IPv4 address; 0 while it has none. */
  address = 0;
  /** Told the sender address of every ARP packet from another host (address conflict detection, RFC 5227). */
  onSender: ((ip: number) => void) | undefined;
  readonly drops = counters(DROPS);
  requestsSent = 0;
  repliesSent = 0;

  constructor(eth: Ethernet, clock: Clock, opts: ArpOptions = {}) {
    this.eth = eth;
    this.clock = clock;
    this.opts = {
      entryTtlNs: opts.entryTtlNs ?? 60_000_000_000n,
      retryNs: opts.retryNs ?? 1_000_000_000n,
      maxRequests: opts.maxRequests ?? 3,
      queueBytesPerAddress: opts.queueBytesPerAddress ?? 256 * 1024,
      queueBytesTotal: opts.queueBytesTotal ?? 1024 * 1024,
      maxEntries: opts.maxEntries ?? 1024,
    };
    eth.register(ETHERTYPE_ARP, this);
  }

  /** Announces the address (gratuitous ARP), so neighbours update their caches. */
  announce(): void {
    if (this.address !== 0) this.send(ARP_REQUEST, BROADCAST_MAC, ZERO_MAC, this.address, this.address);
  }

  /** Sends an ARP probe for `ip` (sender address 0, RFC 5227 §2.1.1): asks whether anyone has it, without claiming it. */
  probe(ip: number): void {
    this.send(ARP_REQUEST, BROADCAST_MAC, ZERO_MAC, 0, ip);
  }

  /** The MAC for `ip` if known and fresh. */
  lookup(ip: number): MacAddress | undefined {
    const e = this.entries.get(ip);
    if (!e?.mac) return undefined;
    if (e.expiresNs <= this.clock.monotonicNs()) {
      this.entries.delete(ip);
      return undefined;
    }
    return e.mac;
  }

  /**
   * Sends `frame` (laid out with 14 bytes of Ethernet header room) to the
   * host `nextHop`, resolving it first if need be; the frame is copied when it
   * has to wait. Returns false when it was dropped.
   */
  output(nextHop: number, frame: Uint8Array, ethertype: number, gsoSize?: number): boolean {
    const mac = this.lookup(nextHop);
    if (mac) return this.eth.transmit(frame, mac, ethertype, gsoSize) === 'ok';
    const now = this.clock.monotonicNs();
    let e = this.entries.get(nextHop);
    if (!e) {
      e = { mac: undefined, expiresNs: 0n, nextRequestNs: now, requests: 0, queue: [], queuedBytes: 0 };
      this.insert(nextHop, e);
    }
    if (e.queuedBytes + frame.length > this.opts.queueBytesPerAddress || this.queued + frame.length > this.opts.queueBytesTotal) {
      this.drops['queue-full']++;
      return false;
    }
    e.queue.push({ frame: frame.slice(), ethertype, gsoSize });
    e.queuedBytes += frame.length;
    this.queued += frame.length;
    if (e.nextRequestNs <= now) this.request(nextHop, e, now);
    return true;
  }

  private request(ip: number, e: Entry, now: bigint): void {
    e.requests++;
    e.nextRequestNs = now + this.opts.retryNs;
    this.send(ARP_REQUEST, BROADCAST_MAC, ZERO_MAC, this.address, ip);
    this.requestsSent++;
  }

  private insert(ip: number, e: Entry): void {
    if (this.entries.size >= this.opts.maxEntries) {
      for (const [k, old] of this.entries) {
        // Evict the oldest entry; its waiting frames are lost.
        this.queued -= old.queuedBytes;
        this.drops.unresolved += old.queue.length;
        this.entries.delete(k);
        break;
      }
    }
    this.entries.set(ip, e);
  }

  receive(buf: Uint8Array, off: number, end: number): void {
    const v = this.view;
    const r = v.check(buf, off, end);
    if (r !== 'ok') {
      if (r === 'truncated') this.drops.malformed++;
      else this.drops.unsupported++;
      return;
    }
    const spa = v.senderIp,
      tpa = v.targetIp,
      op = v.operation;
    const shaAt = v.senderMacAt;
    if (buf[shaAt]! & 1) {
      this.drops.malformed++; // A group address cannot own an IP address.
      return;
    }
    const ours = macEquals(buf, shaAt, this.eth.mac);
    if (spa !== 0 && !ours) this.onSender?.(spa);
    if (spa !== 0 && spa === this.address) {
      // Our own announcement looped back (a bridge or a hub echoes it) is not a conflict: RFC 5227 §2.4 counts a
      // packet with our address as sender only when its sender hardware address is not ours.
      if (ours) this.drops['looped-back']++;
      else this.drops.conflict++; // Someone else claims our address: count it, do not learn it.
      return;
    }
    const forUs = this.address !== 0 && tpa === this.address;
    // RFC 826 "merge": update an existing entry for the sender; add one if we are the target.
    if (spa !== 0) {
      const e = this.entries.get(spa);
      if (e || forUs) this.learn(spa, buf, shaAt);
    }
    if (op === ARP_REQUEST && forUs) {
      // A probe (sender 0, RFC 5227) is answered like any request; the reply goes to the prober's MAC.
      const sha = v.senderMac();
      this.send(ARP_REPLY, sha, sha, this.address, spa);
      this.repliesSent++;
    } else if (!forUs && op === ARP_REQUEST && spa !== tpa) {
      this.drops['not-for-us']++; // A request for another host; announcements (spa = tpa) are not drops.
    }
  }

  /** Records that `ip` is at the MAC in `buf[at..at+6)`; sends what waited for it. */
  private learn(ip: number, buf: Uint8Array, at: number): void {
    const now = this.clock.monotonicNs();
    let e = this.entries.get(ip);
    if (!e) {
      e = { mac: undefined, expiresNs: 0n, nextRequestNs: 0n, requests: 0, queue: [], queuedBytes: 0 };
      this.insert(ip, e);
    }
    if (!e.mac || !macEquals(buf, at, e.mac)) e.mac = buf.slice(at, at + 6);
    e.expiresNs = now + this.opts.entryTtlNs;
    e.requests = 0;
    const waiting = e.queue;
    e.queue = [];
    this.queued -= e.queuedBytes;
    e.queuedBytes = 0;
    for (const q of waiting) this.eth.transmit(q.frame, e.mac, q.ethertype, q.gsoSize);
  }

  private send(op: number, dstMac: MacAddress, tha: MacAddress, spa: number, tpa: number): void {
    emitArp(
      { operation: op, senderMac: this.eth.mac, senderIp: spa, targetMac: tha, targetIp: tpa },
      this.tx.subarray(ETHERNET_HEADER_LEN),
    );
    this.eth.transmit(this.tx, dstMac, ETHERTYPE_ARP);
  }

  /** Retries due requests and gives up on addresses that never answered. */
  poll(now: bigint): boolean {
    let did = false;
    for (const [ip, e] of this.entries) {
      if (e.mac) {
        if (e.expiresNs <= now) this.entries.delete(ip);
        continue;
      }
      if (e.nextRequestNs > now) continue;
      did = true;
      if (e.requests >= this.opts.maxRequests) {
        this.drops.unresolved += e.queue.length;
        this.queued -= e.queuedBytes;
        this.entries.delete(ip);
      } else {
        this.request(ip, e, now);
      }
    }
    return did;
  }

  pollAtNs(): bigint | undefined {
    let t: bigint | undefined;
    for (const e of this.entries.values()) {
      if (e.mac) continue;
      if (t === undefined || e.nextRequestNs < t) t = e.nextRequestNs;
    }
    return t;
  }

  /** Number of cache entries (resolved or not). */
  get size(): number {
    return this.entries.size;
  }
}
