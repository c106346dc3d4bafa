/**
 * examples/website's AcmeStore (acme.ts) on a block device in memory, no network: what it writes loads again;
 * a certificate is reused only for the same directory and names and before two thirds of its life; a damaged,
 * foreign or unparseable store, or one too small, is a logged warning and never a throw.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { BlockDevice, DeviceResult, Logger } from 'fata';
import { SlotStore } from 'fata/storage';
import { AcmeStore } from '../examples/website/acme.ts';
import { selfSigned as selfSignedFiles } from './pki.ts';

class MemBlock implements BlockDevice {
  readonly bytes: Uint8Array;
  readonly capacity: bigint;
  readonly blockSize = 512;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.capacity = BigInt(size);
  }
  read(offset: bigint, into: Uint8Array): DeviceResult {
    into.set(this.bytes.subarray(Number(offset), Number(offset) + into.length));
    return 'ok';
  }
  write(offset: bigint, data: Uint8Array): DeviceResult {
    this.bytes.set(data, Number(offset));
    return 'ok';
  }
}

/** A logger that keeps `level event` lines. */
function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (event: string, fields?: Record<string, unknown>) => {
    lines.push(`${level} ${event} ${JSON.stringify(fields ?? {})}`);
  };
  return { lines, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

/** A self-signed 90-day certificate for a.test and b.test, and its key (openssl). */
function selfSigned(): { certPem: string; keyPem: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fata-acme-store-'));
  try {
    const { cert, key } = selfSignedFiles(dir, 'a', 'a.test', 'DNS:a.test,DNS:b.test', 90);
    return { certPem: readFileSync(cert, 'utf8'), keyPem: readFileSync(key, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const skip = spawnSync('openssl', ['version']).status === 0 ? false : 'needs openssl (apt-get install openssl)';
const DIR = 'https://acme.test/dir';
const DAY = 86_400_000;

test('AcmeStore: a stored certificate and account key load again, until the certificate is due', { skip }, () => {
  const { certPem, keyPem } = selfSigned();
  const accountKeyPem = selfSigned().keyPem;
  const dev = new MemBlock(64 * 1024);
  const log = recorder();
  const blank = new AcmeStore(dev, DIR, ['a.test', 'b.test'], log);
  assert.equal(blank.accountKeyPem, undefined);
  assert.equal(blank.certificate(Date.now()), undefined);
  assert.deepEqual(log.lines, [], 'a zeroed device is new, not damaged');
  blank.save({ certPem, keyPem, accountKeyPem });
  assert.match(log.lines.join('\n'), /info certificate-stored/);

  const serial = new X509Certificate(certPem).serialNumber;
  const again = new AcmeStore(dev, DIR, ['b.test', 'a.test'], recorder());
  assert.equal(again.accountKeyPem, accountKeyPem);
  const kept = again.certificate(Date.now());
  assert.ok(kept, 'loaded for the same names in another order');
  assert.equal(new X509Certificate(kept.issued.certPem).serialNumber, serial);
  assert.equal(kept.issued.keyPem, keyPem);
  assert.equal(kept.cert.subject, new X509Certificate(certPem).subject);

  const later = recorder();
  assert.equal(new AcmeStore(dev, DIR, ['a.test', 'b.test'], later).certificate(Date.now() + 61 * DAY), undefined, 'due at 60 of 90 days');
  assert.match(later.lines.join('\n'), /info certificate-due/);
  assert.ok(new AcmeStore(dev, DIR, ['a.test', 'b.test'], recorder()).certificate(Date.now() + 59 * DAY), 'not yet due at 59 days');

  const names = recorder();
  const other = new AcmeStore(dev, DIR, ['a.test', 'c.test'], names);
  assert.equal(other.certificate(Date.now()), undefined, 'not for other names');
  assert.equal(other.accountKeyPem, accountKeyPem, 'the account is still the same');
  assert.match(names.lines.join('\n'), /info acme-store-other-domains/);

  const elsewhere = recorder();
  const otherCa = new AcmeStore(dev, 'https://other.test/dir', ['a.test', 'b.test'], elsewhere);
  assert.equal(otherCa.accountKeyPem, undefined, 'an account belongs to one directory');
  assert.equal(otherCa.certificate(Date.now()), undefined);
  assert.match(elsewhere.lines.join('\n'), /info acme-store-other-directory/);
});

test('AcmeStore: damage, foreign records and a device too small are warnings, never throws', { skip }, () => {
  const { certPem, keyPem } = selfSigned();
  const garbage = new MemBlock(16 * 1024);
  garbage.bytes.fill(0xa5);
  const g = recorder();
  const s = new AcmeStore(garbage, DIR, ['a.test'], g);
  assert.equal(s.accountKeyPem, undefined);
  assert.equal(s.certificate(Date.now()), undefined);
  assert.match(g.lines.join('\n'), /warn acme-store-unreadable .*neither slot/);

  const cases: [string, string][] = [
    ['not json', 'Unexpected token|JSON'],
    [JSON.stringify({ version: 2, directory: DIR, accountKeyPem: keyPem }), 'not an ACME record'],
    [JSON.stringify({ version: 1, directory: DIR, domains: ['a.test'], accountKeyPem: 'no key' }), '.'],
  ];
  for (const [record, reason] of cases) {
    const dev = new MemBlock(16 * 1024);
    assert.equal(new SlotStore(dev).save(new TextEncoder().encode(record)), 'ok');
    const l = recorder();
    const st = new AcmeStore(dev, DIR, ['a.test'], l);
    assert.equal(st.accountKeyPem, undefined, record);
    assert.match(l.lines.join('\n'), new RegExp(`warn acme-store-unreadable .*(${reason})`), record);
  }

  // A record whose certificate does not parse: the account key still serves, the certificate is ordered anew.
  const bad = new MemBlock(16 * 1024);
  const record = { version: 1, directory: DIR, domains: ['a.test'], accountKeyPem: keyPem, certPem: 'junk', keyPem };
  new SlotStore(bad).save(new TextEncoder().encode(JSON.stringify(record)));
  const b = recorder();
  const st = new AcmeStore(bad, DIR, ['a.test'], b);
  assert.equal(st.accountKeyPem, keyPem);
  assert.equal(st.certificate(Date.now()), undefined);
  assert.match(b.lines.join('\n'), /warn acme-store-unreadable .*stored certificate/);

  const small = recorder();
  new AcmeStore(new MemBlock(1024), DIR, ['a.test'], small).save({ certPem, keyPem, accountKeyPem: keyPem });
  assert.match(small.lines.join('\n'), /warn acme-store-failed .*"result":"full"/);
});
