/**
 * Delegation certificates: the two extensions round-trip and their decoders never throw on arbitrary bytes; a
 * delegation openssl writes from the documented ASN.1 reads as Fata writes it; the check of a client chain accepts
 * a chain within its policies and refuses one beyond its issuer's, an expired or revoked certificate, a client
 * certificate that names no commands, and a CA that tries to connect. The daemon end to end is test/remote.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  clientAuthority,
  decodeCommands,
  decodePolicy,
  type DelegationPolicy,
  encodeCommands,
  encodePolicy,
  exceeds,
  issueCertificate,
  issueCrl,
  OID_POLICY,
} from './delegation.ts';
import { lib, readCertificates } from './trust.ts';

const SEED = Number(process.env.FC_SEED ?? 20261201);
process.stdout.write(`# fast-check seed ${SEED} (FC_SEED=${SEED} to replay)\n`);
const noOpenssl = spawnSync('sh', ['-c', 'command -v openssl']).status !== 0 ? 'needs openssl (apt-get install openssl)' : undefined;

test('FataPolicy and FataCommands round-trip; arbitrary bytes decode to a policy or an error, never a throw', async () => {
  const { asn1js } = await lib();
  const policy = fc.record(
    {
      maxUnikernels: fc.nat(),
      maxMemoryMb: fc.nat(),
      bridges: fc.array(fc.string({ maxLength: 15 }), { maxLength: 4 }),
      maxVolumeBytes: fc.maxSafeNat(),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(policy, (p: DelegationPolicy) => {
      assert.deepEqual(decodePolicy(asn1js, new Uint8Array(encodePolicy(asn1js, p))), { ...p });
    }),
    { seed: SEED, numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.array(fc.string({ maxLength: 10 }), { maxLength: 9 }), (c) => {
      assert.deepEqual(decodeCommands(asn1js, new Uint8Array(encodeCommands(asn1js, c))), c);
    }),
    { seed: SEED, numRuns: 200 },
  );
  const valid = new Uint8Array(encodePolicy(asn1js, { maxUnikernels: 3, bridges: ['br0'] }));
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        fc.tuple(fc.nat(valid.length - 1), fc.nat(255)).map(([i, b]) => {
          const m = valid.slice();
          m[i] = b;
          return m;
        }),
      ),
      (bytes) => {
        const p = decodePolicy(asn1js, bytes);
        const c = decodeCommands(asn1js, bytes);
        assert.ok(typeof p === 'object' && typeof c === 'object');
      },
    ),
    { seed: SEED, numRuns: 2000 },
  );
  assert.match(String((decodePolicy(asn1js, Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x02)) as { error: string }).error), /version 2/);
  assert.ok('error' in decodePolicy(asn1js, new Uint8Array([...valid, 0])), 'trailing bytes are refused');
});

test('exceeds: a limit larger than the parent, or left out where the parent has one, or a bridge the parent lacks', () => {
  const parent: DelegationPolicy = { maxUnikernels: 2, maxMemoryMb: 512, bridges: ['br0'] };
  assert.equal(exceeds({ maxUnikernels: 2, maxMemoryMb: 512, bridges: ['br0'] }, parent), undefined);
  assert.equal(exceeds({ maxUnikernels: 1, maxMemoryMb: 1, bridges: [], maxVolumeBytes: 5 }, parent), undefined);
  assert.equal(exceeds({ maxUnikernels: 3, maxMemoryMb: 512, bridges: ['br0'] }, parent), 'unikernels 3 > 2');
  assert.equal(exceeds({ maxUnikernels: 2, bridges: ['br0'] }, parent), 'memory (MB) unlimited > 512');
  assert.equal(exceeds({ maxUnikernels: 2, maxMemoryMb: 512, bridges: ['br0', 'br1'] }, parent), 'bridge br1 not among br0');
  assert.equal(exceeds({ maxUnikernels: 2, maxMemoryMb: 512 }, parent), 'bridges any > br0');
  assert.equal(exceeds({}, {}), undefined);
});

interface Files {
  readonly cert: string;
  readonly key: string;
}

/** The PKI of the chain tests: operator CA op → alice (2 unikernels) → team (bridge br0) → client laptop. */
class Pki {
  readonly dir = mkdtempSync(join(tmpdir(), 'fata-delegation-'));
  op!: Files;
  alice!: Files;
  team!: Files;
  laptop!: Files;

