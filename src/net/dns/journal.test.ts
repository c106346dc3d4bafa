/**
 * Dynamic updates kept across a restart, as examples/dns-server wires them:
 * `Updates` committing to an `UpdateJournal` over an `AppendLog` on a block
 * device in memory, then a new log on the same device replayed onto the
 * image's zone. Checked: the replayed zone is the one served before the
 * restart (a TTL change included) and IXFR still has each version; a full
 * log is compacted and still replays; an update that fits nowhere, or
 * whose write fails, is SERVFAIL and absent after the restart too; a
 * journal made for another version of the zone is refused, not applied.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { BlockDevice } from '../../devices/index.ts';
import { AppendLog } from '../../storage/log.ts';
import { CLASS_IN, decodeDns, encodeDns, isDecodeError, RCODE, TYPE, type DnsMessage, type DnsRecord } from '../../wire/dns.ts';
import { Authority, OPCODE_UPDATE, recordKey, Zone, zoneDiff } from './authority.ts';
import { decodeZoneDiff, encodeZoneDiff, type EntryLog, replayJournal, UpdateJournal } from './journal.ts';
import { type CommitResult, Updates } from './update.ts';

const APEX = 'j.test.';

function base(serial = 1): Zone {
  const z = Zone.parse(
    APEX,
    `$ORIGIN j.test.\n$TTL 300\n@ SOA ns hostmaster ${serial} 3600 600 86400 60\n@ NS ns\nns A 192.0.2.1\nwww A 192.0.2.80\n`,
  );
  if ('errors' in z) throw new Error(z.errors.join('\n'));
  return z;
}

function disk(size: number): { dev: BlockDevice; failing: { on: boolean } } {
  const bytes = new Uint8Array(size);
  const failing = { on: false };
  return {
    failing,
    dev: {
      capacity: BigInt(size),
      blockSize: 512,
      read: (off, into) => {
        into.set(bytes.subarray(Number(off), Number(off) + into.length));
        return 'ok';
      },
      write: (off, data) => {
        if (failing.on) return 'unspecified';
        bytes.set(data, Number(off));
        return 'ok';
      },
    },
  };
}

/** A primary booted on `dev` as the example boots: the journal replayed onto the image's zone. */
function boot(dev: BlockDevice, image: Zone = base()): { authority: Authority; updates: Updates; journal: UpdateJournal } {
  const log = new AppendLog(dev);
  const entries = log.load();
  assert.notEqual(log.state, 'corrupt');
  const r = replayJournal([image], entries);
  if ('error' in r) throw new Error(r.error);
  const authority = new Authority([image]);
  for (const z of r.versions) authority.setZone(z);
  const journal = new UpdateJournal(log, [image], r.versions);
  const updates = new Updates(authority, { allowed: () => true, commit: (z, d) => journal.record(z, d) });
  return { authority, updates, journal };
}

const a = (name: string, address: string, ttl = 300): DnsRecord => ({
  name,
  type: TYPE.A,
  class: CLASS_IN,
  ttl,
  data: { kind: 'A', address },
});
const update = (adds: DnsRecord[], deletes: DnsRecord[] = []): DnsMessage => ({
  id: 1,
  qr: false,
  opcode: OPCODE_UPDATE,
  aa: false,
  tc: false,
  rd: false,
  ra: false,
  ad: false,
  cd: false,
  rcode: 0,
  questions: [{ name: APEX, type: TYPE.SOA, class: CLASS_IN }],
  answers: [],
  authority: [...deletes.map((r) => ({ ...r, class: 254, ttl: 0 })), ...adds],
  additional: [],
});
const state = (au: Authority): string[] =>
  au
    .zone(APEX)!
    .records.map((r) => `${recordKey(r)} ${r.ttl}`)
    .sort();

