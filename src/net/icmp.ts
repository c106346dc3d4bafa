/**
 * ICMPv4 for a host (RFC 792, RFC 1122 §3.2.2): answers echo requests,
 * reports echo replies to listeners, and sends rate-limited errors (port and
 * protocol unreachable, reassembly time exceeded) — never about an ICMP
 * error, a broadcast, or a datagram from a non-unicast source.
 */
import type { Clock } from '../devices/index.ts';
import {
  EXCEEDED_REASSEMBLY,
  emitIcmpv4,
  ICMP_DEST_UNREACHABLE,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_TIME_EXCEEDED,
  Icmpv4View,
  type Icmpv4Repr,
  UNREACH_PORT,
  UNREACH_PROTOCOL,
} from '../wire/icmpv4.ts';
import { isMulticast, PROTO_ICMP } from '../wire/ipv4.ts';
import { u32 } from '../wire/bytes.ts';
import { counters, type SendResult } from './counters.ts';
import { IPV4_PAYLOAD_AT, type Ipv4, type Ipv4ErrorSink, type Ipv4Handler, type Ipv4Packet } from './ipv4.ts';

export interface IcmpOptions {
  /** Error messages per second in the long run (default 100). */
  readonly errorsPerSecond?: number;
  /** Errors that may go out back to back (default 20). */
  readonly errorBurst?: number;
  /** Answer echo requests sent to a broadcast address (default false, as Linux). */
  readonly answerBroadcastEcho?: boolean;
}

export interface EchoReply {
  readonly src: number;
  readonly ident: number;
  readonly seq: number;
  /** Borrowed: valid during the call. */
  readonly data: Uint8Array;
}

const DROPS = ['truncated', 'checksum', 'broadcast-echo', 'rate-limited', 'unhandled-type'] as const;

export class Icmp implements Ipv4Handler, Ipv4ErrorSink {
  private readonly ip: Ipv4;
  private readonly clock: Clock;
  private readonly view = new Icmpv4View();
  private readonly opts: Required<IcmpOptions>;
  private tokens: number;
  private refilledNs: bigint;
  private readonly echoListeners: ((r: EchoReply) => void)[] = [];
  readonly drops = counters(DROPS);
  echoRepliesSent = 0;
  errorsSent = 0;
  /** Errors received, by type and code (`"3/3"`: port unreachable). */
  readonly errorsReceived = new Map<string, number>();

  constructor(ip: Ipv4, clock: Clock, opts: IcmpOptions = {}) {
    this.ip = ip;
    this.clock = clock;
    this.opts = {
      errorsPerSecond: opts.errorsPerSecond ?? 100,
      errorBurst: opts.errorBurst ?? 20,
      answerBroadcastEcho: opts.answerBroadcastEcho ?? false,
    };
    this.tokens = this.opts.errorBurst;
    this.refilledNs = clock.monotonicNs();
    ip.register(PROTO_ICMP, this);
    ip.errors = this;
  }

  onEchoReply(fn: (r: EchoReply) => void): void {
    this.echoListeners.push(fn);
  }

  receive(p: Ipv4Packet): void {
    const v = this.view;
    const r = v.check(p.buf, true, p.payloadOff, p.payloadEnd);
    if (r !== 'ok') {
      this.drops[r]++;
      return;
    }
    switch (v.type) {
      case ICMP_ECHO_REQUEST: {
        if (this.ip.isBroadcast(p.dst) && !this.opts.answerBroadcastEcho) {
          this.drops['broadcast-echo']++;
          return;
        }
        // RFC 1122 §3.2.2.6: the reply carries the request's identifier, sequence and data.
        const data = v.data();
        const len = emitIcmpv4({ kind: 'echo-reply', ident: v.ident, seq: v.seq, data }, this.ip.tx, IPV4_PAYLOAD_AT);
        if (this.ip.send(p.src, PROTO_ICMP, len) === 'ok') this.echoRepliesSent++;
        return;
      }
      case ICMP_ECHO_REPLY: {
        const reply: EchoReply = { src: p.src, ident: v.ident, seq: v.seq, data: v.data() };
        for (const fn of this.echoListeners) fn(reply);
        return;
      }
      case ICMP_DEST_UNREACHABLE:
      case ICMP_TIME_EXCEEDED:
      case 4:
      case 5:
      case 12: {
        const k = `${v.type}/${v.code}`;
        this.errorsReceived.set(k, (this.errorsReceived.get(k) ?? 0) + 1);
        return;
      }
      default:
        this.drops['unhandled-type']++;
    }
  }

