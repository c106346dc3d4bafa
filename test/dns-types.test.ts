/**
 * Byte-exactness against NSD: examples/dns-server's types.test zone (every
 * record type NSD loads from a master file, DNAMEs, a wildcard DNAME, a
 * duplicate record, a delegation with DS) served by NSD and by Fata sealed
 * on a tap, in a namespace this test makes, and asked the same questions
 * with kdig in RFC 3597 generic form: every owner with each of its types,
 * A, TXT and a type it lacks, the DNAME cases, the DO bit, AXFR, IXFR,
 * NOTAUTH and malformed queries. Answers, status, flags and negative SOAs
 * must be identical; the one accepted difference is listed at the end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsSkipReason, waitForLine, withTapNamespace, type TapNamespace } from './netns.ts';
import { startNsd } from './nsd.ts';
import { journalFlag } from './dns-journal.ts';
import { differences, parseKdig, questionsFrom } from './dns-compare.ts';
import { buildImage, kdigIn } from './images.ts';

const FATA = new URL('../bin/fata.mjs', import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;
const target = process.arch === 'x64' ? 'spt' : 'node';
const build = (dir: string): string => buildImage(dir, target);
/** The answers in RFC 3597's generic form, which both servers print alike. */
const kdig = (ns: TapNamespace, server: string, args: string[]): string => kdigIn(ns, server, ['+generic', ...args]);
const ZONE = readFileSync(join(ROOT, 'examples/dns-server/zones/types.test.zone'), 'utf8');
const NSD = '10.53.0.1';
const FATA_IP = '10.53.0.2';

/** The records of an AXFR, one per line, sorted (generic form). */
const records = (out: string): string[] =>
  out
    .split('\n')
    .filter((l) => /\sIN\s/.test(l) && !l.startsWith(';'))
    .map((l) => l.replace(/\s+/g, ' '))
    .sort();

const EXTRA: [string, string][] = [
  ['x.dname.types.test', 'A'],
  ['X.DName.types.test', 'A'],
  ['a.b.dname.types.test', 'A'],
  ['nope.dname.types.test', 'TXT'], // DNAME, then through the wildcard *.target
  ['x.out.types.test', 'A'], // DNAME out of the zone: DNAME and CNAME only
  ['xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.yyyyyyyyyy.long.types.test', 'A'], // YXDOMAIN
  ['y.wd.types.test', 'A'],
  ['y.wd.types.test', 'DNAME'], // the wildcard DNAME, synthesized as data
  ['x.y.wd.types.test', 'A'],
  ['x.*.wd.types.test', 'A'], // below the wildcard's own owner the DNAME redirects
  ['x.dname.types.test', 'CNAME'],
  ['x.dname.types.test', 'DNAME'],
  ['x.dname.types.test', 'ANY'],
  ['nope.types.test', 'A'],
  ['x.ds.types.test', 'A'],
  ['MiXeD.types.test', 'A'],
];

/** Raw UDP queries (hex) and, per server, the reply's ID, opcode and RCODE, or 'timeout'. */
function rawUdp(ns: TapNamespace, server: string, hexes: string[]): string[] {
  const py = `import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(1)
for h in sys.argv[1:]:
  s.sendto(bytes.fromhex(h),("${server}",53))
  try:
    d,_=s.recvfrom(4096); print(d[0:2].hex(), d[2]>>3&15, d[3]&15)
  except socket.timeout: print('timeout')`;
  const r = ns.run(['python3', '-c', py, ...hexes]);
  return r.stdout.trim().split('\n');
}

/** A header in hex: ID, flags and the four counts. */
const hdr = (id: number, flags: number, qd: number, ar = 0): string =>
  [id, flags, qd, 0, 0, ar].map((v) => v.toString(16).padStart(4, '0')).join('');
const Q = '0161057479706573047465737400' + '00010001'; // a.types.test. A IN
const OPT_V1 = '0000290200000100000000'; // EDNS version 1
const MALFORMED = [
  'abcd01000001000000000000c00c00010001', // a pointer to itself
  'abce010000010000000000000377777700', // truncated question
  'abd0', // too short for an ID: ignored
  'abd1010000000000000000', // 11 bytes
  hdr(0xabd2, 0x0100, 2) + Q + Q.slice(0, -6), // two questions, the second cut
  hdr(0xabd3, 0x0100, 1) + Q.slice(0, -4) + '00ff', // class ANY
  hdr(0xabd4, 0x2100, 1) + Q.slice(0, -4), // NOTIFY, truncated
  hdr(0xabd5, 0x0100, 1, 1) + Q + OPT_V1, // BADVERS
  hdr(0xabd6, 0x0100, 1, 1) + Q + '0000290200000000000400050000', // an option past the OPT record
  hdr(0xabd7, 0x0000, 1) + '05747970657304746573740000fc0001', // AXFR over UDP: NOTIMP
];

