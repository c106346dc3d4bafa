/**
 * examples/dns-server --zones-remote (robur's dns-primary-git): a primary
 * whose zones are the NAME.zone files of a git branch, fetched over smart
 * HTTP from a real git server (Debian's git http-backend behind nginx and
 * fcgiwrap, test/git-server.ts) in a namespace this test makes, by the
 * unikernel sealed on a tap. NSD at 10.0.0.1 is its secondary for
 * example.test (TSIG everywhere). Checked: the zones served at boot; a push
 * and a signed NOTIFY change the answers and NSD, notified, transfers the
 * new version; an unsigned NOTIFY is refused; a push of a broken zone keeps
 * the old one served and logs file and line, while another zone of the same
 * commit is taken; a change without a newer serial is refused; a boot on a
 * broken branch stops; --allow-update is refused; the timer fetches.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { netnsSkipReason, waitForLine, withTapNamespace, type TapNamespace } from './netns.ts';
import { readableTempDir } from './unprivileged.ts';
import { commit, gitServer, gitServerSkipReason, initRepo } from './git-server.ts';
import { startNsd } from './nsd.ts';
import { journalFlag } from './dns-journal.ts';
import { lines } from './log-lines.ts';
import { buildImage, kdigIn, until } from './images.ts';
import { decodeDns, encodeDns, isDecodeError, makeQuery, RCODE, TYPE } from '../src/wire/dns.ts';
import { OPCODE_NOTIFY } from '../src/net/dns/authority.ts';
import { parseTsigKey, signMessage, type TsigKey } from '../src/net/dns/tsig.ts';
import { createHmac } from 'node:crypto';

const FATA = new URL('../bin/fata.mjs', import.meta.url).pathname;
const HOST = '10.0.0.1';
const FATA_IP = '10.0.0.2';
const SECRET = 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==';
const KEY = `hmac-sha256:xfr-key:${SECRET}`;
const REMOTE = `--zones-remote=http://${HOST}:8088/git/zones.git#main`;
const skip = gitServerSkipReason() ?? netnsSkipReason(['nsd', 'kdig', 'python3']);

/** example.test at `serial`, www at `www`; line 6 is www's record. */
const example = (serial: number, www: string): string =>
  `$ORIGIN example.test.\n$TTL 300\n@ SOA ns1 hostmaster ${serial} 3600 3600 86400 60\n@ NS ns1\nns1 A ${FATA_IP}\nwww A ${www}\n`;
const other = (serial: number, txt: string): string =>
  `$ORIGIN other.test.\n$TTL 300\n@ SOA ns1 hostmaster ${serial} 3600 3600 86400 60\n@ NS ns1\nns1 A ${FATA_IP}\n@ TXT "${txt}"\n`;

/** The first A record's address in kdig's answer, or the status when there is none. */
function addressOf(out: string): string {
  const answer = out.split('\n').find((l) => !l.startsWith(';') && /\sIN\s+A\s/.test(l));
  return answer?.trim().split(/\s+/).at(-1) ?? /status: (\w+)/.exec(out)?.[1] ?? out;
}

/** A NOTIFY for `apex` sent to Fata from inside the namespace (signed with `key` when given); the answer's RCODE. */
function notify(ns: TapNamespace, apex: string, key: TsigKey | undefined): number {
  let bytes = encodeDns({ ...makeQuery(4242, apex, TYPE.SOA, { rd: false }), opcode: OPCODE_NOTIFY, aa: true });
  if (key) bytes = signMessage(bytes, key, (h, k, d) => createHmac(h, k).update(d).digest(), { now: Math.floor(Date.now() / 1000) }).bytes;
  const r = ns.run(
    [
      'python3',
      '-c',
      `import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(5)
s.sendto(sys.stdin.buffer.read(),("${FATA_IP}",53)); sys.stdout.buffer.write(s.recvfrom(4096)[0])`,
    ],
    { input: bytes, timeoutMs: 20_000 },
  );
  const m = decodeDns(new Uint8Array(r.out));
  assert.ok(!isDecodeError(m), `no answer to the NOTIFY: ${r.stderr}`);
  return m.rcode;
}

/** Fata sealed on the namespace's tap, zones from the git server; its output lines. */
function startFata(ns: TapNamespace, image: string, args: string[]): { child: ChildProcess; log: ReturnType<typeof lines> } {
  const child = ns.start([process.execPath, FATA, 'run', `--net:service=${ns.tap}`, journalFlag(), image, `--ipv4=${FATA_IP}/24`, ...args]);
  return { child, log: lines(child) };
}