test('an entry is the difference as a DNS message, and comes back as it went; bytes that are not one never throw', () => {
  const from = base(1),
    to = base(2);
  const d = { from: from.soa, to: to.soa, deleted: [a('www.j.test.', '192.0.2.80')], added: [a('new.j.test.', '192.0.2.9', 60)] };
  const back = decodeZoneDiff(encodeZoneDiff(APEX, d)!);
  assert.ok(!('error' in back), JSON.stringify(back));
  assert.equal(back.apex, APEX);
  assert.deepEqual(back.diff, d);
  assert.match((decodeZoneDiff(new Uint8Array(5)) as { error: string }).error, /not a DNS message/);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
      decodeZoneDiff(b);
      replayJournal([base()], [b]);
    }),
    { numRuns: 2000 },
  );
});

test('updates survive a restart: the replayed zone is the one served before, each version still there for IXFR', () => {
  const { dev } = disk(64 * 1024);
  const first = boot(dev);
  assert.equal(first.updates.handle(update([a('one.j.test.', '192.0.2.11')]), undefined, 't'), RCODE.NOERROR);
  assert.equal(
    first.updates.handle(update([a('two.j.test.', '192.0.2.12')], [a('www.j.test.', '192.0.2.80')]), undefined, 't'),
    RCODE.NOERROR,
  );
  assert.equal(first.updates.handle(update([a('one.j.test.', '192.0.2.11', 30)]), undefined, 't'), RCODE.NOERROR, 'a TTL change');
  const served = state(first.authority);
  assert.equal(first.journal.counters.appended, 3);

  const second = boot(dev);
  assert.deepEqual(state(second.authority), served);
  assert.equal(second.authority.zone(APEX)!.get('one.j.test.', TYPE.A)![0]!.ttl, 30);
  assert.deepEqual(
    second.authority.journal(APEX).map((d) => [d.from.data, d.to.data].map((x) => (x.kind === 'SOA' ? x.serial : 0))),
    [
      [1, 2],
      [2, 3],
      [3, 4],
    ],
  );
  // And it goes on from there.
  assert.equal(second.updates.handle(update([a('three.j.test.', '192.0.2.13')]), undefined, 't'), RCODE.NOERROR);
  assert.deepEqual(state(boot(dev).authority), state(second.authority));
});

test('a full log is compacted to one difference from the image, and still replays; what fits nowhere is SERVFAIL, also after a restart', () => {
  const { dev } = disk(16 * 512);
  const p = boot(dev);
  let n = 0;
  for (; n < 200; n++) {
    const r = p.updates.handle(update([a(`h${n}.j.test.`, `192.0.2.${n % 250}`)]), undefined, 't');
    if (r !== RCODE.NOERROR) {
      assert.equal(r, RCODE.SERVFAIL);
      break;
    }
  }
  assert.ok(p.journal.counters.compactions >= 1, 'compacted at least once');
  assert.ok(n > 7 && n < 200, `${n} updates fit`);
  assert.equal(p.authority.zone(APEX)!.get(`h${n}.j.test.`, TYPE.A), undefined, 'the refused one is not served');
  const served = state(p.authority);
  const again = boot(dev);
  assert.deepEqual(state(again.authority), served);
  // A delete makes room once compacted: the difference from the image shrinks.
  assert.equal(
    again.updates.handle(
      update(
        [],
        Array.from({ length: n }, (_, i) => a(`h${i}.j.test.`, `192.0.2.${i % 250}`)),
      ),
      undefined,
      't',
    ),
    RCODE.NOERROR,
  );
  assert.equal(again.updates.handle(update([a('after.j.test.', '192.0.2.99')]), undefined, 't'), RCODE.NOERROR);
  assert.deepEqual(state(boot(dev).authority), state(again.authority));
});

test('a write that fails is SERVFAIL, and after a restart the update is absent', () => {
  const { dev, failing } = disk(64 * 1024);
  const p = boot(dev);
  assert.equal(p.updates.handle(update([a('kept.j.test.', '192.0.2.1')]), undefined, 't'), RCODE.NOERROR);
  failing.on = true;
  assert.equal(p.updates.handle(update([a('lost.j.test.', '192.0.2.2')]), undefined, 't'), RCODE.SERVFAIL);
  failing.on = false;
  const served = state(p.authority);
  assert.ok(!served.some((l) => l.startsWith('lost.')));
  assert.deepEqual(state(boot(dev).authority), served);
});

