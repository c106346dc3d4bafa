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
import { CLASS_IN, RCODE, TYPE, type DnsMessage, type DnsRecord } from '../../wire/dns.ts';
import { Authority, OPCODE_UPDATE, recordKey, Zone } from './authority.ts';
import { decodeZoneDiff, encodeZoneDiff, replayJournal, UpdateJournal } from './journal.ts';
import { Updates } from './update.ts';

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
