/**
 * Primary and secondary against NSD 4.6, with TSIG (hmac-sha256) on every
 * transfer and NOTIFY, in a namespace this test makes. NSD at 10.53.0.1 is
 * the primary of sec.test and a secondary of example.test; Fata, sealed on
 * a tap at 10.53.0.2, is a secondary of sec.test (`--primary --zone`) and
 * the primary of example.test (`--notify`). Checked: Fata transfers
 * sec.test from NSD and serves it as NSD does; a changed zone reloaded by
 * NSD reaches Fata through NSD's NOTIFY; NSD accepts Fata's signed NOTIFY,
 * transfers example.test from Fata and serves what Fata serves. Then
 * Fata→Fata over loopback (`--net=socket`, no root): a primary's NOTIFY
 * and a secondary's transfer, and a wrong key refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsSkipReason, stopAll, waitForLine, withTapNamespace, type TapNamespace } from './netns.ts';
import { startNsd } from './nsd.ts';
import { journalFlag } from './dns-journal.ts';
import { freePorts } from './ports.ts';
import { lines } from './log-lines.ts';
import { buildImage, kdigIn } from './images.ts';

const FATA = new URL('../bin/fata.mjs', import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;
const target = process.arch === 'x64' ? 'spt' : 'node';
const build = (dir: string): string => buildImage(dir, target);
const kdig = (ns: TapNamespace, server: string, args: string[]): string => kdigIn(ns, server, args);
const NSD = '10.53.0.1';
const FATA_IP = '10.53.0.2';
const SECRET = 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==';
const KEY = `hmac-sha256:xfr-key:${SECRET}`;
const hasKdig = spawnSync('sh', ['-c', 'command -v kdig']).status === 0;

function secZone(serial: number, extra = ''): string {
  let text = `$ORIGIN sec.test.\n$TTL 300\n@ SOA ns1 hostmaster ${serial} 3600 600 86400 60\n@ NS ns1\nns1 A ${NSD}\n`;
  // Enough records for several transfer messages.
  for (let i = 0; i < 1500; i++) text += `h${i} A 192.0.2.${i % 250}\nh${i} TXT "record number ${i} of sec.test"\n`;
  return text + extra;
}

/** The records of a transfer, one per line, sorted; the TSIG record left out. */
const records = (out: string): string[] =>
  out
    .split('\n')
    .filter((l) => /\sIN\s/.test(l) && !l.startsWith(';'))
    .map((l) => l.replace(/\s+/g, ' '))
    .sort();

