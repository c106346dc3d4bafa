/**
 * examples/dns-certify against Debian's pebble, in a namespace this test
 * makes: a bridge holds three taps, the Fata primary (examples/dns-server,
 * 10.0.0.2, UPDATEs allowed for two TSIG keys, NOTIFY to the others), the
 * certifier (10.0.0.3, `--wait-for` the secondary) and a Fata secondary
 * (10.0.0.4), all sealed; pebble (10.0.0.1) validates
 * DNS-01 by asking the Fata primary (`-dnsserver 10.0.0.2:53`). The test
 * puts a CSR for www.example.test and *.www.example.test (two
 * authorizations, the wildcard's only by DNS-01) into the zone by knsupdate
 * (TLSA 3 255 0 at _letsencrypt._tcp.www.example.test); then the zone carries a
 * certificate (TLSA 3 0 0) for the CSR's key and names that chains, with
 * the TLSA 0 0 0 intermediates, to pebble's root, and the _acme-challenge
 * TXT is gone; the secondary served the challenge before pebble was told
 * to look, and serves the certificate too. The certifier restarted with the same account key finds
 * its ACME account (not a new one) and the published certificate (orders
 * nothing); at two thirds of a 45 s lifetime it renews, and the zone then
 * holds the new certificate only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { netnsSkipReason, stopAll, withTapNamespace, type TapNamespace } from './netns.ts';
import type { ChildProcess } from 'node:child_process';
import { pebble } from './pebble.ts';
import { readableTempDir } from './unprivileged.ts';
import { buildImage, kdigIn, until } from './images.ts';
import { journalFlag } from './dns-journal.ts';
import { lines } from './log-lines.ts';

const FATA = new URL('../bin/fata.mjs', import.meta.url).pathname;
const CERTIFY_KEY = 'hmac-sha256:certify-key:Y2VydGlmeS1jZXJ0aWZ5LWNlcnRpZnktY2VydGlmeSE=';
const ADMIN_KEY = 'hmac-sha256:admin-key:YWRtaW4tYWRtaW4tYWRtaW4tYWRtaW4tYWRtaW4hIQ==';
const OWNER = '_letsencrypt._tcp.www.example.test.';
const LIFETIME_S = 45;

/** The TLSA records at `name` on the primary, over TCP: usage, selector, matching type and the data in hex. */
function tlsas(ns: TapNamespace, name: string, server = '10.0.0.2'): { kind: string; hex: string }[] {
  const out = kdigIn(ns, server, ['+tcp', '+short', name, 'TLSA']);
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 4 && /^\d+$/.test(f[0]!))
    .map((f) => ({ kind: f.slice(0, 3).join(' '), hex: f.slice(3).join('').toLowerCase() }));
}

/** A DER certificate (hex) as PEM, through openssl. */
const pem = (hex: string): string =>
  execFileSync('openssl', ['x509', '-inform', 'DER'], { input: Buffer.from(hex, 'hex'), encoding: 'utf8' });

/** Three taps on a bridge holding the namespace's 10.0.0.1/24: one for each unikernel. */
function moreTaps(ns: TapNamespace): string[] {
  const steps = [
    ['ip', 'link', 'add', 'br0', 'type', 'bridge'],
    ['ip', 'addr', 'del', '10.0.0.1/24', 'dev', ns.tap],
    ['ip', 'link', 'set', ns.tap, 'master', 'br0'],
    ['ip', 'addr', 'add', '10.0.0.1/24', 'dev', 'br0'],
    ['ip', 'link', 'set', 'br0', 'up'],
  ];
  for (const t of ['tap1', 'tap2'])
    steps.push(['ip', 'tuntap', 'add', 'dev', t, 'mode', 'tap'], ['ip', 'link', 'set', t, 'master', 'br0'], ['ip', 'link', 'set', t, 'up']);
  for (const argv of steps) {
    const r = ns.run(argv);
    assert.equal(r.status, 0, `${argv.join(' ')}: ${r.stderr}`);
  }
  return ['tap1', 'tap2'];
}

/** The service's own key and its request (CN www.example.test, subjectAltName it and the wildcard below it), made where the service runs; only the CSR goes into DNS. */
function request(dir: string): { csrHex: string; publicKey: string } {
  execFileSync(
    'openssl',
    ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'www-key.pem')].concat([
      '-subj',
      '/CN=www.example.test',
      '-addext',
      'subjectAltName=DNS:www.example.test,DNS:*.www.example.test',
      '-outform',
      'DER',
      '-out',
      join(dir, 'www.csr'),
    ]),
  );
  return {
    csrHex: readFileSync(join(dir, 'www.csr')).toString('hex'),
    publicKey: execFileSync('openssl', ['pkey', '-in', join(dir, 'www-key.pem'), '-pubout'], { encoding: 'utf8' }),
  };
}