/** How many output lines match `re`. */
const count = (text: string, re: RegExp): number => text.split('\n').filter((l) => re.test(l)).length;

/** Boots after the first run: --allow-update refused, a broken branch stops the boot, the timer fetches (over HTTPS). */
async function restarts(ns: TapNamespace, image: string, work: string, dir: string): Promise<void> {
  // UPDATE and git do not mix: --allow-update with --zones-remote stops the boot.
  const both = startFata(ns, image, [`--tsig=${KEY}`, '--allow-update=xfr-key', REMOTE]);
  await once(both.child, 'close'); // 'close': its output read to the end
  assert.notEqual(both.child.exitCode, 0);
  assert.match(both.log.all(), /event=bad-parameter parameter=--allow-update error=.*push/);

  // A boot on a broken branch stops, naming file and line.
  commit(work, { 'example.test.zone': example(3, '192.0.2.301') }, '2026-01-05T00:00:00Z');
  const broken = startFata(ns, image, [REMOTE]);
  await once(broken.child, 'close');
  assert.notEqual(broken.child.exitCode, 0);
  assert.match(broken.log.all(), /level=error .*event=zone-error zone=example\.test\. file=example\.test\.zone line=6 /);
  assert.doesNotMatch(broken.log.all(), /event=serving/);

  // The timer: fixed and pushed, the next version found within --zones-refresh without any NOTIFY.
  commit(work, { 'example.test.zone': example(4, '192.0.2.4') }, '2026-01-06T00:00:00Z');
  // Over HTTPS this time, the git server's certificate checked against --zones-remote-ca.
  const timed = startFata(ns, image, [
    `--zones-remote=https://${HOST}:8443/git/zones.git#main`,
    `--zones-remote-ca=${join(dir, 'git-cert.pem')}`,
    '--zones-refresh=1',
  ]);
  await waitForLine(timed.child, /event=serving/, 60_000);
  assert.equal(addressOf(kdigIn(ns, FATA_IP, ['www.example.test', 'A'])), '192.0.2.4');
  const c5 = commit(work, { 'example.test.zone': example(5, '192.0.2.5') }, '2026-01-07T00:00:00Z');
  assert.match(
    await timed.log.when(/event=zone-loaded zone=example\.test\. .*serial=5 /, 30_000),
    new RegExp(`commit=${c5} trigger=timer`),
  );
  assert.equal(addressOf(kdigIn(ns, FATA_IP, ['www.example.test', 'A'])), '192.0.2.5');
  assert.equal(count(timed.log.all(), /event=zones-fetched/), 2, 'unchanged fetches (the same commit) log nothing at info');
}