test('types.test served by NSD and by Fata: the same answers, octet for octet', {
  skip: netnsSkipReason(['nsd', 'kdig', 'python3']),
}, async () => {
  const image = build('examples/dns-server');
  const dir = mkdtempSync(join(tmpdir(), 'fata-nsd-types-'));
  try {
    await withTapNamespace(`${NSD}/24`, async (ns) => {
      startNsd(ns, dir, NSD, 'types.test', ZONE, { provideXfr: true });
      const fata = ns.start([
        process.execPath,
        FATA,
        'run',
        `--net:service=${ns.tap}`,
        journalFlag(),
        image,
        `--ipv4=${FATA_IP}/24`,
        '--axfr',
      ]);
      await waitForLine(fata, /event=serving/, 60_000);
      for (let i = 0; !/status: NOERROR/.test(kdig(ns, NSD, ['types.test', 'SOA'])); i++) {
        assert.ok(i < 50, 'NSD did not come up');
        await new Promise((r) => setTimeout(r, 100));
      }

      // The whole zone, transferred.
      const nsdAxfr = kdig(ns, NSD, ['AXFR', 'types.test']);
      const fataAxfr = kdig(ns, FATA_IP, ['AXFR', 'types.test']);
      assert.ok(records(nsdAxfr).length >= 75, nsdAxfr);
      assert.deepEqual(records(fataAxfr), records(nsdAxfr));
      assert.equal(
        records(nsdAxfr).filter((l) => l.startsWith('a.types.test. 3600 IN TYPE1 \\# 4 C0000201')).length,
        1,
        'the duplicate once',
      );

      // Every owner with each of its types, A, TXT and a type it lacks, and the DNAME cases; then the DO bit.
      const qs = questionsFrom(nsdAxfr, EXTRA);
      assert.ok(qs.length > 200, `${qs.length} questions`);
      const nsd = parseKdig(kdig(ns, NSD, qs.flat()));
      assert.equal(nsd.length, qs.length);
      assert.deepEqual(differences(nsd, parseKdig(kdig(ns, FATA_IP, qs.flat())), ['nsd', 'fata']), []);
      const dnssec = ['+dnssec', 'a.types.test', 'A', 'nope.types.test', 'A', 'x.dname.types.test', 'A'];
      const nsdDo = parseKdig(kdig(ns, NSD, dnssec));
      assert.match(nsdDo[0]!.edns, /^0 do/);
      assert.deepEqual(differences(nsdDo, parseKdig(kdig(ns, FATA_IP, dnssec)), ['nsd', 'fata']), []);
      assert.ok(nsd.some((a) => a.status === 'YXDOMAIN') && nsd.some((a) => a.answer.some((l) => / TYPE39 /.test(l))));

      // Transfers: NOTAUTH below the apex and outside the zone; IXFR from the current serial is one SOA, from an older one the zone.
      for (const name of ['a.types.test', 'other.test']) {
        for (const s of [NSD, FATA_IP]) assert.match(kdig(ns, s, ['AXFR', name]), /error 'NOTAUTH'/, `${s} AXFR ${name}`);
      }
      for (const s of [NSD, FATA_IP]) {
        const current = kdig(ns, s, ['IXFR=2026113001', 'types.test']);
        assert.equal(records(current).length, 1, `${s}: ${current}`);
        assert.match(records(current)[0]!, /TYPE6/);
        assert.deepEqual(records(kdig(ns, s, ['IXFR=2026113000', 'types.test'])), records(nsdAxfr), s);
      }

      // Malformed and odd queries get the same reply (ID, opcode, RCODE) or the same silence.
      assert.deepEqual(rawUdp(ns, FATA_IP, MALFORMED), rawUdp(ns, NSD, MALFORMED));
      // The one difference kept (docs/dns-dhcp.md): bytes after the question are FORMERR here; NSD ignores them.
      const junk = [hdr(0xabcf, 0x0100, 1) + Q + '99'];
      assert.deepEqual([rawUdp(ns, NSD, junk), rawUdp(ns, FATA_IP, junk)], [['abcf 0 0'], ['abcf 0 1']]);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
