/**
 * examples/website's AcmeStore (acme.ts) on a block device in memory, no network: what it writes loads again;
 * a certificate is reused only for the same directory and names and before two thirds of its life; a damaged,
 * foreign or unparseable store, or one too small, is a logged warning and never a throw. And its renewal loop
 * (acmeCertificates) on a virtual clock with a scripted ACME client: renewal at two thirds, the backoff, the
 * certificate kept while renewals fail, and the warnings as its expiry approaches.
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
import { AcmeStore, acmeCertificates, type Issued } from '../examples/website/acme.ts';
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

/** A self-signed certificate for a.test and b.test (90 days unless said), and its key (openssl). */
function selfSigned(days = 90): { certPem: string; keyPem: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fata-acme-store-'));
  try {
    const { cert, key } = selfSignedFiles(dir, 'a', 'a.test', 'DNS:a.test,DNS:b.test', days);
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

/**
 * acmeCertificates with a client whose issue() answers from `script` (an Issued, or an Error to throw) and a
 * virtual clock that starts now: each sleep moves it on at once, until `untilMs` after the start, where the loop
 * is left asleep for good. Resolves with the log, each sleep, the issue() calls' times and the certificate served
 * at the end.
 */
async function renewalRun(
  script: (Issued | Error)[],
  untilMs: number,
): Promise<{
  lines: string[];
  sleeps: number[];
  calls: number[];
  servedToMs: number;
  startMs: number;
  stats: { renewals: number; failures: number; failing: number };
}> {
  const log = recorder();
  const startMs = Date.now();
  let now = startMs;
  const sleeps: number[] = [],
    calls: number[] = [];
  let finished: () => void = () => {};
  const done = new Promise<void>((r) => {
    finished = r;
  });
  const client = {
    issue: async (): Promise<Issued> => {
      calls.push(now - startMs);
      const next = script.shift() ?? new Error('script ran out');
      if (next instanceof Error) throw next;
      return next;
    },
  };
  const stats = { renewals: 0, failures: 0, failing: 0 };
  const ctx = {
    log,
    stats,
    nowMs: () => now,
    sleep: (ms: number): Promise<void> => {
      sleeps.push(ms);
      if (now - startMs >= untilMs) {
        finished();
        return new Promise(() => {});
      }
      now += ms;
      return Promise.resolve();
    },
  };
  const cert = await acmeCertificates(client, ctx);
  await done;
  return { lines: log.lines, sleeps, calls, servedToMs: cert().validToMs, startMs, stats };
}

const issued = (days = 90): Issued => {
  const { certPem, keyPem } = selfSigned(days);
  return { certPem, keyPem, accountKeyPem: keyPem };
};
const serialOf = (i: Issued): string => new X509Certificate(i.certPem).serialNumber;
const validToMs = (i: Issued): number => Date.parse(new X509Certificate(i.certPem).validTo);

test('renewal: at two thirds of the life; failures keep the certificate, back off 1 s doubling, then the new one is served', {
  skip,
}, async () => {
  // The renewed certificate lives a year: not due again within the run.
  const first = issued(),
    second = issued(365);
  const boom = new Error('ACME https://acme.test/dir: connect ECONNREFUSED');
  const run = await renewalRun([first, boom, boom, boom, second], 61 * DAY);
  assert.equal(run.calls.length, 5, 'no more calls once renewed');
  const notBefore = Date.parse(new X509Certificate(first.certPem).validFrom);
  // The first call at boot, the next at two thirds of 90 days after notBefore (a few seconds' slack: the
  // certificate's time has whole seconds).
  assert.equal(run.calls[0], 0);
  const renewAt = notBefore + 60 * DAY - run.startMs;
  assert.ok(Math.abs(run.calls[1]! - renewAt) < 2000, `first renewal at ${run.calls[1]} ms, due at ${renewAt}`);
  assert.deepEqual(
    run.calls.slice(2).map((t) => t - run.calls[1]!),
    [1000, 3000, 7000],
    'retried after 1, 2 and 4 s',
  );
  const failed = run.lines.filter((l) => l.startsWith('warn renewal-failed'));
  assert.equal(failed.length, 3, run.lines.join('\n'));
  for (const l of failed) assert.match(l, new RegExp(`"serving":"${serialOf(first)}"`));
  assert.match(run.lines.join('\n'), new RegExp(`info certificate-renewed \\{"serial":"${serialOf(second)}"`));
  assert.equal(run.servedToMs, validToMs(second), 'new handshakes get the renewed certificate');
  assert.deepEqual(run.stats, { renewals: 1, failures: 3, failing: 0 }, 'what --metrics shows');
  // 30 days left when the renewals failed: one expiry warning, with its days, for the certificate still served.
  const expiring = run.lines.filter((l) => l.includes('certificate-expiring'));
  assert.equal(expiring.length, 1, run.lines.join('\n'));
  assert.match(expiring[0]!, new RegExp(`^warn certificate-expiring .*"serial":"${serialOf(first)}".*"days_left":(29|30)`));
  // Between renewals the loop sleeps at most an hour at a time.
  assert.ok(Math.max(...run.sleeps) <= 3_600_000);
});

test('renewal failing for good: the certificate stays served, one warning per day left, then an error once it has expired', {
  skip,
}, async () => {
  const first = issued();
  const run = await renewalRun([first], 92 * DAY);
  assert.equal(run.servedToMs, validToMs(first), 'nothing else to serve');
  const days = run.lines.filter((l) => l.startsWith('warn certificate-expiring')).map((l) => Number(/"days_left":(\d+)/.exec(l)?.[1]));
  // From the first failure (30 days left, or 29 with the seconds of notBefore) down to 0, each day once.
  assert.ok(days[0] === 29 || days[0] === 30, String(days));
  assert.deepEqual(
    days,
    Array.from({ length: days[0]! + 1 }, (_, i) => days[0]! - i),
  );
  const expired = run.lines.filter((l) => l.includes('certificate-expired'));
  assert.equal(expired.length, 1, 'said once');
  assert.match(expired[0]!, new RegExp(`^error certificate-expired .*"serial":"${serialOf(first)}"`));
  // Retries never stop, an hour apart once backed off.
  const retries = run.lines.filter((l) => l.startsWith('warn renewal-failed'));
  assert.ok(retries.length > 700, `${retries.length} retries over 32 days`);
  assert.match(retries.at(-1)!, /"retry_s":3600/);
  assert.deepEqual(run.stats, { renewals: 0, failures: retries.length, failing: retries.length }, 'what --metrics shows');
});
