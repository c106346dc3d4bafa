/**
 * DHCP and DNS against the real peers, sealed (spt) on a tap inside a
 * namespace this test makes:
 * - Fata's DHCP client gets a lease from dnsmasq, renews it, and resolves
 *   names through the DNS server the lease names;
 * - isc-dhcp-client gets a lease from examples/dhcp-server, and after the
 *   server restarts the lease is still known (same client: INIT-REBOOT is
 *   ACKed; a new client does not get the address);
 * - kdig against examples/dns-server: wildcards, CNAMEs, NXDOMAIN, NODATA,
 *   AXFR, EDNS, truncation with TCP retry, FORMERR for malformed queries;
 * - examples/dns-resolver resolves through NSD playing root, TLD and leaf,
 *   answers from its cache when the leaf is gone, and honours TTLs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { netnsSkipReason, waitForLine, withTapNamespace, type TapNamespace } from './netns.ts';
import { startNsd } from './nsd.ts';
import { journalFlag } from './dns-journal.ts';
import { buildImage, kdigIn } from './images.ts';

const FATA = new URL('../bin/fata.mjs', import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;
const target = process.arch === 'x64' ? 'spt' : 'node';
const build = (dir: string): string => buildImage(dir, target);
const kdig = (ns: TapNamespace, server: string, args: string[]): string => kdigIn(ns, server, args, 20_000);

/** Keeps everything a child prints, for checks after the fact. */
function collect(child: ChildProcess): () => string {
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return () => out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test("Fata's DHCP client gets a lease from dnsmasq, renews it, and resolves names through the DNS server it names", {
  skip: netnsSkipReason(['dnsmasq', 'ping']),
}, async () => {
  const image = build('test/fixtures/lookup');
  const dir = mkdtempSync(join(tmpdir(), 'fata-dnsmasq-'));
  try {
    await withTapNamespace('10.0.0.1/24', async (ns) => {
      const dm = ns.start([
        'dnsmasq',
        '--no-daemon',
        '--conf-file=/dev/null',
        '--interface=tap0',
        '--bind-interfaces',
        '--dhcp-range=10.0.0.50,10.0.0.60,2m',
        '--dhcp-option=option:T1,4',
        '--dhcp-option=option:T2,7',
        '--dhcp-option=option:dns-server,10.0.0.1',
        `--dhcp-leasefile=${dir}/leases`,
        '--log-dhcp',
        '--log-queries',
        '--local-ttl=60',
        '--no-resolv',
        '--no-hosts',
        '--local=/example.test/',
        '--host-record=svc.example.test,10.0.0.77',
        '--cname=alias.example.test,svc.example.test',
        `--pid-file=${dir}/pid`,
      ]);
      const dmLog = collect(dm);
      await sleep(500);
      const child = ns.start([
        process.execPath,
        FATA,
        'run',
        `--net:service=${ns.tap}`,
        '--net-mac:service=02:00:00:00:00:42',
        image,
        '--names=svc.example.test,alias.example.test,missing.example.test',
        '-l',
        'debug',
      ]);
      const log = collect(child);
      await waitForLine(child, /event=lookups-done/, 30_000);
      const up = /event=net-up .*ipv4=(10\.0\.0\.\d+)\/24 gateway=10\.0\.0\.1 dns=10\.0\.0\.1 lease=120 server=10\.0\.0\.1/.exec(log());
      assert.ok(up, log());
      const addr = up[1]!;
      assert.match(log(), /event=lookup name=svc.example.test round=1 addresses=10.0.0.77/);
      assert.match(log(), /event=lookup name=alias.example.test round=2 addresses=10.0.0.77/);
      assert.match(log(), /event=lookup-failed name=missing.example.test round=1 code=ENOTFOUND/);
      // Round 2 came from the cache: dnsmasq saw each name that has an answer once. (Its local names need
      // --local-ttl: by default they carry TTL 0, which forbids caching, and every round asked again.) NXDOMAIN
      // from dnsmasq carries no SOA, so it has no negative TTL and is not cached (RFC 2308 §5): asked each round.
      const asked = (name: string): number =>
        dmLog()
          .split('\n')
          .filter((l) => l.includes(`query[A] ${name} from ${addr}`)).length;
      assert.deepEqual(
        [asked('svc.example.test'), asked('alias.example.test'), asked('missing.example.test')],
        [1, 1, 2],
        dmLog()
          .split('\n')
          .filter((l) => l.includes('query['))
          .join('\n'),
      );
      const ping = ns.run(['ping', '-c', '3', '-i', '0.2', '-W', '2', addr]);
      assert.equal(ping.status, 0, ping.stdout);
      await waitForLine(child, /event=dhcp-renewed/, 15_000);
      assert.match(readFileSync(`${dir}/leases`, 'utf8'), new RegExp(`02:00:00:00:00:42 ${addr.replace(/\./g, '\\.')}`));
      assert.ok((dmLog().match(/DHCPACK\(tap0\)/g) ?? []).length >= 2, `a first ACK and a renewal ACK: ${dmLog()}`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('isc-dhcp-client gets a lease from examples/dhcp-server, and a restarted server still knows it', {
  skip: netnsSkipReason(['dhclient']),
}, async () => {
  const image = build('examples/dhcp-server');
  const dir = mkdtempSync(join(tmpdir(), 'fata-dhcpd-'));
  const disk = join(dir, 'leases.img');
  writeFileSync(disk, new Uint8Array(64 * 1024));
  try {
    await withTapNamespace('10.0.0.254/24', async (ns) => {
      const start = async (): Promise<{ child: ChildProcess; log: () => string }> => {
        const child = ns.start([
          process.execPath,
          FATA,
          'run',
          `--net:service=${ns.tap}`,
          `--block:leases=${disk}`,
          image,
          '--ipv4=10.0.0.1/24',
          '--router=10.0.0.1',
          '--dns-servers=10.0.0.1',
          '--lease-time=600',
          '--static=02:00:00:00:00:99=10.0.0.50=printer',
        ]);
        const log = collect(child);
        await waitForLine(child, /event=serving/, 30_000);
        return { child, log };
      };
      /** Runs dhclient once on the namespace's tap with `mac`; returns the address it bound. */
      const dhclient = (mac: string, leases: string): string => {
        ns.run(['ip', 'link', 'set', ns.tap, 'address', mac]);
        // -sf /bin/true: learn the lease but leave the interface (and the host's resolv.conf) alone.
        const r = ns.run(['dhclient', '-1', '-v', '-sf', '/bin/true', '-lf', join(dir, leases), '-pf', join(dir, 'pid'), ns.tap], {
          timeoutMs: 40_000,
        });
        ns.run(['sh', '-c', `kill $(cat ${join(dir, 'pid')}) 2>/dev/null; true`]);
        const m = /bound to (\d+\.\d+\.\d+\.\d+)/.exec(r.stderr + r.stdout);
        assert.ok(m, r.stderr);
        return m[1]!;
      };
      const first = await start();
      assert.equal(dhclient('02:00:00:00:00:11', 'a.leases'), '10.0.0.100');
      assert.equal(dhclient('02:00:00:00:00:99', 'b.leases'), '10.0.0.50', 'the static lease by MAC');
      assert.match(
        readFileSync(join(dir, 'a.leases'), 'utf8'),
        /option routers 10\.0\.0\.1;[\s\S]*option domain-name-servers 10\.0\.0\.1;/,
      );
      first.child.kill('SIGTERM');
      await new Promise((r) => first.child.once('exit', r));

      const second = await start();
      assert.match(second.log(), /event=leases-restored count=2/);
      // A new client must not be given the address the first one holds…
      assert.equal(dhclient('02:00:00:00:00:22', 'c.leases'), '10.0.0.101');
      // …and the first client, rebooting with its lease file, is ACKed for it straight away (INIT-REBOOT).
      assert.equal(dhclient('02:00:00:00:00:11', 'a.leases'), '10.0.0.100');
      await sleep(500); // dhclient ran synchronously: let the server's log lines arrive.
      assert.match(second.log(), /got=REQUEST sent=ACK mac=02:00:00:00:00:11 address=10.0.0.100/);
      assert.doesNotMatch(second.log(), /got=DISCOVER sent=OFFER mac=02:00:00:00:00:11/);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const status = (out: string): string | undefined => /status: (\w+)/.exec(out)?.[1];
/** The size of the reply kdig got (its "Received N B" line), NaN when there was none. */
const received = (out: string): number => Number(/Received (\d+) B/.exec(out)?.[1] ?? NaN);

test('kdig against examples/dns-server: wildcards, CNAMEs, NXDOMAIN, NODATA, AXFR, EDNS, truncation, FORMERR', {
  skip: netnsSkipReason(['kdig', 'python3']),
}, async () => {
  const image = build('examples/dns-server');
  await withTapNamespace('10.53.0.1/24', async (ns) => {
    const child = ns.start([
      process.execPath,
      FATA,
      'run',
      `--net:service=${ns.tap}`,
      journalFlag(),
      image,
      '--ipv4=10.53.0.2/24',
      '--axfr',
    ]);
    collect(child);
    await waitForLine(child, /event=serving/, 30_000);
    const S = '10.53.0.2';
    let o = kdig(ns, S, ['www.example.test', 'A']);
    assert.equal(status(o), 'NOERROR', o);
    assert.match(o, /Flags: qr aa rd;/);
    assert.match(o, /www\.example\.test\.\s+300\s+IN\s+A\s+192\.0\.2\.80/);
    o = kdig(ns, S, ['alias.example.test', 'A']);
    assert.match(
      o,
      /alias\.example\.test\.\s+300\s+IN\s+CNAME\s+www2\.example\.test\.[\s\S]*www2\.example\.test\.\s+3600\s+IN\s+CNAME\s+www\.example\.test\.[\s\S]*192\.0\.2\.80/,
    );
    o = kdig(ns, S, ['a.b.wild.example.test', 'TXT']);
    assert.match(o, /a\.b\.wild\.example\.test\.\s+300\s+IN\s+TXT\s+"wildcard"/);
    o = kdig(ns, S, ['nope.example.test', 'A']);
    assert.equal(status(o), 'NXDOMAIN');
    assert.match(o, /AUTHORITY SECTION:\s+example\.test\.\s+60\s+IN\s+SOA/);
    o = kdig(ns, S, ['www.example.test', 'MX']);
    assert.equal(status(o), 'NOERROR');
    assert.match(o, /ANSWER: 0; AUTHORITY: 1/);
    o = kdig(ns, S, ['www.other.test', 'A']);
    assert.equal(status(o), 'REFUSED');
    o = kdig(ns, S, ['+edns=0', '+bufsize=4096', 'www.example.test', 'AAAA']);
    assert.match(o, /Version: 0; flags: ; UDP size: 1232 B/);
    assert.match(o, /2001:db8::80/);
    o = kdig(ns, S, ['+edns=1', 'www.example.test', 'A']);
    assert.equal(status(o), 'BADVERS');
    o = kdig(ns, S, ['+noedns', '+notcp', '+ignore', 'big.example.test', 'TXT']);
    assert.match(o, /Flags: qr aa tc rd;/, 'over UDP the big RRset is truncated');
    assert.ok(received(o) <= 512, `without EDNS, at most 512 bytes: ${o}`);
    o = kdig(ns, S, ['+edns=0', '+bufsize=4096', '+notcp', '+ignore', 'big.example.test', 'TXT']);
    assert.match(o, /Flags: qr aa tc rd;/, 'over 1232 bytes: truncated with EDNS too');
    assert.ok(received(o) <= 1232, o);
    o = kdig(ns, S, ['big.example.test', 'TXT']);
    assert.match(o, /retrying over TCP/);
    assert.match(o, /ANSWER: 14;/);
    o = kdig(ns, S, ['-t', 'AXFR', 'example.test']);
    assert.match(o, /Received \d+ B \(\d+ messages?, 40 records\)/, o);
    // Malformed queries: a pointer loop, a truncated question, and trailing junk all get FORMERR with the same ID.
    const py = `import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(2)
for h in sys.argv[1:]:
  s.sendto(bytes.fromhex(h),("${S}",53))
  d,_=s.recvfrom(4096)
  print(d[0:2].hex(), d[3]&15)`;
    const r = ns.run([
      'python3',
      '-c',
      py,
      'abcd01000001000000000000c00c00010001',
      'abce010000010000000000000377777700',
      'abcf0100000100000000000003777777000001000199',
    ]);
    assert.equal(r.stdout.trim(), 'abcd 1\nabce 1\nabcf 1', r.stderr);
    o = kdig(ns, S, ['www.example.test', 'A']);
    assert.equal(status(o), 'NOERROR', 'still answering after the malformed ones');
  });
});

const NSD_ZONES = {
  root: `. 3600 IN SOA a.root.test. admin.root.test. 1 3600 600 86400 60
. 3600 IN NS a.root.test.
a.root.test. 3600 IN A 10.53.0.1
test. 3600 IN NS ns.test.
ns.test. 3600 IN A 10.53.0.2
`,
  test: `test. 3600 IN SOA ns.test. admin.test. 1 3600 600 86400 60
test. 3600 IN NS ns.test.
ns.test. 3600 IN A 10.53.0.2
example.test. 3600 IN NS ns.example.test.
ns.example.test. 3600 IN A 10.53.0.3
`,
};

test('examples/dns-resolver resolves through NSD root, TLD and leaf, caches, and honours TTLs', {
  skip: netnsSkipReason(['nsd', 'kdig']),
}, async () => {
  const image = build('examples/dns-resolver');
  const dir = mkdtempSync(join(tmpdir(), 'fata-nsd-'));
  // `mid`: eight 100-byte TXT records, about 900 bytes: over 512, under 1232.
  const leaf =
    readFileSync(join(ROOT, 'examples/dns-server/zones/example.test.zone'), 'utf8') +
    'short 2 IN A 192.0.2.2\n' +
    Array.from({ length: 8 }, (_, i) => `mid IN TXT "${String(i).repeat(100)}"\n`).join('');
  try {
    await withTapNamespace('10.53.0.1/24', async (ns) => {
      ns.run(['ip', 'addr', 'add', '10.53.0.2/24', 'dev', ns.tap]);
      ns.run(['ip', 'addr', 'add', '10.53.0.3/24', 'dev', ns.tap]);
      const nsd: ChildProcess[] = [];
      for (const [i, zone, text] of [
        [1, '.', NSD_ZONES.root],
        [2, 'test.', NSD_ZONES.test],
        [3, 'example.test.', leaf],
      ] as const) {
        const d = join(dir, String(i));
        spawnSync('mkdir', ['-p', d]);
        nsd.push(startNsd(ns, d, `10.53.0.${i}`, zone, text));
      }
      await sleep(1500);
      assert.match(kdig(ns, '10.53.0.3', ['+norec', 'www.example.test']), /192\.0\.2\.80/, 'the leaf NSD is up');
      const child = ns.start([
        process.execPath,
        FATA,
        'run',
        `--net:service=${ns.tap}`,
        image,
        '--ipv4=10.53.0.10/24',
        '--root-hints=a.root.test=10.53.0.1',
        '-l',
        'debug',
      ]);
      const log = collect(child);
      await waitForLine(child, /event=serving/, 30_000);
      const R = '10.53.0.10';
      const wwwTtl = (text: string): number => Number(/www\.example\.test\.\s+(\d+)\s+IN\s+A\s+192\.0\.2\.80/.exec(text)?.[1] ?? NaN);
      let o = kdig(ns, R, ['www.example.test', 'A']);
      const firstAskedAt = Date.now();
      assert.equal(status(o), 'NOERROR', o + log());
      assert.match(o, /Flags: qr rd ra;/);
      assert.equal(wwwTtl(o), 300, `fresh from the leaf, the zone's $TTL 300: ${o}`);
      o = kdig(ns, R, ['alias.example.test', 'A']);
      const lastAskedAt = Date.now(); // The chain ends at www: its cache entry may have been refreshed up to here.
      assert.match(o, /CNAME\s+www2\.example\.test\.[\s\S]*CNAME\s+www\.example\.test\.[\s\S]*192\.0\.2\.80/);
      o = kdig(ns, R, ['nope.example.test', 'A']);
      assert.equal(status(o), 'NXDOMAIN');
      o = kdig(ns, R, ['short.example.test', 'A']);
      assert.match(o, /short\.example\.test\.\s+[0-2]\s+IN\s+A\s+192\.0\.2\.2/);
      // Too big for UDP both ways: the resolver retries NSD over TCP, and kdig retries the resolver over TCP.
      o = kdig(ns, R, ['big.example.test', 'TXT']);
      assert.match(o, /retrying over TCP/);
      assert.match(o, /ANSWER: 14;/, o);
      // A client without EDNS gets at most 512 bytes over UDP, with TC (RFC 1035 §4.2.1); with EDNS 1232, all of it.
      o = kdig(ns, R, ['+noedns', '+notcp', '+ignore', 'mid.example.test', 'TXT']);
      assert.match(o, /Flags: qr tc rd ra;/, o);
      assert.ok(received(o) <= 512, o);
      o = kdig(ns, R, ['+edns=0', '+bufsize=1232', '+notcp', '+ignore', 'mid.example.test', 'TXT']);
      assert.match(o, /Flags: qr rd ra;/, o);
      assert.match(o, /ANSWER: 8;/, o);
      assert.ok(received(o) > 512 && received(o) <= 1232, o);
      // The leaf goes away: cached answers still come back, with TTLs counting down…
      nsd[2]!.kill('SIGTERM');
      await sleep(Math.max(500, lastAskedAt + 2500 - Date.now()));
      o = kdig(ns, R, ['www.example.test', 'A']);
      // Counted down by the whole seconds since it was cached: at least 2 (2.5 s since the last time it could have
      // been fetched), at most the time since the first answer (and a second for rounding).
      const left = wwwTtl(o),
        elapsedS = (Date.now() - firstAskedAt) / 1000;
      assert.ok(left <= 298 && left >= 300 - Math.ceil(elapsedS) - 1, `TTL ${left} after ${elapsedS.toFixed(1)} s: ${o}`);
      o = kdig(ns, R, ['nope.example.test', 'A']);
      assert.equal(status(o), 'NXDOMAIN', 'the negative answer is cached too');
      // …and once a TTL has run out, the name must be asked again, which now fails.
      await sleep(2500);
      o = kdig(ns, R, ['+timeout=6', 'short.example.test', 'A']);
      assert.equal(status(o), 'SERVFAIL', o);
      await sleep(300);
      assert.match(log(), /event=resolved name=www.example.test. type=1 rcode=0 answers=1 cached=true/);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('on a link with no DHCP server the unikernel says so at the default level, with the --ipv4 hint, and keeps asking until one answers', {
  skip: netnsSkipReason(['dnsmasq']),
}, async () => {
  const image = build('test/fixtures/lookup');
  const dir = mkdtempSync(join(tmpdir(), 'fata-dhcp-quiet-'));
  try {
    await withTapNamespace('10.0.0.1/24', async (ns) => {
      const child = ns.start([process.execPath, FATA, 'run', `--net:service=${ns.tap}`, image, '--names=none.example.test']);
      const log = collect(child);
      const warned = await waitForLine(child, /event=dhcp-no-answer/, 30_000);
      assert.match(warned, /level=warn .*device=service waited=5s .*--ipv4=ADDRESS\/PREFIX.* next="still asking"/);
      assert.doesNotMatch(log(), /event=net-up/);
      // A server that appears later is found: the client never gave up.
      ns.start([
        'dnsmasq',
        '--no-daemon',
        '--conf-file=/dev/null',
        '--interface=tap0',
        '--bind-interfaces',
        '--dhcp-range=10.0.0.50,10.0.0.60,2m',
        `--dhcp-leasefile=${dir}/leases`,
        '--no-resolv',
        '--no-hosts',
        `--pid-file=${dir}/pid`,
      ]);
      await waitForLine(child, /event=net-up .*ipv4=10\.0\.0\.(5\d|60)\/24/, 60_000);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