  files(name: string, i: { certPem: string; keyPem: string }): Files {
    writeFileSync(join(this.dir, `${name}.pem`), i.certPem);
    writeFileSync(join(this.dir, `${name}.key`), i.keyPem);
    return { cert: join(this.dir, `${name}.pem`), key: join(this.dir, `${name}.key`) };
  }

  async make(): Promise<this> {
    this.op = this.files(
      'op',
      await issueCertificate({ kind: 'ca', name: 'op', days: 30, policy: { maxUnikernels: 10, bridges: ['br0', 'br1'] } }),
    );
    this.alice = this.files(
      'alice',
      await issueCertificate({ kind: 'delegate', name: 'alice', issuer: this.op, days: 20, policy: { maxUnikernels: 2 } }),
    );
    this.team = this.files(
      'team',
      await issueCertificate({ kind: 'delegate', name: 'team', issuer: this.alice, days: 20, policy: { bridges: ['br0'] } }),
    );
    this.laptop = this.files(
      'laptop',
      await issueCertificate({ kind: 'client', name: 'laptop', issuer: this.team, days: 5, commands: ['list', 'create'] }),
    );
    return this;
  }

  check(certFile: string, opts: { crl?: string; now?: Date } = {}): ReturnType<typeof clientAuthority> {
    const [leaf, ...carried] = readCertificates(certFile, 'client');
    return clientAuthority(leaf!, carried, readCertificates(this.op.cert, 'op'), opts);
  }

  openssl(args: string[]): string {
    return execFileSync('openssl', args, { cwd: this.dir, encoding: 'utf8', stdio: 'pipe' });
  }

