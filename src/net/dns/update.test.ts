/**
 * RFC 2136 UPDATE through the Authority, as octets on the wire: the zone
 * section (FORMERR, NOTAUTH), the policy (REFUSED before any prerequisite
 * is looked at, TSIG-signed requests), every prerequisite of §2.4 with the
 * RCODE it fails with (NXDOMAIN, YXDOMAIN, NXRRSET, YXRRSET, NOTZONE,
 * FORMERR), the prescan (§3.4.1), each kind of change of §2.5 with §3.4.2's
 * SOA, NS and CNAME rules, the serial bump (§3.6), all-or-nothing, a commit
 * that fails (SERVFAIL, nothing changed) and IXFR of the new version.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  CLASS_ANY,
  CLASS_IN,
  CLASS_NONE,
  decodeDns,
  encodeDns,
  isDecodeError,
  makeQuery,
  RCODE,
  TYPE,
  type DnsMessage,
  type DnsRecord,
  type RData,
} from '../../wire/dns.ts';
import { Authority, OPCODE_UPDATE, recordKey, Zone, type ZoneDiff } from './authority.ts';
import { parseTsigKey, signMessage, splitTsig, type Hmac, type TsigKey } from './tsig.ts';
import { RCODE_UPDATE, Updates, type CommitResult, type UpdatePolicy } from './update.ts';

const hmac: Hmac = (hash, key, data) => createHmac(hash, key).update(data).digest();
const key = (s: string): TsigKey => {
  const r = parseTsigKey(s);
  if ('error' in r) throw new Error(r.error);
  return r;
};
const UPDATER = key('updater:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==');
const OTHER = key('other:b3RoZXItb3RoZXItb3RoZXItb3RoZXIhIQ==');
const NOW = 1_764_000_000;
const APEX = 'up.test.';

function zone(): Zone {
  const z = Zone.parse(
    APEX,
    `$ORIGIN up.test.
$TTL 300
@ SOA ns1 hostmaster 10 3600 600 86400 60
@ NS ns1
@ NS ns2
@ MX 10 mail
ns1 A 192.0.2.1
ns2 A 192.0.2.2
www A 192.0.2.80
www A 192.0.2.81
www TXT "hello"
mail A 192.0.2.25
alias CNAME www
deep.ent A 192.0.2.9
`,
  );
  if ('errors' in z) throw new Error(z.errors.join('\n'));
  return z;
}

interface Server {
  readonly authority: Authority;
  readonly updates: Updates;
  readonly commits: ZoneDiff[];
  readonly applied: Zone[];
  /** What commit answers next. */
  commitResult: CommitResult;
}

function server(allowed: UpdatePolicy['allowed'] = (_a, k) => k?.name === UPDATER.name): Server {
  const authority = new Authority([zone()]);
  const s: Server = {
    authority,
    commits: [],
    applied: [],
    commitResult: 'ok',
    updates: undefined as unknown as Updates,
  };
  const updates = new Updates(authority, {
    allowed,
    commit: (_z, d) => {
      if (s.commitResult === 'ok') s.commits.push(d);
      return s.commitResult;
    },
    applied: (z) => s.applied.push(z),
  });
  return Object.assign(s, { updates });
}

const empty: RData = { kind: 'raw', bytes: new Uint8Array(0) };
const rr = (name: string, type: number, cls: number, ttl: number, data: RData = empty): DnsRecord => ({
  name: name.endsWith('.') ? name : `${name}.${APEX}`,
  type,
  class: cls,
  ttl,
  data,
});
const a = (address: string): RData => ({ kind: 'A', address });
/** §2.4's prerequisite kinds and §2.5's update kinds, by their RFC names. */
const P = {
  nameInUse: (n: string) => rr(n, TYPE.ANY, CLASS_ANY, 0),
  nameNotInUse: (n: string) => rr(n, TYPE.ANY, CLASS_NONE, 0),
  rrsetExists: (n: string, t: number) => rr(n, t, CLASS_ANY, 0),
  rrsetDoesNotExist: (n: string, t: number) => rr(n, t, CLASS_NONE, 0),
  rrsetIs: (n: string, t: number, d: RData) => rr(n, t, CLASS_IN, 0, d),
};
const U = {
  add: (n: string, t: number, d: RData, ttl = 300) => rr(n, t, CLASS_IN, ttl, d),
  deleteRRset: (n: string, t: number) => rr(n, t, CLASS_ANY, 0),
  deleteName: (n: string) => rr(n, TYPE.ANY, CLASS_ANY, 0),
  deleteRR: (n: string, t: number, d: RData) => rr(n, t, CLASS_NONE, 0, d),
};

