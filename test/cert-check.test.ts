/**
 * `fata cert check` (issue 16): certificates made here with openssl, 10 and
 * 40 days from expiry, one expired, and files that are not certificates;
 * the verdicts are openssl x509 -checkend's for the same windows.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pki } from './pki.ts';

const ROOT = new URL('..', import.meta.url).pathname;
let dir: string;
const certs: Record<'d10' | 'd40' | 'expired', string> = { d10: '', d40: '', expired: '' };

function fata(args: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(join(ROOT, 'bin', 'fata'), args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

/** openssl's verdict on the same question: does `cert` expire within `days`? */
const checkend = (cert: string, days: number): number | null =>
  spawnSync('openssl', ['x509', '-checkend', String(days * 86400), '-noout', '-in', cert]).status;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'fata-cert-'));
  for (const days of [10, 40] as const) {
    const key = join(dir, `d${days}.key`);
    certs[`d${days}`] = join(dir, `d${days}.pem`);
    spawnSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    const r = spawnSync(
      'openssl',
      ['req', '-x509', '-new', '-key', key, '-subj', `/O=Fata/CN=in-${days}-days.test`, '-days', `${days}`].concat([
        '-out',
        certs[`d${days}`],
      ]),
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
  }
  const pki = new Pki(join(dir, 'pki'));
  certs.expired = pki.issue(pki.root('Cert Check Root', 'ec'), 'expired.test', 'tls', { kind: 'ec', from: -90, to: -2 }).cert;
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('fata cert check prints subject, issuer, validity and days left; exit 1 within 30 days, 0 beyond', () => {
  const ten = fata(['cert', 'check', certs.d10]);
  assert.equal(ten.status, 1, ten.err);
  assert.match(ten.out, /^subject: +CN=in-10-days\.test, O=Fata\nissuer: +CN=in-10-days\.test, O=Fata\n/);
  assert.match(ten.out, /valid: +\d{4}-\d\d-\d\dT[\d:.]+Z to \d{4}-\d\d-\d\dT[\d:.]+Z\n/);
  assert.match(ten.out, /days left: 9\n/);
  assert.match(ten.err, /expires within 30 days \(in 9\); renew it/);
  const forty = fata(['cert', 'check', certs.d40]);
  assert.equal(forty.status, 0, forty.err);
  assert.match(forty.out, /days left: 39\n/);
  assert.equal(forty.err, '');
  // openssl's -checkend 2592000 says the same.
  assert.equal(checkend(certs.d10, 30), 1);
  assert.equal(checkend(certs.d40, 30), 0);
});

test('fata cert check --days moves the line, as -checkend does', () => {
  for (const [cert, days, want] of [
    [certs.d10, 5, 0],
    [certs.d10, 11, 1],
    [certs.d40, 45, 1],
    [certs.d40, 0, 0],
  ] as const) {
    const r = fata(['cert', 'check', '--days', String(days), cert]);
    assert.equal(r.status, want, `${cert} --days ${days}: ${r.err}`);
    assert.equal(checkend(cert, days), want, `openssl -checkend for ${days} days`);
  }
  assert.equal(fata(['cert', 'check', `--days=45`, certs.d40]).status, 1);
});

test('fata cert check: an expired certificate exits 1; an unreadable one, or a misused command, 2', () => {
  const ex = fata(['cert', 'check', certs.expired]);
  assert.equal(ex.status, 1);
  assert.match(ex.out, /subject: +CN=expired\.test\nissuer: +CN=Cert Check Root\n/);
  assert.match(ex.out, /days left: 0\n/);
  assert.match(ex.err, /expired 2 days ago; renew it/);
  const garbage = join(dir, 'garbage.pem');
  writeFileSync(garbage, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n');
  for (const f of [garbage, join(dir, 'missing.pem')]) {
    const r = fata(['cert', 'check', f]);
    assert.equal(r.status, 2, r.err);
    assert.match(r.err, /FATA_BAD_CERT: cannot read a certificate from/);
    assert.equal(r.out, '');
  }
  assert.equal(fata(['cert', 'check', '--days', 'soon', certs.d40]).status, 2);
  assert.equal(fata(['cert', 'verify', certs.d40]).status, 2);
});