test('a journal made for another version of the zone, or for a zone the image lacks, is refused with the reason', () => {
  const { dev } = disk(64 * 1024);
  boot(dev).updates.handle(update([a('x.j.test.', '192.0.2.1')]), undefined, 't');
  const entries = new AppendLog(dev).load();
  const stale = replayJournal([base(7)], entries);
  assert.ok('error' in stale);
  assert.match(stale.error, /entry 1 changes j\.test\. from serial 1, but the zone has serial 7/);
  const other = Zone.parse('k.test.', '$ORIGIN k.test.\n@ 300 SOA ns h 1 1 1 1 1\n@ 300 NS ns\n');
  assert.ok(!('errors' in other));
  const missing = replayJournal([other], entries);
  assert.ok('error' in missing);
  assert.match(missing.error, /changes j\.test\., a zone the image does not hold/);
});

// Unit cases for the survivors of the first mutation run of journal.ts (9bfa609, 62.8%): the entry's header
// (qr, aa, tc, rd, ra, ad, cd each made true), the message bound (`answers.length > 0xffff` made false or
// `>=`), each refusal of decodeZoneDiff and replayJournal with its text and entry number (`i + 1` as `i - 1`,
// the tests made false, `||` as `&&`, `second < 0` as `<= 0`), isApexSoa's two tests, `serial` of a record
// that is no SOA, and UpdateJournal's bookkeeping over a scripted log (`r === 'ok'` made true or false or
// negated, the replayed zones kept, `every` as `some`, the counters, the RangeError).
const soa = (name: string, serial: number): DnsRecord => ({
  name,
  type: TYPE.SOA,
  class: CLASS_IN,
  ttl: 300,
  data: { kind: 'SOA', mname: 'ns.j.test.', rname: 'h.j.test.', serial, refresh: 1, retry: 1, expire: 1, minimum: 1 },
});
const entry = (answers: DnsRecord[], qtype: number = TYPE.SOA, questions = 1): Uint8Array =>
  encodeDns({
    ...update([]),
    opcode: 0,
    questions: Array.from({ length: questions }, () => ({ name: APEX, type: qtype, class: CLASS_IN })),
    answers,
    authority: [],
  });

test('decodeZoneDiff: the header an entry is written with; each thing an entry lacks is refused, by name', () => {
  const d = { from: soa(APEX, 1), to: soa(APEX, 2), deleted: [], added: [] };
  const m = decodeDns(encodeZoneDiff(APEX, d)!);
  assert.ok(!isDecodeError(m));
  assert.deepEqual([m.qr, m.aa, m.tc, m.rd, m.ra, m.ad, m.cd, m.opcode, m.rcode], [false, false, false, false, false, false, false, 0, 0]);
  const many = Array.from({ length: 0xffff - 2 }, () => a('x.j.test.', '192.0.2.1'));
  assert.notEqual(encodeZoneDiff(APEX, { ...d, added: many }), undefined, '65,535 records in all fit');
  assert.equal(encodeZoneDiff(APEX, { ...d, added: [...many, a('y.j.test.', '192.0.2.2')] }), undefined);

  const err = (b: Uint8Array): string => (decodeZoneDiff(b) as { error: string }).error;
  assert.equal(err(entry([soa(APEX, 1), soa(APEX, 2)], TYPE.A)), 'no zone named');
  assert.equal(err(entry([soa(APEX, 1), soa(APEX, 2)], TYPE.SOA, 2)), 'no zone named');
  assert.equal(err(entry([soa(APEX, 1), soa(APEX, 2)], TYPE.SOA, 0)), 'no zone named');
  assert.equal(err(entry([])), `no SOA pair for ${APEX}`);
  assert.equal(err(entry([soa(APEX, 1)])), `no SOA pair for ${APEX}`, 'one SOA only');
  assert.equal(err(entry([a(APEX, '192.0.2.1'), soa(APEX, 2)])), `no SOA pair for ${APEX}`, 'not an SOA first');
  assert.equal(err(entry([soa('k.test.', 1), soa(APEX, 2)])), `no SOA pair for ${APEX}`, "another zone's SOA first");
  assert.equal(err(entry([soa(APEX, 1), soa('k.test.', 2)])), `no SOA pair for ${APEX}`, "another zone's SOA second");
  const ok = decodeZoneDiff(entry([soa(APEX, 1), a('a.j.test.', '192.0.2.1'), soa(APEX, 2), a('b.j.test.', '192.0.2.2')]));
  assert.ok(!('error' in ok));
  assert.deepEqual([ok.diff.deleted.length, ok.diff.to.data, ok.diff.added.length], [1, soa(APEX, 2).data, 1]);
});