function message(prereqs: DnsRecord[], updates: DnsRecord[], o: { zone?: string; zoneType?: number; zoneClass?: number } = {}): DnsMessage {
  return {
    ...makeQuery(0x1234, o.zone ?? APEX, o.zoneType ?? TYPE.SOA, { rd: false }),
    opcode: OPCODE_UPDATE,
    questions: [{ name: o.zone ?? APEX, type: o.zoneType ?? TYPE.SOA, class: o.zoneClass ?? CLASS_IN }],
    answers: prereqs,
    authority: updates,
  };
}

function decoded(b: Uint8Array): DnsMessage {
  const m = decodeDns(b);
  if (isDecodeError(m)) throw new Error(m.error);
  return m;
}

/** Sends `m` (signed with `k` unless null) through the Authority and returns the answer. */
function send(s: Server, m: DnsMessage, k: TsigKey | null = UPDATER, transport: 'udp' | 'tcp' = 'udp'): DnsMessage {
  let bytes = encodeDns(m);
  if (k) bytes = signMessage(bytes, k, hmac, { now: NOW }).bytes;
  const out = s.authority.answer(bytes, {
    transport,
    tsig: { keys: [UPDATER, OTHER], hmac, now: NOW },
    update: (msg, used) => s.updates.handle(msg, used, '192.0.2.200'),
  });
  assert.equal(out.length, 1);
  const r = decoded(out[0]!);
  assert.equal(r.opcode, OPCODE_UPDATE);
  assert.equal(r.id, 0x1234);
  return r;
}
const rcode = (s: Server, prereqs: DnsRecord[], updates: DnsRecord[] = [], k: TsigKey | null = UPDATER): number =>
  send(s, message(prereqs, updates), k).rcode;

const serial = (s: Server): number => {
  const soa = s.authority.zone(APEX)!.soa.data;
  return soa.kind === 'SOA' ? soa.serial : -1;
};
/** The zone's records as `owner type data ttl`, sorted, SOA aside. */
const contents = (s: Server): string[] =>
  s.authority
    .zone(APEX)!
    .records.filter((r) => r.type !== TYPE.SOA)
    .map((r) => `${recordKey(r)} ttl=${r.ttl}`)
    .sort();
/** The A (or other) answer for a name, as the server gives it to a query. */
function lookup(s: Server, name: string, type: number): { rcode: number; data: string[] } {
  const out = s.authority.answer(encodeDns(makeQuery(9, name, type)), { transport: 'tcp' }).map(decoded)[0]!;
  return { rcode: out.rcode, data: out.answers.map((r) => (r.data.kind === 'A' ? r.data.address : r.data.kind)).sort() };
}

test('the answer is signed with the request key, echoes the zone section, and a signed add is served at once', () => {
  const s = server();
  const m = message([], [U.add('new', TYPE.A, a('192.0.2.77'))]);
  const bytes = signMessage(encodeDns(m), UPDATER, hmac, { now: NOW }).bytes;
  const out = s.authority.answer(bytes, {
    transport: 'udp',
    tsig: { keys: [UPDATER], hmac, now: NOW },
    update: (msg, used) => s.updates.handle(msg, used, 'x'),
  })[0]!;
  const r = decoded(out);
  assert.equal(r.rcode, RCODE.NOERROR);
  assert.ok(r.qr);
  assert.deepEqual(r.questions, [{ name: APEX, type: TYPE.SOA, class: CLASS_IN }], 'the zone section echoed (§3.8)');
  assert.deepEqual([r.answers.length, r.authority.length], [0, 0]);
  const split = splitTsig(out, r);
  assert.ok(split !== 'none' && split !== 'formerr', 'the answer carries a TSIG');
  assert.equal(split.record.keyName, UPDATER.name);
  assert.deepEqual(lookup(s, 'new.up.test.', TYPE.A), { rcode: RCODE.NOERROR, data: ['192.0.2.77'] });
  assert.equal(serial(s), 11, 'the serial went up by one (§3.6)');
  assert.equal(s.applied.length, 1);
  assert.equal(s.commits.length, 1);
});

test('without an update handler UPDATE is NOTIMP, as before', () => {
  const s = server();
  const r = decoded(s.authority.answer(encodeDns(message([], [U.add('x', TYPE.A, a('192.0.2.1'))])), { transport: 'udp' })[0]!);
  assert.equal(r.rcode, RCODE.NOTIMP);
});

