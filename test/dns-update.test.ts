/**
 * Dynamic updates (RFC 2136) against Knot's `knsupdate`, signed with TSIG
 * (`-y`), and read back with `kdig`:
 * - sealed (spt where the machine allows) on a tap in a namespace this
 *   test makes, with a block file as the journal: adds with prerequisites,
 *   the prerequisite failures knsupdate reports, deletes of a record, an
 *   RRset and a name; unsigned and wrongly keyed updates refused; then the
 *   unikernel stopped and started again on the same file serves the same
 *   zone (serial included) and takes further updates;
 * - over loopback (`--net=socket`, no root): a primary's update reaches
 *   its Fata secondary by NOTIFY and IXFR, and a journal too small for an
 *   update answers SERVFAIL and serves nothing new.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsSkipReason, stopAll, withTapNamespace, type TapNamespace } from './netns.ts';
import { freePorts } from './ports.ts';
import { lines } from './log-lines.ts';

const FATA = new URL('../bin/fata.mjs', import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;
const target = process.arch === 'x64' ? 'spt' : 'node';
const FATA_IP = '10.53.0.2';
const SECRET = 'dXBkYXRlLXNlY3JldC11cGRhdGUtc2VjcmV0IQ==';
const KEY = `hmac-sha256:upd-key:${SECRET}`;
const hasKnot = spawnSync('sh', ['-c', 'command -v knsupdate && command -v kdig']).status === 0;

function build(): string {
  const r = spawnSync(
    process.execPath,
    [FATA, 'build', '-t', target, ...(target === 'node' ? ['--net=direct'] : []), 'examples/dns-server'],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  return join(ROOT, 'examples/dns-server/dist/dns-server.fata');
}

/** Collects a child's stdout, so that a line can be waited for after others came. */
function zeroed(file: string, bytes: number): string {
  const fd = openSync(file, 'w');
  ftruncateSync(fd, bytes);
  closeSync(fd);
  return file;
}

/** Runs knsupdate with `script` (one command a line; `send` added), signed with `key` unless null; its whole output. */
type Runner = (argv: string[], input: string) => string;
function nsupdate(run: Runner, server: string, port: number, key: string | null, script: string[]): string {
  const lines = [`server ${server} ${port}`, 'zone example.test.', ...script, 'send', 'answer'];
  return run(['knsupdate', ...(key ? ['-y', key] : []), '-t', '5', '-r', '1'], `${lines.join('\n')}\n`);
}
function dig(run: Runner, server: string, port: number, args: string[]): string {
  return run(['kdig', `@${server}`, '-p', String(port), '+timeout=2', '+retry=1', ...args], '');
}
const status = (out: string): string => /status: (\w+)/.exec(out)?.[1] ?? `none in:\n${out}`;
const short = (run: Runner, server: string, port: number, name: string, type: string): string[] =>
  dig(run, server, port, ['+short', name, type])
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .sort();

/** The zone as a signed AXFR gives it, one record a line, sorted. */
const transfer = (run: Runner): string[] =>
  dig(run, FATA_IP, 53, ['-y', KEY, 'AXFR', 'example.test'])
    .split('\n')
    .filter((l) => /\sIN\s/.test(l) && !l.startsWith(';'))
    .sort();

/** Each kind of prerequisite that fails, with the RCODE knsupdate reports, a name outside the zone, and updates not signed with an allowed key: nothing changes. */
function refusals(up: (script: string[], key?: string | null) => string, run: Runner): void {
  // Each kind of prerequisite that fails, with the RCODE knsupdate reports; nothing changes.
  const failing: [string, string][] = [
    ['prereq nxdomain host1.example.test.', 'YXDOMAIN'],
    ['prereq yxdomain nothing.example.test.', 'NXDOMAIN'],
    ['prereq nxrrset host1.example.test. A', 'YXRRSET'],
    ['prereq yxrrset host1.example.test. AAAA', 'NXRRSET'],
    ['prereq yxrrset host1.example.test. A 192.0.2.101', 'NXRRSET'],
  ];
  for (const [prereq, rcode] of failing) {
    const o = up([prereq, 'update add never.example.test. 60 A 192.0.2.1']);
    assert.match(o, new RegExp(`update failed with error '${rcode}'`), `${prereq}\n${o}`);
  }
  const o = up(['update add www.elsewhere.test. 60 A 192.0.2.1']);
  assert.match(o, /error 'NOTZONE'/, o);
  assert.equal(status(dig(run, FATA_IP, 53, ['never.example.test', 'A'])), 'NXDOMAIN');

  // Refused: unsigned, and signed with a key that may transfer but not update; a wrong secret fails TSIG.
  assert.match(up(['update add never.example.test. 60 A 192.0.2.1'], null), /error 'REFUSED'/);
  assert.match(up(['update add never.example.test. 60 A 192.0.2.1'], `hmac-sha256:xfr-only:${'QUJD'.repeat(11)}`), /error 'REFUSED'/);
  assert.match(up(['update add never.example.test. 60 A 192.0.2.1'], `hmac-sha256:upd-key:${'A'.repeat(40)}`), /BADSIG/);
  assert.equal(status(dig(run, FATA_IP, 53, ['never.example.test', 'A'])), 'NXDOMAIN');
}