/**
 * What the zone holds for the request after issuance: the CSR as it was, one certificate — the one the log named
 * (`serial`), for www.example.test and the CSR's key — and the intermediates that chain it to pebble's root.
 */
function checkPublished(ns: TapNamespace, dir: string, want: { csrHex: string; publicKey: string }, serial: string): void {
  const records = tlsas(ns, OWNER);
  assert.deepEqual(
    records.filter((r) => r.kind === '3 255 0').map((r) => r.hex),
    [want.csrHex],
    'the request stays as it was',
  );
  const leaves = records.filter((r) => r.kind === '3 0 0');
  assert.equal(leaves.length, 1, JSON.stringify(records));
  writeFileSync(join(dir, 'leaf.pem'), pem(leaves[0]!.hex));
  const x509 = (args: string[]): string =>
    execFileSync('openssl', ['x509', '-in', join(dir, 'leaf.pem'), '-noout', ...args], { encoding: 'utf8' });
  assert.equal(/serial=(\w+)/.exec(x509(['-serial']))?.[1]?.toLowerCase(), serial.toLowerCase(), 'the certificate the log names');
  const san = x509(['-ext', 'subjectAltName']);
  assert.match(san, /DNS:www\.example\.test\b/);
  assert.match(san, /DNS:\*\.www\.example\.test\b/);
  assert.equal(x509(['-pubkey']), want.publicKey, "the certificate is for the CSR's key");
  // The chain: pebble's root from its management API, the intermediates from the zone.
  const inter = records.filter((r) => r.kind === '0 0 0');
  assert.ok(inter.length >= 1, `the intermediates are published: ${JSON.stringify(records.map((r) => r.kind))}`);
  writeFileSync(join(dir, 'inter.pem'), inter.map((r) => pem(r.hex)).join(''));
  const root = ns.run(['curl', '-sS', '--cacert', join(dir, 'pebble-cert.pem'), 'https://10.0.0.1:15000/roots/0']);
  assert.equal(root.status, 0, root.stderr);
  writeFileSync(join(dir, 'root.pem'), root.stdout);
  const verify = ns.run([
    'openssl',
    'verify',
    '-CAfile',
    join(dir, 'root.pem'),
    '-untrusted',
    join(dir, 'inter.pem'),
    join(dir, 'leaf.pem'),
  ]);
  assert.equal(verify.status, 0, `chains to pebble's root: ${verify.stdout}${verify.stderr}`);
}

/** examples/dns-server sealed on `tap` at `ipv4` with `flags`, once it prints a line matching `ready`. */
async function dnsServer(
  ns: TapNamespace,
  tap: string,
  image: string,
  ipv4: string,
  flags: string[],
  ready: RegExp,
): Promise<ChildProcess> {
  const c = ns.start([process.execPath, FATA, 'run', `--net:service=${tap}`, journalFlag(), image, `--ipv4=${ipv4}/24`, ...flags]);
  await lines(c).when(ready, 60_000);
  return c;
}

/** The primary at 10.0.0.2: UPDATEs by both keys, NOTIFY to the certifier and the secondary (signed with the certifier's key, the first). */
const primaryFlags = [`--tsig=${CERTIFY_KEY},${ADMIN_KEY}`, '--allow-update=certify-key,admin-key', '--notify=10.0.0.3,10.0.0.4'];
/** A secondary of example.test at 10.0.0.4, transferring with the certifier's key (the primary's NOTIFYs carry it). */
const secondaryFlags = [`--tsig=${CERTIFY_KEY}`, '--primary=10.0.0.2', '--zone=example.test'];

/** The certifier on `tap` at 10.0.0.3: the example's parameters, pebble as its ACME server. */
const certifyArgs = (tap: string, image: string, dir: string): string[] => [
  process.execPath,
  FATA,
  'run',
  `--net:service=${tap}`,
  image,
  '--ipv4=10.0.0.3/24',
  '--primary=10.0.0.2',
  '--zone=example.test',
  `--tsig=${CERTIFY_KEY}`,
  '--acme-directory=https://10.0.0.1:14000/dir',
  '--acme-email=hostmaster@example.test',
  `--acme-ca=${join(dir, 'pebble-cert.pem')}`,
  `--account-key=${join(dir, 'account.pem')}`,
  '--wait-for=10.0.0.4',
];

/** The request put into the zone by the operator's key, as any RFC 2136 client sends it. */
function putRequest(ns: TapNamespace, csrHex: string): void {
  const script = `server 10.0.0.2 53\nzone example.test.\nupdate add ${OWNER} 300 TLSA 3 255 0 ${csrHex}\nsend\nanswer\n`;
  const r = ns.run(['knsupdate', '-y', ADMIN_KEY, '-t', '5', '-r', '1'], { input: Buffer.from(script) });
  assert.match(r.stdout + r.stderr, /status: NOERROR/, r.stdout + r.stderr);
}