test('zone section (§3.1.1): not one SOA question is FORMERR; a zone not held, or of another class, is NOTAUTH', () => {
  const s = server();
  const add = [U.add('x', TYPE.A, a('192.0.2.1'))];
  assert.equal(send(s, message([], add, { zoneType: TYPE.A })).rcode, RCODE.FORMERR);
  assert.equal(send(s, { ...message([], add), questions: [] }).rcode, RCODE.FORMERR);
  const two = message([], add);
  assert.equal(send(s, { ...two, questions: [...two.questions, ...two.questions] }).rcode, RCODE.FORMERR);
  assert.equal(send(s, message([], add, { zone: 'other.test.' })).rcode, RCODE_UPDATE.NOTAUTH);
  assert.equal(send(s, message([], add, { zone: 'sub.up.test.' })).rcode, RCODE_UPDATE.NOTAUTH, 'a name inside the zone is not its apex');
  assert.equal(send(s, message([], add, { zoneClass: 3 })).rcode, RCODE_UPDATE.NOTAUTH);
  assert.equal(send(s, message([], add, { zone: 'UP.Test.' })).rcode, RCODE.NOERROR, 'the apex compares without case');
});

test('the policy comes first: unsigned, or signed with a key not allowed, is REFUSED even where a prerequisite would fail', () => {
  const s = server();
  const before = contents(s);
  const failing = [P.nameInUse('nothing-here')];
  assert.equal(rcode(s, failing, [U.add('x', TYPE.A, a('192.0.2.1'))], null), RCODE.REFUSED);
  assert.equal(rcode(s, failing, [U.add('x', TYPE.A, a('192.0.2.1'))], OTHER), RCODE.REFUSED);
  assert.equal(rcode(s, [], [U.add('x', TYPE.A, a('192.0.2.1'))], null), RCODE.REFUSED);
  assert.deepEqual(contents(s), before);
  assert.equal(serial(s), 10);
  assert.equal(s.updates.counters.refused, 3);
  assert.equal(rcode(s, failing, [], UPDATER), RCODE.NXDOMAIN, 'the allowed key gets to the prerequisites');
  // A bad signature never reaches the handler: NOTAUTH from TSIG (RFC 8945 §5.2).
  const forged = signMessage(encodeDns(message([], [U.add('x', TYPE.A, a('192.0.2.1'))])), key(`updater:${'A'.repeat(44)}`), hmac, {
    now: NOW,
  }).bytes;
  const r = decoded(s.authority.answer(forged, { transport: 'udp', tsig: { keys: [UPDATER], hmac, now: NOW }, update: () => 0 })[0]!);
  assert.equal(r.rcode, RCODE.NOTAUTH);
  assert.deepEqual(contents(s), before);
});

test('prerequisite "name is in use" (§2.4.4): NXDOMAIN when it owns nothing, an empty non-terminal included', () => {
  const s = server();
  assert.equal(rcode(s, [P.nameInUse('www')]), RCODE.NOERROR);
  assert.equal(rcode(s, [P.nameInUse(APEX)]), RCODE.NOERROR);
  assert.equal(rcode(s, [P.nameInUse('WWW')]), RCODE.NOERROR, 'names compare without case');
  assert.equal(rcode(s, [P.nameInUse('nothing')]), RCODE.NXDOMAIN);
  assert.equal(rcode(s, [P.nameInUse('ent')]), RCODE.NXDOMAIN, 'ent.up.test. only has a name below it');
});

test('prerequisite "name is not in use" (§2.4.5): YXDOMAIN when it owns a record', () => {
  const s = server();
  assert.equal(rcode(s, [P.nameNotInUse('nothing')]), RCODE.NOERROR);
  assert.equal(rcode(s, [P.nameNotInUse('ent')]), RCODE.NOERROR);
  assert.equal(rcode(s, [P.nameNotInUse('www')]), RCODE_UPDATE.YXDOMAIN);
  assert.equal(rcode(s, [P.nameNotInUse('alias')]), RCODE_UPDATE.YXDOMAIN);
});

test('prerequisite "RRset exists (value independent)" (§2.4.1): NXRRSET when the name lacks the type', () => {
  const s = server();
  assert.equal(rcode(s, [P.rrsetExists('www', TYPE.A)]), RCODE.NOERROR);
  assert.equal(rcode(s, [P.rrsetExists('www', TYPE.TXT)]), RCODE.NOERROR);
  assert.equal(rcode(s, [P.rrsetExists('www', TYPE.AAAA)]), RCODE_UPDATE.NXRRSET);
  assert.equal(rcode(s, [P.rrsetExists('nothing', TYPE.A)]), RCODE_UPDATE.NXRRSET);
});

test('prerequisite "RRset does not exist" (§2.4.3): YXRRSET when it does', () => {
  const s = server();
  assert.equal(rcode(s, [P.rrsetDoesNotExist('www', TYPE.AAAA)]), RCODE.NOERROR);
  assert.equal(rcode(s, [P.rrsetDoesNotExist('nothing', TYPE.A)]), RCODE.NOERROR);
  assert.equal(rcode(s, [P.rrsetDoesNotExist('www', TYPE.A)]), RCODE_UPDATE.YXRRSET);
  assert.equal(rcode(s, [P.rrsetDoesNotExist(APEX, TYPE.MX)]), RCODE_UPDATE.YXRRSET);
});