test('knsupdate -y against Fata sealed on a tap: prerequisites, adds and deletes, refusals, and a restart that keeps every change', {
  skip: netnsSkipReason(['knsupdate', 'kdig']),
}, async () => {
  const image = build();
  const dir = mkdtempSync(join(tmpdir(), 'fata-dns-update-'));
  const journal = zeroed(join(dir, 'journal.img'), 1 << 20);
  try {
    await withTapNamespace('10.53.0.1/24', async (ns: TapNamespace) => {
      const run: Runner = (argv, input) => {
        const r = ns.run(argv, { timeoutMs: 30_000, input: new TextEncoder().encode(input) });
        return r.stdout + r.stderr;
      };
      const start = (): ChildProcess =>
        ns.start([
          process.execPath,
          FATA,
          'run',
          `--net:service=${ns.tap}`,
          `--block:journal=${journal}`,
          image,
          `--ipv4=${FATA_IP}/24`,
          `--tsig=${KEY},hmac-sha256:xfr-only:${'QUJD'.repeat(11)}`,
          '--allow-update=upd-key',
        ]);
      let fata = start();
      let log = lines(fata);
      assert.match(await log.when(/event=journal-replayed/, 60_000), /entries=0 /);
      await log.when(/event=serving/, 30_000);
      const up = (script: string[], key: string | null = KEY): string => nsupdate(run, FATA_IP, 53, key, script);

      // Adds, guarded by prerequisites that hold.
      let o = up([
        'prereq nxdomain host1.example.test.',
        'prereq yxrrset www.example.test. A',
        'prereq yxrrset www.example.test. A 192.0.2.80',
        'update add host1.example.test. 120 A 192.0.2.101',
        'update add host1.example.test. 120 A 192.0.2.102',
        'update add host1.example.test. 120 TXT "made by knsupdate"',
      ]);
      assert.match(o, /status: NOERROR/, o);
      assert.doesNotMatch(o, /ERROR:/, o);
      assert.deepEqual(short(run, FATA_IP, 53, 'host1.example.test', 'A'), ['192.0.2.101', '192.0.2.102']);
      assert.deepEqual(short(run, FATA_IP, 53, 'host1.example.test', 'TXT'), ['"made by knsupdate"']);
      assert.match(dig(run, FATA_IP, 53, ['host1.example.test', 'A']), /host1\.example\.test\.\s+120\s+IN\s+A/);
      assert.deepEqual(short(run, FATA_IP, 53, 'example.test', 'SOA'), [
        'ns1.example.test. hostmaster.example.test. 2026112202 3600 600 86400 60',
      ]);

      refusals(up, run);

      // Deletes: one record, an RRset, every RRset of a name.
      o = up([
        'update delete host1.example.test. A 192.0.2.101',
        'update delete www.example.test. AAAA',
        'update delete mail.example.test.',
        'update add mail2.example.test. 300 A 192.0.2.26',
      ]);
      assert.match(o, /status: NOERROR/, o);
      assert.deepEqual(short(run, FATA_IP, 53, 'host1.example.test', 'A'), ['192.0.2.102']);
      assert.deepEqual(short(run, FATA_IP, 53, 'www.example.test', 'AAAA'), []);
      assert.deepEqual(short(run, FATA_IP, 53, 'www.example.test', 'A'), ['192.0.2.80']);
      assert.equal(status(dig(run, FATA_IP, 53, ['mail.example.test', 'A'])), 'NXDOMAIN');
      const before = {
        soa: short(run, FATA_IP, 53, 'example.test', 'SOA'),
        axfr: transfer(run),
      };
      assert.deepEqual(before.soa, ['ns1.example.test. hostmaster.example.test. 2026112203 3600 600 86400 60']);

      // A restart on the same journal file: the same zone, then more updates on top.
      await stopAll([fata]);
      fata = start();
      log = lines(fata);
      assert.match(await log.when(/event=journal-replayed/, 60_000), /entries=2 /);
      await log.when(/event=serving/, 30_000);
      assert.deepEqual(short(run, FATA_IP, 53, 'example.test', 'SOA'), before.soa);
      const after = transfer(run);
      assert.deepEqual(after, before.axfr);
      assert.ok(after.some((l) => /^host1\.example\.test\.\s+120\s+IN\s+TXT\s+"made by knsupdate"/.test(l)));
      // IXFR from the image's serial: the two versions' differences, kept through the restart.
      const ixfr = dig(run, FATA_IP, 53, ['-y', KEY, 'IXFR=2026112201', 'example.test']);
      assert.equal(ixfr.split('\n').filter((l) => /\sIN\s+SOA\s/.test(l)).length, 6, ixfr);
      assert.match(up(['update add host3.example.test. 60 A 192.0.2.103']), /status: NOERROR/);
      assert.deepEqual(short(run, FATA_IP, 53, 'host3.example.test', 'A'), ['192.0.2.103']);
      assert.deepEqual(short(run, FATA_IP, 53, 'host1.example.test', 'A'), ['192.0.2.102']);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('over loopback: an update reaches a Fata secondary by NOTIFY and IXFR; a journal too small for it is SERVFAIL', {
  skip: hasKnot ? false : "needs 'knsupdate' and 'kdig' (apt-get install knot-dnsutils; .ci/run does)",
}, async () => {
  const [p1, p2, p3] = await freePorts(3);
  const dir = mkdtempSync(join(tmpdir(), 'fata-dns-update-lo-'));
  const children: ChildProcess[] = [];
  const run: Runner = (argv, input) => {
    const r = spawnSync(argv[0]!, argv.slice(1), { input, encoding: 'utf8', timeout: 30_000 });
    return r.stdout + r.stderr;
  };
  const start = (journal: string, args: string[]): ChildProcess => {
    const c = spawn(process.execPath, [FATA, 'run', `--block:journal=${journal}`, 'examples/dns-server', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(c);
    return c;
  };
  try {
    const secondary = start(zeroed(join(dir, 's.img'), 1 << 20), [
      `--port=${p2}`,
      `--tsig=${KEY}`,
      `--primary=127.0.0.1:${p1}`,
      '--zone=example.test',
    ]);
    const sLog = lines(secondary);
    await sLog.when(/event=serving/, 60_000);
    const primary = start(zeroed(join(dir, 'p.img'), 1 << 20), [
      `--port=${p1}`,
      `--tsig=${KEY}`,
      '--allow-update=upd-key',
      `--notify=127.0.0.1:${p2}`,
    ]);
    await lines(primary).when(/event=serving/, 60_000);
    await sLog.when(/event=zone-transferred zone=example\.test\. how=AXFR serial=2026112201/, 30_000);
    const o = nsupdate(run, '127.0.0.1', p1, KEY, ['update add pushed.example.test. 60 A 192.0.2.150']);
    assert.match(o, /status: NOERROR/, o);
    assert.match(await sLog.when(/event=zone-transferred zone=example\.test\. how=\w+ serial=2026112202/, 30_000), /how=IXFR/);
    assert.match(await sLog.when(/event=notify-received zone=example\.test\. serial=2026112202/, 1000), /from=127\.0\.0\.1/);
    assert.deepEqual(short(run, '127.0.0.1', p2, 'pushed.example.test', 'A'), ['192.0.2.150']);
    // The secondary takes no updates itself (forwarding to the primary is not done).
    assert.match(nsupdate(run, '127.0.0.1', p2, KEY, ['update add x.example.test. 60 A 192.0.2.1']), /error 'REFUSED'/);

    // Two 512-byte blocks a region: room for no entry at all.
    const tiny = start(zeroed(join(dir, 'tiny.img'), 4 * 512), [`--port=${p3}`, `--tsig=${KEY}`, '--allow-update=upd-key']);
    await lines(tiny).when(/event=serving/, 60_000);
    const big = Array.from({ length: 40 }, (_, i) => `update add big${i}.example.test. 60 TXT "${'x'.repeat(40)}"`);
    assert.match(nsupdate(run, '127.0.0.1', p3, KEY, big), /error 'SERVFAIL'/);
    assert.equal(status(dig(run, '127.0.0.1', p3, ['big0.example.test', 'TXT'])), 'NXDOMAIN');
    assert.deepEqual(short(run, '127.0.0.1', p3, 'example.test', 'SOA'), [
      'ns1.example.test. hostmaster.example.test. 2026112201 3600 600 86400 60',
    ]);
  } finally {
    await stopAll(children);
    rmSync(dir, { recursive: true, force: true });
  }
});
