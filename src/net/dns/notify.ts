/**
 * A primary's NOTIFY (RFC 1996): tells a secondary that a zone changed, over
 * UDP, signed with TSIG when given a key, retried with doubling waits until
 * the secondary answers (§3.6). The answer must come from the address and
 * port asked, with the same ID, and verify when the NOTIFY was signed.
 */
import { canonicalName, CLASS_IN, decodeDns, encodeDns, isDecodeError, RCODE, rcodeName, TYPE, type DnsRecord } from '../../wire/dns.ts';
import type { Random } from '../../devices/index.ts';
import { OPCODE_NOTIFY } from './authority.ts';
import type { DnsNet, Timer } from './query.ts';
import { signMessage, TsigResponseVerifier, type Hmac, type TsigKey } from './tsig.ts';

export interface NotifyOptions {
  readonly net: Pick<DnsNet, 'udpBind'>;
  readonly random: Random;
  readonly timer: Timer;
  readonly tsig?: { readonly key: TsigKey; readonly hmac: Hmac } | undefined;
  /** Wall clock in seconds since the epoch, for TSIG. */
  readonly wallSec: () => number;
  /** Sends at most (default 5), waiting 2, 4, 8, … seconds for an answer. */
  readonly tries?: number;
  readonly firstWaitMs?: number;
}

/** NOTIFY for the zone whose SOA is `soa` to `address:port`; resolves with undefined once answered NOERROR, or with why not. */
export async function sendNotify(o: NotifyOptions, address: string, port: number, soa: DnsRecord): Promise<string | undefined> {
  const apex = canonicalName(soa.name);
  const tries = o.tries ?? 5;
  let wait = o.firstWaitMs ?? 2000;
  let last = 'no answer';
  for (let i = 0; i < tries; i++, wait *= 2) {
    const id = o.random.u32() & 0xffff;
    let bytes = encodeDns({
      id,
      qr: false,
      opcode: OPCODE_NOTIFY,
      aa: true,
      tc: false,
      rd: false,
      ra: false,
      ad: false,
      cd: false,
      rcode: 0,
      questions: [{ name: apex, type: TYPE.SOA, class: CLASS_IN }],
      // §3.7: the new SOA as a hint, so a secondary that is current need not ask.
      answers: [{ ...soa, name: apex }],
      authority: [],
      additional: [],
    });
    let verifier: TsigResponseVerifier | undefined;
    if (o.tsig) {
      const s = signMessage(bytes, o.tsig.key, o.tsig.hmac, { now: o.wallSec() });
      bytes = s.bytes;
      verifier = new TsigResponseVerifier(o.tsig.key, o.tsig.hmac, s.mac);
    }
    let settle: (r: string | undefined) => void = () => {};
    const answered = new Promise<string | undefined>((r) => {
      settle = r;
    });
    let sock: Awaited<ReturnType<DnsNet['udpBind']>>;
    try {
      sock = await o.net.udpBind(0, (m) => {
        if (m.src !== address || m.srcPort !== port) return;
        const r = decodeDns(m.data);
        if (isDecodeError(r) || !r.qr || r.id !== id || r.opcode !== OPCODE_NOTIFY) return;
        const bad = verifier?.next(m.data, r, o.wallSec());
        if (bad) settle(bad.error);
        else settle(r.rcode === RCODE.NOERROR ? undefined : `answered ${rcodeName(r.rcode)}`);
      });
    } catch (e) {
      return `cannot open a UDP port: ${e instanceof Error ? e.message : String(e)}`;
    }
    const cancel = o.timer(wait, () => settle('timeout'));
    if (!sock.send(address, port, bytes)) settle('cannot send (no route or no address yet)');
    const r = await answered;
    cancel();
    sock.close();
    if (r !== 'timeout') return r;
    last = `no answer after ${i + 1} tries`;
  }
  return last;
}