test('prerequisite "RRset exists (value dependent)" (§2.4.2): the whole RRset, no more and no less, else NXRRSET', () => {
  const s = server();
  const both = [P.rrsetIs('www', TYPE.A, a('192.0.2.80')), P.rrsetIs('www', TYPE.A, a('192.0.2.81'))];
  assert.equal(rcode(s, both), RCODE.NOERROR);
  assert.equal(rcode(s, [...both].reverse()), RCODE.NOERROR, 'in any order');
  assert.equal(rcode(s, [...both, both[0]!]), RCODE.NOERROR, 'a record given twice counts once');
  assert.equal(rcode(s, [both[0]!]), RCODE_UPDATE.NXRRSET, 'a subset is not the RRset');
  assert.equal(rcode(s, [...both, P.rrsetIs('www', TYPE.A, a('192.0.2.82'))]), RCODE_UPDATE.NXRRSET, 'nor a superset');
  assert.equal(rcode(s, [P.rrsetIs('nothing', TYPE.A, a('192.0.2.80'))]), RCODE_UPDATE.NXRRSET);
  assert.equal(rcode(s, [P.rrsetIs('mail', TYPE.A, a('192.0.2.25')), P.rrsetIs('www', TYPE.A, a('192.0.2.80'))]), RCODE_UPDATE.NXRRSET);
  assert.equal(rcode(s, [P.rrsetIs(APEX, TYPE.MX, { kind: 'MX', preference: 10, exchange: 'MAIL.up.test.' })]), RCODE.NOERROR);
});

test('malformed prerequisites: a TTL, RDATA with class ANY or NONE, another class are FORMERR; a name outside the zone NOTZONE', () => {
  const s = server();
  assert.equal(rcode(s, [{ ...P.rrsetExists('www', TYPE.A), ttl: 1 }]), RCODE.FORMERR);
  assert.equal(rcode(s, [{ ...P.rrsetIs('www', TYPE.A, a('192.0.2.80')), ttl: 300 }]), RCODE.FORMERR);
  assert.equal(rcode(s, [{ ...P.rrsetExists('www', TYPE.A), data: a('192.0.2.80') }]), RCODE.FORMERR);
  assert.equal(rcode(s, [{ ...P.rrsetDoesNotExist('www', TYPE.AAAA), data: a('192.0.2.80') }]), RCODE.FORMERR);
  assert.equal(rcode(s, [{ ...P.rrsetIs('www', TYPE.A, a('192.0.2.80')), class: 3 }]), RCODE.FORMERR);
  assert.equal(rcode(s, [P.rrsetExists('www.other.test.', TYPE.A)]), RCODE_UPDATE.NOTZONE);
  assert.equal(rcode(s, [P.nameNotInUse('up.test.evil.')]), RCODE_UPDATE.NOTZONE);
});

test('a failing prerequisite changes nothing: the update section is not applied and the serial stays', () => {
  const s = server();
  const before = contents(s);
  assert.equal(
    rcode(s, [P.rrsetExists('www', TYPE.A), P.rrsetDoesNotExist('www', TYPE.TXT)], [U.add('x', TYPE.A, a('192.0.2.1'))]),
    RCODE_UPDATE.YXRRSET,
  );
  assert.deepEqual(contents(s), before);
  assert.equal(serial(s), 10);
  assert.deepEqual([s.commits.length, s.applied.length], [0, 0]);
  assert.equal(rcode(s, [P.rrsetDoesNotExist('x', TYPE.A)], [U.add('x', TYPE.A, a('192.0.2.1'))]), RCODE.NOERROR);
  assert.equal(
    rcode(s, [P.rrsetDoesNotExist('x', TYPE.A)], [U.add('x', TYPE.A, a('192.0.2.2'))]),
    RCODE_UPDATE.YXRRSET,
    'once added, it exists',
  );
  assert.deepEqual(lookup(s, 'x.up.test.', TYPE.A).data, ['192.0.2.1']);
});

