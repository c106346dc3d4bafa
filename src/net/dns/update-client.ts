/**
 * The client's side of dynamic updates (RFC 2136): an UPDATE for one zone
 * sent to its primary over TCP, signed with TSIG when the link has a key,
 * and its RCODE read back. Records to add are given as they are (class IN);
 * `deletion` and `rrsetDeletion` spell the two deletes of §2.5.2 and §2.5.4.
 */
import { canonicalName, CLASS_ANY, CLASS_NONE, makeQuery, RCODE, rcodeName, TYPE, type DnsRecord } from '../../wire/dns.ts';
import { OPCODE_UPDATE } from './authority.ts';
import { requestPrimary, type PrimaryLink } from './secondary.ts';

/** §2.5.4: delete this one record (class NONE, TTL 0, its RDATA). */
export function deletion(rr: DnsRecord): DnsRecord {
  return { ...rr, class: CLASS_NONE, ttl: 0 };
}

/** §2.5.2: delete the RRset `name`/`type` (class ANY, TTL 0, no RDATA). */
export function rrsetDeletion(name: string, type: number): DnsRecord {
  return { name, type, class: CLASS_ANY, ttl: 0, data: { kind: 'raw', bytes: new Uint8Array(0) } };
}

/**
 * Sends the changes `updates` (adds and deletes, applied in order, all or
 * nothing: §3.4.2) to zone `apex` on the primary; resolves with undefined
 * once answered NOERROR, or with why not (the RCODE's name, a TSIG
 * failure, no answer).
 */
export async function sendUpdate(
  link: PrimaryLink,
  apex: string,
  updates: readonly DnsRecord[],
  prerequisites: readonly DnsRecord[] = [],
): Promise<string | undefined> {
  // §2.3: the zone section is the zone's apex, type SOA; prerequisites in the answer section, updates in the authority section.
  const r = await requestPrimary(link, {
    ...makeQuery(link.random.u32() & 0xffff, canonicalName(apex), TYPE.SOA, { rd: false }),
    opcode: OPCODE_UPDATE,
    answers: prerequisites,
    authority: updates,
  });
  if (typeof r === 'string') return r;
  if (r.opcode !== OPCODE_UPDATE) return `an answer that is not to an UPDATE (opcode ${r.opcode})`;
  return r.rcode === RCODE.NOERROR ? undefined : `answered ${rcodeName(r.rcode)}`;
}