/** Collects a child's stdout, so that a line can be waited for after others. */
test("Fata as NSD's secondary and as NSD's primary: AXFR/IXFR and NOTIFY both ways, signed with TSIG", {
  skip: netnsSkipReason(['nsd', 'kdig']),
}, async () => {
  const image = build('examples/dns-server');
  const dir = mkdtempSync(join(tmpdir(), 'fata-nsd-secondary-'));
  try {
    await withTapNamespace(`${NSD}/24`, async (ns) => {
      const nsd = startNsd(ns, dir, NSD, 'sec.test', secZone(1), {
        keys: [{ name: 'xfr-key', algorithm: 'hmac-sha256', secret: SECRET }],
        // kdig asks NSD from NSD's own address.
        zoneOptions: [`provide-xfr: ${FATA_IP} xfr-key`, `provide-xfr: ${NSD} xfr-key`, `notify: ${FATA_IP} xfr-key`],
        secondaries: [
          {
            name: 'example.test',
            options: [`request-xfr: ${FATA_IP} xfr-key`, `allow-notify: ${FATA_IP} xfr-key`, `provide-xfr: ${NSD} xfr-key`],
          },
        ],
      });
      // Up over TCP as well (Fata's first SOA check is over TCP): NSD answered UDP while a TCP query still got a reset,
      // and the boot logged a refresh failure that the check below counts.
      for (let i = 0; !/status: NOERROR/.test(kdig(ns, NSD, ['+tcp', 'sec.test', 'SOA'])); i++) {
        assert.ok(i < 50, 'NSD did not come up');
        await new Promise((r) => setTimeout(r, 100));
      }
      const fata = ns.start([
        process.execPath,
        FATA,
        'run',
        `--net:service=${ns.tap}`,
        journalFlag(),
        image,
        `--ipv4=${FATA_IP}/24`,
        `--tsig=${KEY}`,
        `--primary=${NSD}`,
        '--zone=sec.test',
        `--notify=${NSD}`,
      ]);
      const log = lines(fata);
      await waitForLine(fata, /event=serving/, 60_000);
      assert.match(await log.when(/event=zone-transferred zone=sec\.test\./, 30_000), /how=AXFR serial=1 records=3003/);

      // Fata serves sec.test as NSD does; the transfer out of Fata, signed, equals NSD's.
      const nsdAxfr = kdig(ns, NSD, ['-y', KEY, 'AXFR', 'sec.test']);
      const fataAxfr = kdig(ns, FATA_IP, ['-y', KEY, 'AXFR', 'sec.test']);
      assert.doesNotMatch(fataAxfr, /WARNING|;; ERROR/, fataAxfr.slice(-2000));
      assert.match(fataAxfr, /Received \d+ B \((?:[2-9]|\d{2,}) messages/, 'several messages, each verified by kdig');
      assert.equal(records(nsdAxfr).length, 3004);
      assert.deepEqual(records(fataAxfr), records(nsdAxfr));
      assert.match(kdig(ns, FATA_IP, ['h7.sec.test', 'TXT']), /"record number 7 of sec.test"/);

      // A new version at NSD: its NOTIFY brings it to Fata.
      writeFileSync(join(dir, 'zone'), secZone(2, 'added A 192.0.2.222\n'));
      nsd.kill('SIGHUP');
      // NSD may repeat its NOTIFY of serial 1 (it retries until answered): wait for the one of serial 2.
      assert.match(await log.when(/event=notify-received zone=sec\.test\. serial=2 /, 30_000), /from=10\.53\.0\.1/);
      assert.match(await log.when(/event=zone-transferred zone=sec\.test\. how=\w+ serial=2/, 30_000), /records=3004/);
      assert.match(kdig(ns, FATA_IP, ['added.sec.test', 'A']), /192\.0\.2\.222/);

      // The other way: NSD took Fata's signed NOTIFY for example.test and transferred it from Fata.
      assert.match(
        await log.when(/event=notify-(sent|failed) zone=example\.test\./, 30_000),
        /notify-sent zone=example\.test\. to=10\.53\.0\.1:53/,
      );
      const fromFata = kdig(ns, FATA_IP, ['-y', KEY, 'AXFR', 'example.test']);
      for (let i = 0; !/status: NOERROR/.test(kdig(ns, NSD, ['www.example.test', 'A'])); i++) {
        assert.ok(i < 100, `NSD did not load example.test from Fata:\n${log.all()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(records(kdig(ns, NSD, ['-y', KEY, 'AXFR', 'example.test'])), records(fromFata));
      assert.ok(records(fromFata).length > 30);
      assert.doesNotMatch(log.all(), /zone-refresh-failed|notify-refused/);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("Fata → Fata over loopback: the primary's NOTIFY and the secondary's signed transfer; a wrong key is refused", {
  skip: hasKdig ? false : "needs 'kdig' (apt-get install knot-dnsutils; .ci/run does)",
}, async () => {
  const [p1, p2, p3] = await freePorts(3);
  const children: ChildProcess[] = [];
  const run = (args: string[]): ChildProcess => {
    const c = spawn(process.execPath, [FATA, 'run', journalFlag(), 'examples/dns-server', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(c);
    return c;
  };
  try {
    // The secondary first: its first try fails (no primary yet), then the primary's NOTIFY starts the transfer at once.
    const secondary = run([`--port=${p2}`, `--tsig=${KEY}`, `--primary=127.0.0.1:${p1}`, '--zone=example.test']);
    const sLog = lines(secondary);
    await sLog.when(/event=zone-refresh-failed zone=example\.test\. .*retry=10/, 60_000);
    const q = spawnSync('kdig', ['@127.0.0.1', '-p', String(p2), '+retry=0', 'www.example.test'], { encoding: 'utf8' });
    assert.match(q.stdout, /status: SERVFAIL/, 'nothing served before the first transfer');
    const primary = run([`--port=${p1}`, `--tsig=${KEY}`, `--notify=127.0.0.1:${p2}`]);
    const pLog = lines(primary);
    assert.match(await sLog.when(/event=notify-received/, 60_000), /zone=example\.test\. serial=2026112201 from=127\.0\.0\.1/);
    assert.match(await sLog.when(/event=zone-transferred/, 10_000), /how=AXFR serial=2026112201 records=39/);
    await pLog.when(/event=notify-sent zone=example\.test\./, 10_000);
    const a = spawnSync('kdig', ['@127.0.0.1', '-p', String(p2), '+retry=0', 'www.example.test'], { encoding: 'utf8' });
    assert.match(a.stdout, /www\.example\.test\.\s+300\s+IN\s+A\s+192\.0\.2\.80/);

    // A secondary with another secret: the primary answers BADSIG, and nothing is served.
    const wrong = run([`--port=${p3}`, `--tsig=hmac-sha256:xfr-key:${'A'.repeat(44)}`, `--primary=127.0.0.1:${p1}`, '--zone=example.test']);
    assert.match(await lines(wrong).when(/event=zone-refresh-failed/, 60_000), /error="the server answered TSIG error BADSIG"/);
  } finally {
    await stopAll(children);
  }
});
