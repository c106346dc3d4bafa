/**
 * One DNS exchange with one server, as a client: a fresh random source port
 * and a random ID per attempt (RFC 5452 §9.2), EDNS(0) with a 1232-byte
 * buffer, the reply accepted only from the server's address and port with
 * the same ID and question, retries after a timeout, and a retry over TCP
 * when the reply is truncated (RFC 7766 §5). Works over any stack with the
 * `DnsNet` shape (Fata's and the host's both have it); timers are given.
 */
import type { Random } from '../../devices/index.ts';
import { canonicalName, decodeDns, encodeDns, isDecodeError, makeQuery, type DnsMessage } from '../../wire/dns.ts';
import type { ByteStream } from '../stream.ts';
import { TcpDeframer, frameTcp } from './transport.ts';

export interface DnsNet {
  udpBind(
    port: number,
    onMessage: (m: { readonly src: string; readonly srcPort: number; readonly data: Uint8Array }) => void,
  ): Promise<{ readonly port: number; send(dst: string, dstPort: number, data: Uint8Array): boolean; close(): void }>;
  tcpConnect(dst: string, port: number): Promise<ByteStream>;
}

/** Schedules `fn` after `ms`; returns a cancel function. */
export type Timer = (ms: number, fn: () => void) => () => void;

/** A `Timer` from a platform's `sleep` (a cancelled timer's sleep still runs out, then does nothing). */
export function sleepTimer(sleep: (ms: number) => Promise<void>): Timer {
  return (ms, fn) => {
    let cancelled = false;
    void sleep(ms).then(() => {
      if (!cancelled) fn();
    });
    return () => {
      cancelled = true;
    };
  };
}

export interface QueryOptions {
  /** Recursion desired (default true: a stub asks a recursive server). */
  readonly rd?: boolean;
  /** Per-attempt timeout in ms (default 1500). */
  readonly timeoutMs?: number;
  /** UDP attempts before giving up (default 2). */
  readonly tries?: number;
  readonly port?: number;
}

export class DnsQueryError extends Error {
  readonly reason: 'timeout' | 'network' | 'malformed';
  constructor(reason: 'timeout' | 'network' | 'malformed', message: string) {
    super(message);
    this.reason = reason;
  }
}

export class DnsQuerier {
  private readonly net: DnsNet;
  private readonly random: Random;
  private readonly timer: Timer;
  readonly counters = { sent: 0, timeouts: 0, tcpFallbacks: 0, mismatched: 0 };

  constructor(net: DnsNet, random: Random, timer: Timer) {
    this.net = net;
    this.random = random;
    this.timer = timer;
  }

  /** Asks `server` about `name`/`type`; resolves with the decoded reply. */
  async query(server: string, name: string, type: number, o: QueryOptions = {}): Promise<DnsMessage> {
    const tries = o.tries ?? 2;
    let last: DnsQueryError = new DnsQueryError('timeout', `no answer from ${server} for ${name}`);
    for (let i = 0; i < tries; i++) {
      const r = await this.udpOnce(server, o.port ?? 53, name, type, o);
      if (r instanceof DnsQueryError) {
        last = r;
        if (r.reason !== 'timeout') break;
        continue;
      }
      if (!r.tc) return r;
      this.counters.tcpFallbacks++;
      const t = await this.tcpOnce(server, o.port ?? 53, name, type, o);
      if (t instanceof DnsQueryError) throw t;
      return t;
    }
    throw last;
  }

  private matches(q: DnsMessage, reply: DnsMessage, id: number, name: string, type: number): boolean {
    const rq = reply.questions[0];
    return (
      reply.qr &&
      reply.id === id &&
      q.questions.length === 1 &&
      rq !== undefined &&
      canonicalName(rq.name) === canonicalName(name) &&
      rq.type === type
    );
  }

  private async udpOnce(server: string, port: number, name: string, type: number, o: QueryOptions): Promise<DnsMessage | DnsQueryError> {
    const id = this.random.u32() & 0xffff;
    const q = makeQuery(id, name, type, { rd: o.rd ?? true, udpSize: 1232 });
    let done: (r: DnsMessage | DnsQueryError) => void = () => {};
    const result = new Promise<DnsMessage | DnsQueryError>((res) => {
      done = res;
    });
    let sock: Awaited<ReturnType<DnsNet['udpBind']>>;
    try {
      sock = await this.net.udpBind(0, (m) => {
        if (m.src !== server || m.srcPort !== port) {
          this.counters.mismatched++;
          return;
        }
        const r = decodeDns(m.data);
        if (isDecodeError(r) || !this.matches(q, r, id, name, type)) {
          this.counters.mismatched++;
          return;
        }
        done(r);
      });
    } catch (e) {
      return new DnsQueryError('network', `cannot open a UDP port: ${e instanceof Error ? e.message : String(e)}`);
    }
    const cancel = this.timer(o.timeoutMs ?? 1500, () => {
      this.counters.timeouts++;
      done(new DnsQueryError('timeout', `no answer from ${server} for ${name} in ${o.timeoutMs ?? 1500} ms`));
    });
    this.counters.sent++;
    if (!sock.send(server, port, encodeDns(q))) {
      cancel();
      sock.close();
      return new DnsQueryError('network', `cannot send to ${server} (no route or no address yet)`);
    }
    const r = await result;
    cancel();
    sock.close();
    return r;
  }

  private async tcpOnce(server: string, port: number, name: string, type: number, o: QueryOptions): Promise<DnsMessage | DnsQueryError> {
    const id = this.random.u32() & 0xffff;
    const q = makeQuery(id, name, type, { rd: o.rd ?? true, udpSize: 1232 });
    let s: ByteStream;
    try {
      s = await this.net.tcpConnect(server, port);
    } catch (e) {
      return new DnsQueryError('network', `TCP to ${server}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return new Promise((resolve) => {
      const deframer = new TcpDeframer();
      let settled = false;
      const finish = (r: DnsMessage | DnsQueryError): void => {
        if (settled) return;
        settled = true;
        cancel();
        s.end();
        resolve(r);
      };
      const cancel = this.timer((o.timeoutMs ?? 1500) * 2, () =>
        finish(new DnsQueryError('timeout', `no TCP answer from ${server} for ${name}`)),
      );
      s.onData = (d) => {
        for (const m of deframer.push(d)) {
          const r = decodeDns(m);
          if (isDecodeError(r)) {
            finish(new DnsQueryError('malformed', `malformed TCP answer from ${server}: ${r.error}`));
            return;
          }
          if (this.matches(q, r, id, name, type)) {
            finish(r);
            return;
          }
        }
      };
      s.onEnd = () => finish(new DnsQueryError('network', `${server} closed the TCP connection before answering`));
      s.onClose = (e) => finish(new DnsQueryError('network', `TCP to ${server}: ${e ?? 'closed'}`));
      const framed = frameTcp(encodeDns(q));
      let at = s.write(framed);
      if (at < framed.length)
        s.onDrain = () => {
          at += s.write(framed.subarray(at));
        };
    });
  }
}