test('dns-certify: a CSR put in the zone by UPDATE gets a certificate from pebble by DNS-01 through the Fata primary; renewed at 2/3', {
  skip: netnsSkipReason(['openssl', 'pebble', 'kdig', 'knsupdate', 'curl']),
  timeout: 280_000,
}, async () => {
  const primaryImage = buildImage('examples/dns-server');
  const certifyImage = buildImage('examples/dns-certify');
  const dir = readableTempDir('fata-certify-');
  try {
    execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(dir, 'account.pem')]);
    const want = request(dir);
    await withTapNamespace('10.0.0.1/24', async (ns) => {
      const [tap1, tap2] = moreTaps(ns) as [string, string];
      const unikernels: ChildProcess[] = [];
      try {
        await pebble(ns, dir, LIFETIME_S, { dnsServer: '10.0.0.2:53' });
        unikernels.push(await dnsServer(ns, ns.tap, primaryImage, '10.0.0.2', primaryFlags, /event=serving/));
        unikernels.push(await dnsServer(ns, tap2, primaryImage, '10.0.0.4', secondaryFlags, /event=zone-transferred zone=example\.test\./));
        let certify = ns.start(certifyArgs(tap1, certifyImage, dir));
        unikernels.push(certify);
        let cLog = lines(certify);
        const account = /url=(\S+)/.exec(await cLog.when(/event=acme-account /, 60_000))![1];
        assert.match(cLog.all(), /event=acme-account .*created=true/, 'a new account for a new key');
        await cLog.when(/event=zone-transferred zone=example\.test\./, 30_000);

        putRequest(ns, want.csrHex);
        const published = await cLog.when(/event=certificate-published name=www\.example\.test\./, 120_000);
        const serial1 = /serial=(\w+)/.exec(published)![1]!;
        assert.match(
          cLog.all(),
          /event=challenge-visible name=_acme-challenge\.www\.example\.test\. servers=10\.0\.0\.2:53,10\.0\.0\.4:53/,
        );
        checkPublished(ns, dir, want, serial1);
        const sorted = (server: string): string => JSON.stringify(tlsas(ns, OWNER, server).sort((a, b) => a.hex.localeCompare(b.hex)));
        await until('the secondary serves what the primary serves', () => sorted('10.0.0.4') === sorted('10.0.0.2'), 10_000);
        // The challenge is gone from the zone.
        // One challenge per name, each removed: www.example.test's and its wildcard's, at the same owner one after the other.
        assert.equal(cLog.all().match(/event=challenge-removed name=_acme-challenge\.www\.example\.test\./g)?.length, 2, cLog.all());
        const txt = kdigIn(ns, '10.0.0.2', ['+tcp', '_acme-challenge.www.example.test.', 'TXT']);
        assert.match(txt, /status: (NXDOMAIN|NOERROR)/, txt);
        assert.doesNotMatch(txt, /_acme-challenge\.www\.example\.test\.\s+\d+\s+IN\s+TXT/, `no TXT left: ${txt}`);

        // Restarted with the same account key: the same account, and the published certificate is current.
        const stopped = once(certify, 'exit');
        certify.kill('SIGTERM');
        await stopped;
        certify = ns.start(certifyArgs(tap1, certifyImage, dir));
        unikernels.push(certify);
        cLog = lines(certify);
        const again = await cLog.when(/event=acme-account /, 60_000);
        assert.match(again, /created=false/, `the account is found, not made: ${again}`);
        assert.equal(/url=(\S+)/.exec(again)![1], account, 'the same account');
        await cLog.when(new RegExp(`event=certificate-current name=www\\.example\\.test\\. serial=${serial1} `), 30_000);

        // At 2/3 of the lifetime, a new certificate for the same key replaces the old one.
        const renewed = await cLog.when(/event=certificate-published name=www\.example\.test\./, (LIFETIME_S + 30) * 1000);
        const serial2 = /serial=(\w+)/.exec(renewed)![1]!;
        assert.notEqual(serial2, serial1);
        // Due at two thirds of the first certificate's life (by the unikernel's own log time), not before, and well before it expires.
        const due = await cLog.when(new RegExp(`event=certificate-due name=www\\.example\\.test\\. serial=${serial1} `), 1000);
        const first = new X509Certificate(readFileSync(join(dir, 'leaf.pem')));
        const from = Date.parse(first.validFrom),
          to = Date.parse(first.validTo);
        const dueMs = Date.parse(/ts=(\S+)/.exec(due)![1]!);
        assert.ok(dueMs >= from + ((to - from) * 2) / 3 && dueMs < to, `renewed at 2/3 of ${first.validFrom}..${first.validTo}: ${due}`);
        checkPublished(ns, dir, want, serial2);
      } finally {
        // The unikernels let go of their taps before they go.
        await stopAll(unikernels);
        ns.run(['ip', 'link', 'del', 'br0']);
        for (const t of ['tap1', 'tap2']) ns.run(['ip', 'tuntap', 'del', 'dev', t, 'mode', 'tap']);
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