  /** Sends an echo request (a ping). */
  ping(dst: number, ident: number, seq: number, data: Uint8Array): SendResult {
    const len = emitIcmpv4({ kind: 'echo-request', ident, seq, data }, this.ip.tx, IPV4_PAYLOAD_AT);
    return this.ip.send(dst, PROTO_ICMP, len);
  }

  protocolUnreachable(p: Ipv4Packet): void {
    this.sendError(p, { kind: 'dest-unreachable', code: UNREACH_PROTOCOL, nextHopMtu: 0, data: quote(p) });
  }

  portUnreachable(p: Ipv4Packet): void {
    this.sendError(p, { kind: 'dest-unreachable', code: UNREACH_PORT, nextHopMtu: 0, data: quote(p) });
  }

  reassemblyTimeout(q: Uint8Array): void {
    // The quote is the first fragment's header and data: its source is at byte 12.
    if (q.length < 20) return;
    const src = u32(q, 12),
      dst = u32(q, 16);
    this.sendErrorTo(src, dst, q[9] === PROTO_ICMP ? q[(q[0]! & 0x0f) * 4] : undefined, {
      kind: 'time-exceeded',
      code: EXCEEDED_REASSEMBLY,
      data: q,
    });
  }

  private sendError(p: Ipv4Packet, msg: Icmpv4Repr): void {
    this.sendErrorTo(p.src, p.dst, p.protocol === PROTO_ICMP ? p.buf[p.payloadOff] : undefined, msg);
  }

  /** RFC 1122 §3.2.2: the rules for when an error must not be sent, then the rate limit. */
  /** `icmpType` is the offending datagram's ICMP type when it carried ICMP. */
  private sendErrorTo(src: number, dst: number, icmpType: number | undefined, msg: Icmpv4Repr): void {
    if (icmpType !== undefined && icmpType !== ICMP_ECHO_REQUEST && icmpType !== ICMP_ECHO_REPLY) {
      return; // Never about an ICMP error (RFC 1122 §3.2.2).
    }
    if (this.ip.isBroadcast(dst) || isMulticast(dst)) return;
    if (src === 0 || this.ip.isBroadcast(src) || isMulticast(src)) return;
    if (!this.take()) {
      this.drops['rate-limited']++;
      return;
    }
    const len = emitIcmpv4(msg, this.ip.tx, IPV4_PAYLOAD_AT);
    if (this.ip.send(src, PROTO_ICMP, len) === 'ok') this.errorsSent++;
  }

  /** Token bucket refilled from the clock. */
  private take(): boolean {
    const now = this.clock.monotonicNs();
    const elapsed = Number(now - this.refilledNs) / 1e9;
    this.refilledNs = now;
    this.tokens = Math.min(this.opts.errorBurst, this.tokens + elapsed * this.opts.errorsPerSecond);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** The offending datagram's header and first 8 payload bytes (RFC 792). */
function quote(p: Ipv4Packet): Uint8Array {
  const h = p.header();
  const n = Math.min(8, p.payloadEnd - p.payloadOff);
  const q = new Uint8Array(h.length + n);
  q.set(h);
  q.set(p.buf.subarray(p.payloadOff, p.payloadOff + n), h.length);
  return q;
}