test('prescan (§3.4.1): a record outside the zone is NOTZONE, a malformed one FORMERR, and then nothing at all is applied', () => {
  const s = server();
  const before = contents(s);
  const good = U.add('x', TYPE.A, a('192.0.2.1'));
  const cases: [DnsRecord, number][] = [
    [U.add('x.other.test.', TYPE.A, a('192.0.2.1')), RCODE_UPDATE.NOTZONE],
    [rr('x', TYPE.ANY, CLASS_IN, 300), RCODE.FORMERR],
    [rr('x', TYPE.AXFR, CLASS_IN, 300), RCODE.FORMERR],
    [{ ...U.deleteRRset('www', TYPE.A), ttl: 5 }, RCODE.FORMERR],
    [{ ...U.deleteRRset('www', TYPE.A), data: a('192.0.2.80') }, RCODE.FORMERR],
    [rr('www', TYPE.IXFR, CLASS_ANY, 0), RCODE.FORMERR],
    [{ ...U.deleteRR('www', TYPE.A, a('192.0.2.80')), ttl: 5 }, RCODE.FORMERR],
    [rr('www', TYPE.ANY, CLASS_NONE, 0), RCODE.FORMERR],
    [{ ...good, class: 3 }, RCODE.FORMERR],
  ];
  for (const [bad, want] of cases) assert.equal(rcode(s, [], [good, bad]), want, JSON.stringify(bad));
  assert.deepEqual(contents(s), before, 'the good record before the bad one was not added');
  assert.equal(serial(s), 10);
});

test('add (§2.5.1): a new record joins its RRset; one already there changes nothing (no serial bump); a new TTL is the whole RRset', () => {
  const s = server();
  assert.equal(rcode(s, [], [U.add('www', TYPE.A, a('192.0.2.82'))]), RCODE.NOERROR);
  assert.deepEqual(lookup(s, 'www.up.test.', TYPE.A).data, ['192.0.2.80', '192.0.2.81', '192.0.2.82']);
  assert.equal(serial(s), 11);
  assert.equal(rcode(s, [], [U.add('WWW', TYPE.A, a('192.0.2.82'))]), RCODE.NOERROR);
  assert.equal(serial(s), 11, 'nothing changed, so no new version');
  assert.equal(s.commits.length, 1);
  assert.equal(rcode(s, [], [U.add('www', TYPE.A, a('192.0.2.80'), 60)]), RCODE.NOERROR);
  assert.equal(serial(s), 12);
  assert.deepEqual(
    s.authority
      .zone(APEX)!
      .get('www.up.test.', TYPE.A)!
      .map((r) => r.ttl),
    [60, 60, 60],
    'one TTL for the RRset (RFC 2181 §5.2)',
  );
  assert.deepEqual(
    s.authority
      .zone(APEX)!
      .get('www.up.test.', TYPE.TXT)!
      .map((r) => r.ttl),
    [300],
    'other RRsets keep theirs',
  );
});

test('delete an RRset (§2.5.2), all RRsets from a name (§2.5.3), an RR from an RRset (§2.5.4)', () => {
  const s = server();
  assert.equal(rcode(s, [], [U.deleteRRset('www', TYPE.A)]), RCODE.NOERROR);
  assert.equal(lookup(s, 'www.up.test.', TYPE.A).data.length, 0);
  assert.equal(lookup(s, 'www.up.test.', TYPE.TXT).data.length, 1, 'the TXT stays');
  assert.equal(rcode(s, [], [U.deleteName('www')]), RCODE.NOERROR);
  assert.equal(lookup(s, 'www.up.test.', TYPE.TXT).rcode, RCODE.NXDOMAIN);
  assert.equal(rcode(s, [], [U.deleteRR('ns2', TYPE.A, a('192.0.2.2')), U.deleteRR('ns2', TYPE.A, a('192.0.2.99'))]), RCODE.NOERROR);
  assert.equal(lookup(s, 'ns2.up.test.', TYPE.A).rcode, RCODE.NXDOMAIN, 'its last record gone, the name is gone');
  assert.equal(serial(s), 13);
  assert.equal(rcode(s, [], [U.deleteRRset('nothing', TYPE.A), U.deleteName('nothing')]), RCODE.NOERROR);
  assert.equal(serial(s), 13, 'deleting what is not there is no change');
});