test('dns-server --zones-remote: zones from git at boot, on a signed NOTIFY and on a timer; NOTIFY out; a broken zone keeps the old one', {
  skip,
  timeout: 300_000,
}, async () => {
  const image = buildImage('examples/dns-server');
  const key = parseTsigKey(KEY);
  assert.ok(!('error' in key));
  const dir = readableTempDir('fata-dns-git-');
  try {
    const { repos, work } = initRepo(dir, 'zones');
    const c1 = commit(work, { 'example.test.zone': example(1, '192.0.2.1'), 'other.test.zone': other(1, 'one') }, '2026-01-01T00:00:00Z');
    await withTapNamespace(`${HOST}/24`, async (ns) => {
      await gitServer(ns, dir, repos, HOST);
      const nsdDir = join(dir, 'nsd');
      mkdirSync(nsdDir);
      startNsd(ns, nsdDir, HOST, 'nsd.test', '$ORIGIN nsd.test.\n@ 300 SOA ns hm 1 3600 600 86400 60\n@ 300 NS ns\nns 300 A 10.0.0.1\n', {
        keys: [{ name: 'xfr-key', algorithm: 'hmac-sha256', secret: SECRET }],
        secondaries: [{ name: 'example.test', options: [`request-xfr: ${FATA_IP} xfr-key`, `allow-notify: ${FATA_IP} xfr-key`] }],
      });
      await until('NSD answers', () => /status: NOERROR/.test(kdigIn(ns, HOST, ['+tcp', 'nsd.test', 'SOA'])));

      const fata = startFata(ns, image, [`--tsig=${KEY}`, `--notify=${HOST}`, REMOTE, '--zones-refresh=3600']);
      await waitForLine(fata.child, /event=serving/, 60_000);
      assert.match(
        fata.log.all(),
        new RegExp(`event=zone-loaded zone=example\\.test\\. file=example\\.test\\.zone serial=1 .*commit=${c1}`),
      );
      assert.match(fata.log.all(), new RegExp(`event=zones-fetched trigger=boot commit=${c1} zones=2`));
      assert.equal(addressOf(kdigIn(ns, FATA_IP, ['www.example.test', 'A'])), '192.0.2.1');
      assert.match(kdigIn(ns, FATA_IP, ['other.test', 'TXT']), /"one"/);
      assert.equal(addressOf(kdigIn(ns, FATA_IP, ['types.test', 'SOA'])), 'REFUSED', "the image's own zones are not served");
      // NSD, notified at boot, transfers serial 1 (its SOA refresh is an hour: only a NOTIFY brings the next ones).
      await until('NSD serves example.test', () => addressOf(kdigIn(ns, HOST, ['www.example.test', 'A'])) === '192.0.2.1', 30_000);

      // A push, then a signed NOTIFY (what a push hook sends): the new answer, and NSD notified of serial 2.
      const c2 = commit(work, { 'example.test.zone': example(2, '192.0.2.2') }, '2026-01-02T00:00:00Z');
      assert.equal(notify(ns, 'example.test.', undefined), RCODE.REFUSED, 'an unsigned NOTIFY is refused');
      await fata.log.when(/event=notify-refused zone=example\.test\. .*signed=false/, 10_000);
      assert.equal(addressOf(kdigIn(ns, FATA_IP, ['www.example.test', 'A'])), '192.0.2.1', 'nothing fetched for it');
      assert.equal(notify(ns, 'example.test.', key), RCODE.NOERROR);
      assert.match(
        await fata.log.when(/event=zone-loaded zone=example\.test\. .*serial=2 /, 30_000),
        new RegExp(`commit=${c2} trigger=notify`),
      );
      assert.equal(addressOf(kdigIn(ns, FATA_IP, ['www.example.test', 'A'])), '192.0.2.2');
      await until('NSD transfers serial 2', () => addressOf(kdigIn(ns, HOST, ['www.example.test', 'A'])) === '192.0.2.2', 30_000);
      assert.match(
        fata.log.all(),
        new RegExp(`event=zones-fetched trigger=notify commit=${c2} loaded=1 unchanged=1 kept=0 removed=0 errors=0`),
      );

      // A broken example.test (line 6) with a good other.test in the same push: example.test stays at serial 2, other.test is taken.
      const c3 = commit(
        work,
        { 'example.test.zone': example(3, '192.0.2.300'), 'other.test.zone': other(2, 'two') },
        '2026-01-03T00:00:00Z',
      );
      assert.equal(notify(ns, 'other.test.', key), RCODE.NOERROR);
      const error = await fata.log.when(/event=zone-error /, 30_000);
      assert.match(error, /level=error .*zone=example\.test\. file=example\.test\.zone line=6 error=.*192\.0\.2\.300/);
      assert.match(error, new RegExp(`commit=${c3}`));
      await fata.log.when(
        new RegExp(`event=zones-fetched trigger=notify commit=${c3} loaded=1 unchanged=0 kept=1 removed=0 errors=1`),
        10_000,
      );
      assert.match(fata.log.all(), /event=zone-kept zone=example\.test\. serial=2 /);
      assert.equal(addressOf(kdigIn(ns, FATA_IP, ['www.example.test', 'A'])), '192.0.2.2', 'the old version is still served');
      assert.match(kdigIn(ns, FATA_IP, ['other.test', 'TXT']), /"two"/);

      // Fixed, but numbered 2 again: refused, since NSD would never see it.
      commit(work, { 'example.test.zone': example(2, '192.0.2.9') }, '2026-01-04T00:00:00Z');
      assert.equal(notify(ns, 'example.test.', key), RCODE.NOERROR);
      assert.match(
        await fata.log.when(/event=zone-error zone=example\.test\. file=example\.test\.zone error=.*not newer/, 30_000),
        /serial 2 is not newer than the served 2/,
      );
      assert.equal(addressOf(kdigIn(ns, FATA_IP, ['www.example.test', 'A'])), '192.0.2.2');
      const exited = once(fata.child, 'exit');
      fata.child.kill('SIGTERM');
      await exited;

      await restarts(ns, image, work, dir);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