test('replayJournal: each refusal names its entry, counted from 1', () => {
  const z = base(1);
  const good = encodeZoneDiff(APEX, { from: z.soa, to: soa(APEX, 2), deleted: [], added: [a('n.j.test.', '192.0.2.3')] })!;
  const err = (entries: Uint8Array[]): string => (replayJournal([z], entries) as { error: string }).error;
  assert.equal(err([good, new Uint8Array(3)]).slice(0, 28), 'entry 2: not a DNS message: ');
  assert.equal(err([good, entry([soa(APEX, 2)])]), `entry 2: no SOA pair for ${APEX}`);
  const elsewhere = encodeZoneDiff('k.test.', { from: soa('k.test.', 1), to: soa('k.test.', 2), deleted: [], added: [] })!;
  assert.equal(err([good, elsewhere]), 'entry 2 changes k.test., a zone the image does not hold');
  // The NS deleted: the zone has no NS at its apex left.
  const noNs = encodeZoneDiff(APEX, {
    from: soa(APEX, 2),
    to: soa(APEX, 3),
    deleted: z.records.filter((r) => r.type === TYPE.NS),
    added: [],
  })!;
  assert.match(err([good, noNs]), /^entry 2 makes j\.test\. invalid: ./);
  const r = replayJournal([z], [good]);
  assert.ok(!('error' in r));
  assert.equal(r.versions[0]!.soa.data.kind === 'SOA' && r.versions[0]!.soa.data.serial, 2);
});

function scripted(appends: CommitResult[], rewrites: CommitResult[]) {
  const calls: string[] = [];
  const rewritten: Uint8Array[][] = [];
  const log: EntryLog = {
    append: () => {
      calls.push('append');
      return appends.shift() ?? 'ok';
    },
    rewrite: (entries) => {
      calls.push('rewrite');
      rewritten.push([...entries]);
      return rewrites.shift() ?? 'ok';
    },
  };
  return { log, calls, rewritten };
}