test('the apex (§3.4.2): its SOA and NS are never deleted by RRset or name, nor its last NS record', () => {
  const s = server();
  assert.equal(rcode(s, [], [U.deleteName(APEX)]), RCODE.NOERROR);
  const z = s.authority.zone(APEX)!;
  assert.equal(z.get(APEX, TYPE.MX), undefined, 'the MX went');
  assert.equal(z.get(APEX, TYPE.NS)!.length, 2);
  assert.equal(serial(s), 11);
  assert.equal(
    rcode(s, [], [U.deleteRRset(APEX, TYPE.NS), U.deleteRRset(APEX, TYPE.SOA), rr(APEX, TYPE.SOA, CLASS_NONE, 0)]),
    RCODE.NOERROR,
  );
  assert.equal(s.authority.zone(APEX)!.get(APEX, TYPE.NS)!.length, 2);
  assert.equal(serial(s), 11, 'all three ignored');
  const ns = (t: string): RData => ({ kind: 'NS', target: `${t}.up.test.` });
  assert.equal(rcode(s, [], [U.deleteRR(APEX, TYPE.NS, ns('ns1')), U.deleteRR(APEX, TYPE.NS, ns('ns2'))]), RCODE.NOERROR);
  assert.deepEqual(
    s.authority
      .zone(APEX)!
      .get(APEX, TYPE.NS)!
      .map((r) => (r.data.kind === 'NS' ? r.data.target : '')),
    ['ns2.up.test.'],
    'the first went, the last stayed',
  );
  // Below the apex an NS RRset is an ordinary one: a delegation may lose its last NS.
  assert.equal(rcode(s, [], [U.add('child', TYPE.NS, ns('ns1'))]), RCODE.NOERROR);
  assert.equal(rcode(s, [], [U.deleteRR('child', TYPE.NS, ns('ns1'))]), RCODE.NOERROR);
  assert.equal(s.authority.zone(APEX)!.get('child.up.test.', TYPE.NS), undefined);
});

test('SOA (§3.4.2.2): a newer serial replaces the SOA and is not bumped again; an older one is ignored', () => {
  const s = server();
  const soa = (n: number, refresh = 3600): RData => ({
    kind: 'SOA',
    mname: 'ns1.up.test.',
    rname: 'hostmaster.up.test.',
    serial: n,
    refresh,
    retry: 600,
    expire: 86400,
    minimum: 60,
  });
  assert.equal(rcode(s, [], [U.add(APEX, TYPE.SOA, soa(500, 1800))]), RCODE.NOERROR);
  assert.equal(serial(s), 500);
  assert.equal(rcode(s, [], [U.add(APEX, TYPE.SOA, soa(400))]), RCODE.NOERROR);
  assert.equal(serial(s), 500, 'an older serial is ignored');
  assert.equal(rcode(s, [], [U.add(APEX, TYPE.SOA, soa(500, 7200))]), RCODE.NOERROR);
  assert.equal(serial(s), 501, 'the same serial with other timers is a change, numbered by the server');
  const d = s.authority.zone(APEX)!.soa.data;
  assert.equal(d.kind === 'SOA' ? d.refresh : 0, 7200);
  assert.equal(rcode(s, [], [U.add('www', TYPE.SOA, soa(900))]), RCODE.NOERROR);
  assert.equal(s.authority.zone(APEX)!.get('www.up.test.', TYPE.SOA), undefined, 'no SOA below the apex');
});

test('serial arithmetic (RFC 1982): the bump wraps from 4294967295 to 0', () => {
  const s = server();
  const soa: RData = {
    kind: 'SOA',
    mname: 'ns1.up.test.',
    rname: 'h.up.test.',
    serial: 0xffffffff,
    refresh: 1,
    retry: 1,
    expire: 1,
    minimum: 1,
  };
  // In steps shorter than 2^31, each newer than the last.
  for (const n of [0x7fffffff, 0xfffffff0, 0xffffffff]) {
    assert.equal(rcode(s, [], [U.add(APEX, TYPE.SOA, { ...soa, serial: n })]), RCODE.NOERROR);
    assert.equal(serial(s), n);
  }
  assert.equal(rcode(s, [], [U.add('wrap', TYPE.A, a('192.0.2.3'))]), RCODE.NOERROR);
  assert.equal(serial(s), 0);
});

test('CNAME (§3.4.2.2): not added beside other data, other data not added beside it; a CNAME replaces the CNAME', () => {
  const s = server();
  assert.equal(rcode(s, [], [U.add('www', TYPE.CNAME, { kind: 'CNAME', target: 'mail.up.test.' })]), RCODE.NOERROR);
  assert.equal(s.authority.zone(APEX)!.get('www.up.test.', TYPE.CNAME), undefined);
  assert.equal(rcode(s, [], [U.add('alias', TYPE.A, a('192.0.2.5'))]), RCODE.NOERROR);
  assert.equal(s.authority.zone(APEX)!.get('alias.up.test.', TYPE.A), undefined);
  assert.equal(serial(s), 10);
  assert.equal(rcode(s, [], [U.add('alias', TYPE.CNAME, { kind: 'CNAME', target: 'mail.up.test.' })]), RCODE.NOERROR);
  const c = s.authority.zone(APEX)!.get('alias.up.test.', TYPE.CNAME)!;
  assert.deepEqual(
    c.map((r) => (r.data.kind === 'CNAME' ? r.data.target : '')),
    ['mail.up.test.'],
  );
  // Delete the name, then a CNAME may go where data was; in one update, in order.
  assert.equal(rcode(s, [], [U.deleteName('www'), U.add('www', TYPE.CNAME, { kind: 'CNAME', target: 'mail.up.test.' })]), RCODE.NOERROR);
  assert.deepEqual(lookup(s, 'www.up.test.', TYPE.A).data, ['192.0.2.25', 'CNAME']);
});

