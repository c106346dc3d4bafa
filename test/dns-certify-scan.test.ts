/**
 * examples/dns-certify's scan of a zone, without a network (no root): which
 * requests at _letsencrypt._tcp.NAME are refused and why (not a CSR, a
 * broken signature, NAME not in the CSR, a name outside the watched zones),
 * each refusal logged once however often the zone is scanned; a published
 * certificate for the CSR's key and names is current until two thirds of
 * its life and due from then on; one for another key is not current; a
 * failed order is not tried again before its backoff. The ACME client is a
 * stub that records what it is asked to order and fails. DNS-01 against
 * a primary in memory: the TXT added, seen and removed; a refused UPDATE
 * fails the order with what to give the primary. And the boot's refusals
 * of missing or wrong parameters, each with what to write.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHmac, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'fata';
import { Authority, frameTcp, parseTsigKey, TcpDeframer, Updates, Zone, type DnsQuerier, type Hmac, type PrimaryLink } from 'fata/dns';
import type { ByteStream } from 'fata/net';
import type { ChallengeSolver } from '../examples/website/acme.ts';
import type { AcmeClient } from '../examples/website/acme.ts';
import { Certifier, readCsr } from '../examples/dns-certify/certifier.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const FATA = join(ROOT, 'bin/fata.mjs');
const openssl = (args: string[], input?: Buffer): Buffer => execFileSync('openssl', args, input ? { input } : {});

/** A P-256 key in `dir` and a CSR for `names` (CN the first), as hex DER; `cert(days)` makes a self-signed certificate for the same key and names. */
function keyAndCsr(
  dir: string,
  tag: string,
  names: string[],
): { csr: string; cert: (days: number) => { hex: string; x: X509Certificate } } {
  const key = join(dir, `${tag}.pem`);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
  const subject = ['-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`];
  const csr = openssl(['req', '-new', '-key', key, ...subject, '-outform', 'DER']).toString('hex');
  const cert = (days: number) => {
    const der = openssl(['req', '-x509', '-new', '-key', key, ...subject, '-days', String(days), '-outform', 'DER']);
    return { hex: der.toString('hex'), x: new X509Certificate(der) };
  };
  return { csr, cert };
}

function zone(records: string[]): Zone {
  const z = Zone.parse(
    'example.test.',
    `$ORIGIN example.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.1\n${records.join('\n')}\n`,
  );
  if ('errors' in z) throw new Error(z.errors.join('\n'));
  return z;
}

function certifier(
  wallMs: () => number,
  o: { link?: PrimaryLink; querier?: DnsQuerier; order?: (names: readonly string[], solver: ChallengeSolver) => Promise<string> } = {},
): { c: Certifier; logs: string[]; orders: string[][] } {
  const logs: string[] = [];
  const orders: string[][] = [];
  const push = (level: string) => (event: string, fields?: Record<string, unknown>) =>
    logs.push(`${level} ${event} ${JSON.stringify(fields ?? {})}`);
  const log: Logger = { error: push('error'), warn: push('warn'), info: push('info'), debug: push('debug') };
  const acme = {
    order: async (names: readonly string[], _csr: Uint8Array, solver: ChallengeSolver) => {
      orders.push([...names]);
      if (o.order) return o.order(names, solver);
      throw new Error('the stub orders nothing');
    },
  } as unknown as AcmeClient;
  const c = new Certifier({
    zones: ['example.test.'],
    link: o.link ?? ({} as PrimaryLink),
    querier: o.querier ?? ({} as DnsQuerier),
    acme,
    challengeTtl: 60,
    waitFor: [],
    log,
    sleep: async () => {},
    wallMs,
  });
  return { c, logs, orders };
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

test('dns-certify scan: refusals, each logged once, and nothing ordered for them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fata-certify-scan-'));
  try {
    const other = keyAndCsr(dir, 'other', ['other.example.test']);
    const outside = keyAndCsr(dir, 'outside', ['out.example.test', 'www.elsewhere.test']);
    const good = keyAndCsr(dir, 'good', ['good.example.test']);
    // The same CSR with one bit of its signature flipped (the last octet is inside the signature).
    const broken = good.csr.slice(0, -2) + (Number.parseInt(good.csr.slice(-2), 16) ^ 1).toString(16).padStart(2, '0');
    const z = zone([
      '_letsencrypt._tcp.junk TLSA 3 255 0 00112233',
      `_letsencrypt._tcp.www2 TLSA 3 255 0 ${other.csr}`,
      `_letsencrypt._tcp.out TLSA 3 255 0 ${outside.csr}`,
      `_letsencrypt._tcp.broken TLSA 3 255 0 ${broken}`,
      // Not requests: another usage, and a CSR-shaped record at a name without the prefix.
      `_letsencrypt._tcp.cert-only TLSA 3 0 0 ${good.csr}`,
      `_443._tcp.www TLSA 3 255 0 ${good.csr}`,
      // A TLSA too short to have usage, selector and matching type (RFC 3597 form): no request, and no crash.
      '_letsencrypt._tcp.short TYPE52 \\# 2 0300',
    ]);
    const { c, logs, orders } = certifier(() => Date.now());
    await c.scan(z);
    await c.scan(z);
    await settle();
    const refused = logs.filter((l) => l.includes('csr-refused'));
    assert.equal(refused.length, 4, logs.join('\n'));
    assert.match(refused.find((l) => l.includes('_letsencrypt._tcp.junk.'))!, /not a DER PKCS#10 request/);
    assert.match(
      refused.find((l) => l.includes('_letsencrypt._tcp.www2.'))!,
      /does not name www2\.example\.test \(it names other\.example\.test\)/,
    );
    assert.match(refused.find((l) => l.includes('_letsencrypt._tcp.out.'))!, /www\.elsewhere\.test, in no watched zone/);
    assert.match(refused.find((l) => l.includes('_letsencrypt._tcp.broken.'))!, /signature does not verify/);
    assert.deepEqual(orders, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dns-certify scan: a published certificate is current until 2/3 of its life, then due; another key is not current; backoff', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fata-certify-scan-'));
  try {
    const www = keyAndCsr(dir, 'www', ['www.example.test']);
    const stranger = keyAndCsr(dir, 'stranger', ['www.example.test']);
    const cert = www.cert(90);
    const from = Date.parse(cert.x.validFrom),
      to = Date.parse(cert.x.validTo);
    const renewAt = from + ((to - from) * 2) / 3;
    const z = zone([`_letsencrypt._tcp.www TLSA 3 255 0 ${www.csr}`, `_letsencrypt._tcp.www TLSA 3 0 0 ${cert.hex}`]);
    let now = renewAt - 1000;
    const { c, logs, orders } = certifier(() => now);
    await c.scan(z);
    await settle();
    assert.deepEqual(orders, [], 'current a second before 2/3');
    assert.match(logs.join('\n'), /certificate-current .*"renew_at":"[^"]+"/);
    assert.equal(c.nextScanMs, renewAt, 'the next scan is at the renewal');
    now = renewAt;
    await c.scan(z);
    await settle();
    assert.deepEqual(orders, [['www.example.test']], 'due at 2/3');
    assert.match(logs.join('\n'), /certificate-due/);
    // The order failed: not again before the 1 s backoff, then again.
    assert.match(logs.join('\n'), /certify-failed .*"retry_s":1/);
    await c.scan(z);
    await settle();
    assert.equal(orders.length, 1, 'not again within the backoff');
    now += 1000;
    await c.scan(z);
    await settle();
    assert.equal(orders.length, 2, 'again after the backoff');
    assert.match(logs.join('\n'), /certify-failed .*"retry_s":2/);

    // A certificate for the same name but another key answers nothing: ordered at once.
    const other = keyAndCsr(dir, 'www-new', ['www.example.test']);
    const z2 = zone([`_letsencrypt._tcp.www TLSA 3 255 0 ${other.csr}`, `_letsencrypt._tcp.www TLSA 3 0 0 ${stranger.cert(90).hex}`]);
    const second = certifier(() => Date.now());
    await second.c.scan(z2);
    await settle();
    assert.deepEqual(second.orders, [['www.example.test']]);
    assert.doesNotMatch(second.logs.join('\n'), /certificate-current/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dns-certify scan: the CSR read gives its names and key as openssl sees them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fata-certify-scan-'));
  try {
    const r = keyAndCsr(dir, 'multi', ['a.example.test', 'b.example.test', '*.c.example.test']);
    const got = await readCsr(Buffer.from(r.csr, 'hex'));
    assert.ok(!('error' in got), JSON.stringify(got));
    assert.deepEqual([...got.names].sort(), ['*.c.example.test', 'a.example.test', 'b.example.test']);
    const spki = openssl(['pkey', '-in', join(dir, 'multi.pem'), '-pubout', '-outform', 'DER']).toString('hex');
    assert.equal(got.spki, spki);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dns-certify refuses to start without what it needs, naming the parameter and what to write', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fata-certify-params-'));
  try {
    openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024', '-out', join(dir, 'rsa.pem')]);
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(dir, 'ec.pem')]);
    const good = {
      '--primary': '127.0.0.1:5300',
      '--zone': 'example.test',
      '--tsig': 'k:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==',
      '--acme-directory': 'https://127.0.0.1:1/dir',
      '--account-key': join(dir, 'ec.pem'),
    };
    const run = (change: Record<string, string | undefined>): string => {
      const args = Object.entries({ ...good, ...change }).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
      const r = spawnSync(process.execPath, [FATA, 'run', 'examples/dns-certify', '--port=5399', ...args], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(r.status, 1, r.stdout + r.stderr);
      return r.stdout;
    };
    const make = /openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out account\.pem/;
    const noKey = run({ '--account-key': undefined });
    assert.match(noKey, /event=bad-parameter parameter=--account-key error="the ACME account key file is required/);
    assert.match(noKey, make);
    assert.match(
      run({ '--account-key': join(dir, 'rsa.pem') }),
      /parameter=--account-key error="not a P-256 key: give a P-256 private key/,
    );
    assert.match(run({ '--zone': undefined }), /parameter=--zone error="name the zones to watch, e\.g\. --zone=example\.test"/);
    assert.match(run({ '--primary': 'ns1.example.test' }), /parameter=--primary error="'ns1\.example\.test' is not IP or IP:PORT/);
    assert.match(run({ '--tsig': undefined }), /parameter=--tsig error=".*--allow-update/);
    assert.match(run({ '--wait-for': '10.0.0.4,ns2' }), /parameter=--wait-for error="'ns2' is not IP or IP:PORT/);
    assert.match(run({ '--acme-directory': undefined }), /parameter=--acme-directory error="give the ACME directory URL/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const hmac: Hmac = (hash, key, data) => createHmac(hash, key).update(data).digest();
const KEY = parseTsigKey('certify-key:Y2VydGlmeS1jZXJ0aWZ5LWNlcnRpZnktY2VydGlmeSE=');

/** A primary in memory: `authority` answers each framed request written to a connection, UPDATEs by `allowed`. */
function memoryPrimary(authority: Authority, allowed: boolean): PrimaryLink {
  if ('error' in KEY) throw new Error(KEY.error);
  const updates = new Updates(authority, { allowed: () => allowed, commit: () => 'ok', log: () => {} });
  const tcpConnect = async (): Promise<ByteStream> => {
    const deframer = new TcpDeframer();
    const s: ByteStream = {
      onData: undefined,
      onEnd: undefined,
      onDrain: undefined,
      onClose: undefined,
      write: (d) => {
        for (const m of deframer.push(d))
          for (const r of authority.answer(m, {
            transport: 'tcp',
            tsig: { keys: [KEY], hmac, now: Math.floor(Date.now() / 1000) },
            update: (msg, key) => updates.handle(msg, key, '10.0.0.3'),
          }))
            queueMicrotask(() => s.onData?.(frameTcp(r)));
        return d.length;
      },
      end: () => {},
      destroy: () => {},
      pause: () => {},
      resume: () => {},
    };
    return s;
  };
  const random = { u32: () => 4242, fill: () => {} };
  const timer = (ms: number, fn: () => void) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  };
  return {
    address: '10.0.0.2',
    port: 53,
    net: { tcpConnect },
    random,
    timer,
    tsig: { key: KEY, hmac },
    wallSec: () => Math.floor(Date.now() / 1000),
  };
}

test('dns-certify DNS-01: the TXT added by UPDATE, seen, and removed after; an UPDATE the primary refuses fails the order with what to give it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fata-certify-scan-'));
  try {
    const www = keyAndCsr(dir, 'www', ['www.example.test']);
    const z = zone([`_letsencrypt._tcp.www TLSA 3 255 0 ${www.csr}`]);
    const txts = (a: Authority): number => a.zone('example.test.')!.records.filter((r) => r.type === 16).length;
    // Allowed: the solver's TXT is in the zone while the ACME server looks, and gone after.
    const primary = new Authority([z]);
    let during = -1;
    const querier = {
      query: async () => ({ answers: primary.zone('example.test.')!.records.filter((r) => r.type === 16) }),
    } as unknown as DnsQuerier;
    const ok = certifier(() => Date.now(), {
      link: memoryPrimary(primary, true),
      querier,
      order: async (names, solver) => {
        await solver.present(names[0]!, 'token.thumbprint');
        during = txts(primary);
        await solver.cleanup(names[0]!, 'token.thumbprint');
        throw new Error('the stub issues nothing');
      },
    });
    await ok.c.scan(z);
    for (let i = 0; i < 50 && !ok.logs.some((l) => l.includes('certify-failed')); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(during, 1, ok.logs.join('\n'));
    assert.equal(txts(primary), 0, 'removed after');
    assert.match(ok.logs.join('\n'), /challenge-visible \{"name":"_acme-challenge\.www\.example\.test\.","servers":"10\.0\.0\.2:53"\}/);
    // Refused: the order fails with the flags the primary needs.
    const closed = new Authority([z]);
    const no = certifier(() => Date.now(), {
      link: memoryPrimary(closed, false),
      querier,
      order: async (names, solver) => {
        await solver.present(names[0]!, 'token.thumbprint');
        return '';
      },
    });
    await no.c.scan(z);
    for (let i = 0; i < 50 && !no.logs.some((l) => l.includes('certify-failed')); i++) await new Promise((r) => setTimeout(r, 10));
    assert.match(
      no.logs.join('\n'),
      /certify-failed .*answered REFUSED \(the primary must know the key and let it update: --tsig=…:certify-key\.:… --allow-update=certify-key\.\)/,
    );
    assert.equal(txts(closed), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