  /** A certificate openssl issues under `issuer` (a new P-256 key), with `extensions` from `config` if given; its file carries the issuer's chain. */
  opensslIssue(name: string, issuer: Files, config?: string): Files {
    this.openssl([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${name}`,
    ]);
    if (config) writeFileSync(join(this.dir, `${name}.cnf`), config);
    const ext = config ? ['-extfile', `${name}.cnf`, '-extensions', 'ext'] : [];
    this.openssl([
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      issuer.cert,
      '-CAkey',
      issuer.key,
      '-set_serial',
      '77',
      '-days',
      '5',
      ...ext,
      '-out',
      `${name}.only.pem`,
    ]);
    execFileSync('sh', ['-c', `cat ${name}.only.pem ${issuer.cert} > ${name}.pem`], { cwd: this.dir });
    return { cert: join(this.dir, `${name}.pem`), key: join(this.dir, `${name}.key`) };
  }
}

let pki: Pki | undefined;
before(async () => {
  if (!noOpenssl) pki = await new Pki().make();
});
after(() => {
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

test("a chain within its delegations: the delegations from the top with their policies (a limit left out is the issuer's), the commands", {
  skip: noOpenssl,
}, async () => {
  const p = pki!;
  await assert.rejects(
    issueCertificate({ kind: 'client', name: 'x', issuer: p.team, days: 5, commands: ['list', 'reboot'] }),
    /not reboot/,
  );
  const ok = await p.check(p.laptop.cert);
  assert.deepEqual(ok.delegations, [
    { name: 'alice', policy: { maxUnikernels: 2, bridges: ['br0', 'br1'] } },
    { name: 'team', policy: { maxUnikernels: 2, bridges: ['br0'] } },
  ]);
  assert.deepEqual([...ok.commands], ['list', 'create']);
  assert.deepEqual(ok.chain, ['CN=laptop', 'CN=team', 'CN=alice', 'CN=op']);
  // The operator's CA issuing a client directly: no delegation (the administrator).
  const admin = p.files('admin', await issueCertificate({ kind: 'client', name: 'admin', issuer: p.op, days: 5, commands: ['list'] }));
  assert.deepEqual((await p.check(admin.cert)).delegations, []);
});

test("a delegation beyond its issuer's policy: fata will not issue it, and one openssl wrote from the documented ASN.1 is refused", {
  skip: noOpenssl,
}, async () => {
  const p = pki!;
  await assert.rejects(
    issueCertificate({ kind: 'delegate', name: 'big', issuer: p.alice, days: 5, policy: { maxUnikernels: 3 } }),
    /beyond.*unikernels 3 > 2/,
  );
  const big = p.opensslIssue(
    'big',
    p.alice,
    `[ext]\nbasicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n${OID_POLICY}=ASN1:SEQUENCE:pol\n` +
      '[pol]\nversion=INTEGER:1\nunikernels=EXP:0,INTEGER:5\nbridges=EXP:2,SEQUENCE:br\n[br]\nb0=UTF8String:br0\n',
  );
  const client = p.files('bigclient', await issueCertificate({ kind: 'client', name: 'c', issuer: big, days: 5, commands: ['list'] }));
  await assert.rejects(p.check(client.cert), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'FATA_DELEGATION_EXCEEDED');
    assert.match(e.message, /CN=big .*goes beyond its issuer alice's policy: unikernels 5 > 2/);
    return true;
  });
  // Within alice's policy, the same openssl-made delegation is accepted: the refusal above is the policy's.
  const fits = p.opensslIssue(
    'fits',
    p.alice,
    `[ext]\nbasicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n${OID_POLICY}=ASN1:SEQUENCE:pol\n` +
      '[pol]\nversion=INTEGER:1\nunikernels=EXP:0,INTEGER:1\nbridges=EXP:2,SEQUENCE:br\n[br]\nb0=UTF8String:br0\n',
  );
  const fitsClient = p.files(
    'fitsclient',
    await issueCertificate({ kind: 'client', name: 'c', issuer: fits, days: 5, commands: ['list'] }),
  );
  assert.deepEqual((await p.check(fitsClient.cert)).delegations.at(-1), { name: 'fits', policy: { maxUnikernels: 1, bridges: ['br0'] } });
});

test('expired and revoked certificates are refused; a CRL from a CA on another chain is no matter; a stale CRL is refused', {
  skip: noOpenssl,
}, async () => {
  const p = pki!;
  const old = p.files(
    'old',
    await issueCertificate({
      kind: 'client',
      name: 'old',
      issuer: p.team,
      days: 1,
      commands: ['list'],
      now: new Date(Date.now() - 3 * 86_400_000),
    }),
  );
  await assert.rejects(
    p.check(old.cert),
    (e: Error & { code?: string }) => e.code === 'FATA_CERT_EXPIRED' && /CN=old .*expired on/.test(e.message),
  );
  const crl = (name: string, text: string): string => {
    writeFileSync(join(p.dir, name), text);
    return join(p.dir, name);
  };
  const laptopSerial = readCertificates(p.laptop.cert, 'l')[0]!.serialNumber;
  const teamCrl = crl('team.crl', (await issueCrl({ issuer: p.team, serials: [laptopSerial], days: 7 })).pem);
  await assert.rejects(
    p.check(p.laptop.cert, { crl: teamCrl }),
    (e: Error & { code?: string }) => e.code === 'FATA_CERT_REVOKED' && /CN=laptop .*revoked .* by CN=team/.test(e.message),
  );
  // alice's CRL revoking team revokes every client under team.
  const teamSerial = readCertificates(p.team.cert, 't')[0]!.serialNumber;
  const aliceCrl = crl('alice.crl', (await issueCrl({ issuer: p.alice, serials: [teamSerial], days: 7 })).pem);
  await assert.rejects(p.check(p.laptop.cert, { crl: aliceCrl }), /CN=team .*revoked/);
  const stray = p.files('stray', await issueCertificate({ kind: 'ca', name: 'stray', days: 5 }));
  const otherCrl = crl('other.crl', (await issueCrl({ issuer: stray, serials: [laptopSerial], days: 7 })).pem);
  assert.equal((await p.check(p.laptop.cert, { crl: otherCrl })).delegations.length, 2);
  const stale = crl(
    'stale.crl',
    (await issueCrl({ issuer: p.alice, serials: [], days: 1, now: new Date(Date.now() - 2 * 86_400_000) })).pem,
  );
  await assert.rejects(p.check(p.laptop.cert, { crl: stale }), /FATA_CRL_STALE|due for renewal/);
});

test('refused: a client certificate naming no commands, a CA connecting, a chain that does not reach the anchor', {
  skip: noOpenssl,
}, async () => {
  const p = pki!;
  const plain = p.opensslIssue('plain', p.team);
  await assert.rejects(p.check(plain.cert), /names no commands/);
  await assert.rejects(p.check(p.team.cert), /is a CA certificate/);
  const stray = p.files('stray2', await issueCertificate({ kind: 'ca', name: 'stray2', days: 5 }));
  const strayClient = p.files(
    'strayclient',
    await issueCertificate({ kind: 'client', name: 's', issuer: stray, days: 5, commands: ['list'] }),
  );
  await assert.rejects(p.check(strayClient.cert), /does not chain/);
});