test('a commit that fails is SERVFAIL and the zone served stays as it was; the next one that works applies', () => {
  for (const failure of ['full', 'io-error'] as const) {
    const s = server();
    s.commitResult = failure;
    const before = contents(s);
    assert.equal(rcode(s, [], [U.add('x', TYPE.A, a('192.0.2.1'))]), RCODE.SERVFAIL);
    assert.deepEqual(contents(s), before);
    assert.equal(serial(s), 10);
    assert.equal(lookup(s, 'x.up.test.', TYPE.A).rcode, RCODE.NXDOMAIN);
    assert.equal(s.applied.length, 0, 'no NOTIFY for a version not served');
    assert.equal(s.updates.counters.commitFailures, 1);
    s.commitResult = 'ok';
    assert.equal(rcode(s, [], [U.add('x', TYPE.A, a('192.0.2.1'))]), RCODE.NOERROR);
    assert.equal(serial(s), 11);
  }
});

test('the new version is committed as its difference, and IXFR from the old serial sends that difference', () => {
  const s = server();
  assert.equal(rcode(s, [], [U.deleteRR('www', TYPE.A, a('192.0.2.81')), U.add('new', TYPE.A, a('192.0.2.7'))]), RCODE.NOERROR);
  const d = s.commits[0]!;
  const soaSerial = (r: DnsRecord): number => (r.data.kind === 'SOA' ? r.data.serial : -1);
  assert.deepEqual([soaSerial(d.from), soaSerial(d.to)], [10, 11]);
  assert.deepEqual(d.deleted.map(recordKey), [recordKey(rr('www', TYPE.A, CLASS_IN, 300, a('192.0.2.81')))]);
  assert.deepEqual(d.added.map(recordKey), [recordKey(rr('new', TYPE.A, CLASS_IN, 300, a('192.0.2.7')))]);
  const q: DnsMessage = {
    ...makeQuery(5, APEX, TYPE.IXFR, { rd: false }),
    authority: [{ ...s.commits[0]!.from, name: APEX }],
  };
  const out = s.authority.answer(encodeDns(q), { transport: 'tcp', allowAxfr: true }).map(decoded);
  const seq = out
    .flatMap((m) => m.answers)
    .map((r) => (r.type === TYPE.SOA ? `SOA ${soaSerial(r)}` : `${r.name} ${(r.data as { address: string }).address}`));
  assert.deepEqual(seq, ['SOA 11', 'SOA 10', 'www.up.test. 192.0.2.81', 'SOA 11', 'new.up.test. 192.0.2.7', 'SOA 11']);
});

test('UPDATE over TCP is answered the same way', () => {
  const s = server();
  assert.equal(send(s, message([], [U.add('t', TYPE.A, a('192.0.2.4'))]), UPDATER, 'tcp').rcode, RCODE.NOERROR);
  assert.deepEqual(lookup(s, 't.up.test.', TYPE.A).data, ['192.0.2.4']);
});