test('UpdateJournal: counts appends, compactions and refusals; a compaction keeps the replayed zones; only the image zones take updates', () => {
  const image = base(1);
  const other = Zone.parse('k.test.', '$ORIGIN k.test.\n@ 300 SOA ns h 1 1 1 1 1\n@ 300 NS ns\n');
  assert.ok(!('errors' in other));
  const v = (zone: Zone, serial: number, extra: string): Zone => {
    const z = Zone.fromRecords(zone.apex, [
      soa(zone.apex, serial),
      ...zone.records.filter((r) => r !== zone.soa),
      a(`${extra}.${zone.apex}`, '192.0.2.7'),
    ]);
    assert.ok(!('errors' in z), JSON.stringify(z));
    return z;
  };
  const replayedOther = Zone.fromRecords('k.test.', [
    { ...other.soa, data: { ...(other.soa.data as Extract<DnsRecord['data'], { kind: 'SOA' }>), serial: 5 } },
    ...other.records.filter((r) => r !== other.soa),
  ]);
  assert.ok(!('errors' in replayedOther));
  const s = scripted(['ok', 'io-error', 'full', 'full', 'full'], ['ok', 'io-error']);
  const j = new UpdateJournal(s.log, [image, other], [replayedOther]);
  const v2 = v(image, 2, 'a');
  assert.equal(j.record(v2, zoneDiff(image, v2)), 'ok');
  assert.deepEqual(j.counters, { appended: 1, compactions: 0, refused: 0 });
  const v3 = v(v2, 3, 'b');
  assert.equal(j.record(v3, zoneDiff(v2, v3)), 'io-error');
  assert.deepEqual(j.counters, { appended: 1, compactions: 0, refused: 1 });
  // Full: compacted to one difference per changed zone from the image: j.test. at v4 (not v3, refused) and k.test. as replayed.
  const v4 = v(v2, 4, 'c');
  assert.equal(j.record(v4, zoneDiff(v2, v4)), 'ok');
  assert.deepEqual(j.counters, { appended: 1, compactions: 1, refused: 1 });
  const got = s.rewritten[0]!.map((e) => decodeZoneDiff(e) as { apex: string; diff: { to: DnsRecord } });
  assert.deepEqual(got.map((d) => [d.apex, d.diff.to.data.kind === 'SOA' && d.diff.to.data.serial]).sort(), [
    ['j.test.', 4],
    ['k.test.', 5],
  ]);
  // Full and the compaction fails: refused, and the zone is not taken as current.
  const v5 = v(v4, 5, 'd');
  assert.equal(j.record(v5, zoneDiff(v4, v5)), 'io-error');
  assert.deepEqual(j.counters, { appended: 1, compactions: 1, refused: 2 });
  const v6 = v(v4, 6, 'e');
  assert.equal(j.record(v6, zoneDiff(v4, v6)), 'ok');
  const last = s.rewritten[2]!.map((e) => decodeZoneDiff(e) as { apex: string; diff: { added: readonly DnsRecord[] } });
  const jt = last.find((d) => d.apex === 'j.test.')!;
  assert.deepEqual(jt.diff.added.map((r) => r.name).sort(), ['a.j.test.', 'c.j.test.', 'e.j.test.'], 'v5 (refused) is not in it');
  assert.deepEqual(s.calls, ['append', 'append', 'append', 'rewrite', 'append', 'rewrite', 'append', 'rewrite']);
  // A compaction for k.test. keeps j.test. as last recorded (v6, taken by the compaction before).
  const k6 = v(replayedOther, 6, 'k');
  s.log.append = () => 'full';
  assert.equal(j.record(k6, zoneDiff(replayedOther, k6)), 'ok');
  const serials = s.rewritten[3]!.map((e) => decodeZoneDiff(e) as { apex: string; diff: { to: DnsRecord } });
  assert.deepEqual(serials.map((d) => [d.apex, d.diff.to.data.kind === 'SOA' && d.diff.to.data.serial]).sort(), [
    ['j.test.', 6],
    ['k.test.', 6],
  ]);
  // Without replayed zones (a new log), a compaction holds only what was recorded.
  const fresh = scripted(['ok', 'full'], []);
  const jf = new UpdateJournal(fresh.log, [image, other]);
  assert.equal(jf.record(v2, zoneDiff(image, v2)), 'ok');
  assert.equal(jf.record(v4, zoneDiff(v2, v4)), 'ok');
  assert.deepEqual(
    fresh.rewritten[0]!.map((e) => (decodeZoneDiff(e) as { apex: string }).apex),
    ['j.test.'],
  );
  assert.throws(
    () =>
      j.record(v(Zone.parse('z.test.', '$ORIGIN z.test.\n@ 300 SOA ns h 1 1 1 1 1\n@ 300 NS ns\n') as Zone, 2, 'x'), zoneDiff(image, v2)),
    {
      name: 'RangeError',
      message: "z.test. is not one of the image's zones; only those take updates",
    },
  );
});