// What an operator sees: each path's log event, its fields and the counters (survivors of the first mutation
// run of update.ts, 9bfa609: the log calls' event names and fields, each refusal's reason text, the counters'
// `++`, `key?.name ?? 'none'`, the serial logged).
test('the log and the counters: each refusal, failure, no-op, store failure and application, with its reason', () => {
  const lines: string[] = [];
  const authority = new Authority([zone()]);
  let commit: CommitResult = 'ok';
  const updates = new Updates(authority, {
    allowed: (_a, k) => k?.name !== OTHER.name,
    commit: () => commit,
    log: (level, event, fields) => lines.push(`${level} ${event} ${JSON.stringify(fields)}`),
  });
  const h = (m: DnsMessage, k: TsigKey | null = UPDATER): number => updates.handle(m, k ?? undefined, '192.0.2.7');
  const last = (): string => lines.at(-1)!;
  assert.equal(h(message([], [], { zoneType: TYPE.A })), RCODE.FORMERR);
  assert.equal(
    last(),
    'warn update-refused {"from":"192.0.2.7","rcode":"FORMERR","reason":"the zone section needs exactly one SOA question"}',
  );
  assert.equal(h(message([], [], { zone: 'other.test.' })), RCODE_UPDATE.NOTAUTH);
  assert.equal(
    last(),
    'warn update-refused {"zone":"other.test.","from":"192.0.2.7","rcode":"NOTAUTH","reason":"not a zone this server holds"}',
  );
  assert.equal(h(message([], []), OTHER), RCODE.REFUSED);
  assert.equal(last(), 'warn update-refused {"zone":"up.test.","from":"192.0.2.7","key":"other.","rcode":"REFUSED"}');
  const reason = (prereqs: DnsRecord[], ups: DnsRecord[] = []): string => {
    h(message(prereqs, ups), null);
    return JSON.parse(last().replace(/^info update-failed /, '')).reason;
  };
  assert.equal(reason([{ ...P.nameInUse('www'), ttl: 5 }]), 'prerequisite www.up.test. ANY has a TTL (must be 0, §3.2.1)');
  assert.equal(reason([P.nameInUse('x.else.')]), 'prerequisite x.else. ANY is outside up.test.');
  assert.equal(
    reason([{ ...P.nameInUse('www'), data: a('192.0.2.1') }]),
    'prerequisite www.up.test. ANY of class ANY or NONE has RDATA (§3.2.1)',
  );
  assert.equal(
    reason([{ ...P.rrsetExists('www', 65280), data: { kind: 'raw', bytes: new Uint8Array([1]) } }]),
    'prerequisite www.up.test. TYPE65280 of class ANY or NONE has RDATA (§3.2.1)',
    'an unknown type with RDATA',
  );
  assert.equal(reason([P.nameInUse('nope')]), 'nope.up.test. is not in use (§2.4.4)');
  assert.equal(reason([P.rrsetExists('www', TYPE.MX)]), 'no MX RRset at www.up.test. (§2.4.1)');
  assert.equal(reason([P.nameNotInUse('www')]), 'www.up.test. is in use (§2.4.5)');
  assert.equal(reason([P.rrsetDoesNotExist('www', TYPE.A)]), 'a A RRset exists at www.up.test. (§2.4.3)');
  assert.equal(reason([{ ...P.rrsetIs('www', TYPE.A, a('192.0.2.80')), class: 3 }]), 'prerequisite www.up.test. A has class 3 (§3.2.3)');
  assert.equal(reason([P.rrsetIs('www', TYPE.A, a('192.0.2.80'))]), 'the A RRset at www.up.test. is not the one given (§2.4.2)');
  // The held RRset has a record the given one lacks, with the same count: not the one given either.
  assert.equal(
    reason([P.rrsetIs('www', TYPE.A, a('192.0.2.80')), P.rrsetIs('www', TYPE.A, a('192.0.2.99'))]),
    'the A RRset at www.up.test. is not the one given (§2.4.2)',
  );
  assert.equal(reason([], [U.add('x.else.', TYPE.A, a('192.0.2.1'))]), 'update x.else. A is outside up.test.');
  assert.equal(reason([], [U.add('www', TYPE.ANY, empty)]), 'update www.up.test. ANY: a meta type cannot be added');
  assert.equal(
    reason([], [{ ...U.deleteRRset('www', TYPE.A), ttl: 1 }]),
    'update www.up.test. A: deleting an RRset takes TTL 0, no RDATA and a data type or ANY',
  );
  assert.equal(
    reason([], [{ ...U.deleteRR('www', TYPE.A, a('192.0.2.80')), ttl: 1 }]),
    'update www.up.test. A: deleting a record takes TTL 0 and a data type',
  );
  assert.equal(reason([], [{ ...U.add('www', TYPE.A, a('192.0.2.80')), class: 3 }]), 'update www.up.test. A has class 3');
  assert.equal(updates.counters.failedPrerequisites, 16);
  assert.equal(h(message([], [U.add('www', TYPE.A, a('192.0.2.80'))])), RCODE.NOERROR);
  assert.equal(last(), 'info update-unchanged {"zone":"up.test.","from":"192.0.2.7"}');
  commit = 'full';
  assert.equal(h(message([], [U.add('new', TYPE.A, a('192.0.2.5'))])), RCODE.SERVFAIL);
  assert.equal(last(), 'warn update-not-stored {"zone":"up.test.","from":"192.0.2.7","error":"full","rcode":"SERVFAIL"}');
  commit = 'ok';
  assert.equal(h(message([], [U.add('new', TYPE.A, a('192.0.2.5'))]), null), RCODE.NOERROR);
  assert.equal(last(), 'info update-applied {"zone":"up.test.","from":"192.0.2.7","key":"none","serial":11,"deleted":0,"added":1}');
  assert.equal(h(message([], [U.add('new2', TYPE.A, a('192.0.2.6'))])), RCODE.NOERROR);
  assert.equal(last(), 'info update-applied {"zone":"up.test.","from":"192.0.2.7","key":"updater.","serial":12,"deleted":0,"added":1}');
  assert.deepEqual(updates.counters, { updates: 23, refused: 1, failedPrerequisites: 16, commitFailures: 1, applied: 2 });
});
