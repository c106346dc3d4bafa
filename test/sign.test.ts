/**
 * Signed images (issue 16, docs/trust.md): openssl interop both ways, RSA
 * and ECDSA, and each refusal of `fata verify` and `fata run --trust` with
 * its reason — on the node target and on spt through bin/fata (whose native
 * tender must hand --trust back to the CLI) — with no engine started: the
 * service's boot line never printed and no engine process ever in the
 * command's process tree, where the same image signed well shows both.
 * The PKI (a root, an intermediate, signers good and bad, a CRL) is made
 * here with openssl.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Issued, Pki } from './pki.ts';
import { descendants } from './procs.ts';
import { ensureNativeTender } from '../src/host/native.ts';
import { encodeLaunchSpec, parseLaunchSpec } from '../src/tender/launch.ts';
import { createHash } from 'node:crypto';

const ROOT = new URL('..', import.meta.url).pathname;
const FATA = join(ROOT, 'bin', 'fata');
const GREETING = /event=hello greeting="signed hello"/;

let dir: string, work: string, pki: Pki;
let root: Issued, inter: Issued, rsa: Issued, ec: Issued, expired: Issued, future: Issued, revoked: Issued, tls: Issued, other: Issued;
let crl: string;
/** The hello example built for each target, copied into `dir`. */
const images: Record<'node' | 'spt', string> = { node: '', spt: '' };

function fata(args: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(FATA, args, { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'fata-sign-'));
  pki = new Pki(join(dir, 'pki'));
  root = pki.root('Fata Test Root');
  inter = pki.issue(root, 'Fata Test Intermediate', 'inter', { to: 3000 });
  rsa = pki.issue(inter, 'RSA Signer', 'signer');
  ec = pki.issue(inter, 'ECDSA Signer', 'signer_noeku', { kind: 'ec' });
  expired = pki.issue(inter, 'Expired Signer', 'signer', { from: -60, to: -1 });
  future = pki.issue(inter, 'Future Signer', 'signer', { from: 10, to: 400 });
  revoked = pki.issue(inter, 'Revoked Signer', 'signer', { kind: 'ec' });
  tls = pki.issue(inter, 'TLS Server', 'tls');
  pki.revoke(inter, revoked);
  crl = pki.crl(inter);
  other = pki.root('Some Other Root', 'ec');
  // The hello example, built for both targets in a copy at the examples' depth (so that 'fata' resolves).
  mkdirSync(join(ROOT, 'out'), { recursive: true });
  work = mkdtempSync(join(ROOT, 'out', 'sign-'));
  cpSync(join(ROOT, 'examples/hello'), work, { recursive: true, filter: (p) => !p.includes('/dist') });
  for (const t of ['node', 'spt'] as const) {
    const b = fata(['build', '-t', t, work]);
    assert.equal(b.status, 0, b.err);
    images[t] = join(dir, `hello-${t}.fata`);
    copyFileSync(join(work, 'dist', 'hello.fata'), images[t]);
  }
  const native = ensureNativeTender();
  assert.ok(!('error' in native), `the native tender is needed to test its hand-over: ${JSON.stringify(native)}`);
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

/** A copy of image `src` named `name` in `dir` (without its signature). */
function copyImage(src: string, name: string): string {
  const p = join(dir, name);
  copyFileSync(src, p);
  rmSync(`${p}.sig`, { force: true });
  return p;
}

const verify = (image: string, trust = root.cert, extra: string[] = []) => fata(['verify', '--trust', trust, ...extra, image]);

test('openssl signs (RSA through an intermediate, ECDSA) and fata verify accepts, saying who signed', () => {
  for (const signer of [rsa, ec]) {
    const img = copyImage(images.node, `openssl-${signer.name.split(' ')[0]}.fata`);
    pki.opensslSign(img, signer, [inter.cert]);
    const r = verify(img);
    assert.equal(r.status, 0, r.err);
    assert.match(r.out, new RegExp(`signer: +CN=${signer.name}\\n`));
    assert.match(r.out, /issuer: +CN=Fata Test Intermediate\n/);
    assert.match(r.out, /serial: +[0-9A-F]+\n/);
    assert.match(r.out, /not after: +\d{4}-\d\d-\d\dT/);
    assert.match(r.out, /chain: .*<- CN=Fata Test Intermediate <- CN=Fata Test Root \(trusted\)/);
    // A CRL that lists someone else does not refuse it.
    assert.equal(verify(img, root.cert, ['--crl', crl]).status, 0);
  }
});

test('fata sign (RSA, ECDSA) writes IMAGE.sig that openssl cms -verify accepts, and refuses once the image changes', () => {
  for (const signer of [rsa, ec]) {
    const img = copyImage(images.node, `fata-${signer.name.split(' ')[0]}.fata`);
    const s = fata(['sign', '--key', signer.key, '--cert', signer.cert, '--chain', inter.cert, img]);
    assert.equal(s.status, 0, s.err);
    assert.ok(existsSync(`${img}.sig`));
    const v = pki.opensslVerify(img, root.cert);
    assert.ok(v.ok, `openssl refused fata's signature by ${signer.name}: ${v.output}`);
    assert.equal(verify(img).status, 0);
    // openssl's check can fail: a flipped byte in the image.
    const bytes = readFileSync(img);
    bytes[100]! ^= 1;
    writeFileSync(img, bytes);
    assert.ok(!pki.opensslVerify(img, root.cert).ok);
  }
});

test('fata sign refuses a key that is not the certificate’s, an expired certificate and one not for signing', () => {
  const img = copyImage(images.node, 'sign-refusals.fata');
  const cases: [string[], RegExp][] = [
    [['--key', ec.key, '--cert', rsa.cert], /FATA_KEY_MISMATCH: the key in .* is not the key of CN=RSA Signer/],
    [['--key', expired.key, '--cert', expired.cert], /FATA_SIGNER_EXPIRED: the signer certificate CN=Expired Signer .* expired on/],
    [['--key', tls.key, '--cert', tls.cert], /FATA_SIGNER_KEY_USAGE: .*CN=TLS Server.*extended key usage \(serverAuth\)/],
  ];
  for (const [args, re] of cases) {
    const r = fata(['sign', ...args, img]);
    assert.equal(r.status, 1, r.err);
    assert.match(r.err, re);
    assert.ok(!existsSync(`${img}.sig`), 'no signature is written');
  }
});

/** Each bad image beside the reason it is refused with, made from image `src`. */
function badImages(src: string, tag: string): { name: string; image: string; flags: string[]; reason: RegExp }[] {
  const signed = (name: string, signer: Issued, chain = [inter.cert]): string => {
    const img = copyImage(src, `${tag}-${name}.fata`);
    pki.opensslSign(img, signer, chain);
    return img;
  };
  const flipped = signed('flipped', rsa);
  const b = readFileSync(flipped);
  b[b.length - 10]! ^= 0x40;
  writeFileSync(flipped, b);
  const badSig = signed('bad-sig', rsa);
  const s = readFileSync(`${badSig}.sig`);
  s[s.length - 1]! ^= 1; // The last octet of the RSA signature value.
  writeFileSync(`${badSig}.sig`, s);
  return [
    {
      name: 'unsigned',
      image: copyImage(src, `${tag}-unsigned.fata`),
      flags: [],
      reason: /FATA_UNSIGNED: .* is not signed: there is no .*\.sig/,
    },
    {
      name: 'flipped byte in the image',
      image: flipped,
      flags: [],
      reason: /FATA_SIGNATURE_MISMATCH: the signature in .* does not verify/,
    },
    { name: 'flipped byte in the signature', image: badSig, flags: [], reason: /FATA_SIGNATURE_MISMATCH/ },
    {
      name: 'wrong CA',
      image: signed('wrong-ca', rsa),
      flags: ['--trust', other.cert],
      reason: /FATA_SIGNER_UNTRUSTED: .* signed by CN=RSA Signer .* does not chain to a certificate in/,
    },
    {
      name: 'no intermediate carried',
      image: signed('no-inter', ec, []),
      flags: [],
      reason: /FATA_SIGNER_UNTRUSTED: .*issued by CN=Fata Test Intermediate/,
    },
    {
      name: 'expired signer',
      image: signed('expired', expired),
      flags: [],
      reason: /FATA_SIGNER_EXPIRED: the signer certificate CN=Expired Signer/,
    },
    {
      name: 'signer not yet valid',
      image: signed('future', future),
      flags: [],
      reason: /FATA_SIGNER_NOT_YET_VALID: .*CN=Future Signer .*not valid until/,
    },
    {
      name: 'revoked signer',
      image: signed('revoked', revoked),
      flags: ['--crl', crl],
      reason: /FATA_SIGNER_REVOKED: the certificate CN=Revoked Signer \(serial [0-9A-F]+\) was revoked on .* by CN=Fata Test Intermediate/,
    },
    {
      name: 'wrong key usage',
      image: signed('tls', tls),
      flags: [],
      reason: /FATA_SIGNER_KEY_USAGE: the signer CN=TLS Server .* may not sign images/,
    },
  ];
}

/** `flags` with the default trust anchor unless they name one. */
const withTrust = (flags: string[]): string[] => (flags.includes('--trust') ? flags : ['--trust', root.cert, ...flags]);

test('fata verify refuses each bad image with its reason, and accepts the revoked signer without the CRL', () => {
  for (const c of badImages(images.node, 'verify')) {
    const r = fata(['verify', ...withTrust(c.flags), c.image]);
    assert.equal(r.status, 1, `${c.name}: ${r.out}`);
    assert.match(r.err, c.reason, c.name);
    assert.equal(r.out, '', c.name);
  }
  // The CRL is what refuses the revoked signer: without it, its signature is good.
  const revokedImage = join(dir, 'verify-revoked.fata');
  assert.equal(verify(revokedImage).status, 0);
});

test('fata verify refuses a signature that carries its own content, one without the signer, and bytes that are no CMS', () => {
  const sign = (name: string, extra: string[], signer = ec): string => {
    const img = copyImage(images.node, `verify-${name}.fata`);
    execFileSync(
      'openssl',
      ['cms', '-sign', '-binary', '-in', img, '-signer', signer.cert, '-inkey', signer.key, '-outform', 'DER'].concat([
        '-out',
        `${img}.sig`,
        ...extra,
      ]),
    );
    return img;
  };
  // Embedded content: it would verify over itself, whatever the image is.
  const embedded = sign('embedded', ['-nodetach', '-certfile', inter.cert]);
  assert.match(verify(embedded).err, /FATA_BAD_SIGNATURE: .* is not a detached CMS signature with one signer \(it carries its own content/);
  assert.match(verify(sign('nocerts', ['-nocerts'])).err, /FATA_BAD_SIGNATURE: .*cannot be checked: .*without -nocerts/);
  const garbage = copyImage(images.node, 'verify-garbage.fata');
  writeFileSync(`${garbage}.sig`, 'not a signature');
  assert.match(verify(garbage).err, /FATA_BAD_SIGNATURE: .* is not a detached CMS signature/);
  // ECDSA: one flipped bit in the signature value (DER, so its last octet is the end of s).
  const ecFlipped = sign('ec-flipped', ['-certfile', inter.cert]);
  const sig = readFileSync(`${ecFlipped}.sig`);
  sig[sig.length - 1]! ^= 1;
  writeFileSync(`${ecFlipped}.sig`, sig);
  assert.match(verify(ecFlipped).err, /FATA_SIGNATURE_MISMATCH/);
  // Without the flip, the same steps give a good signature: the refusals above are the flaws', not the helper's.
  assert.equal(verify(sign('ec-good', ['-certfile', inter.cert])).status, 0);
});

test('--crl: a revoked intermediate is refused by name; a stale CRL, one from outside the chain and an unreadable file are refused', () => {
  const img = copyImage(images.node, 'crl-cases.fata');
  pki.opensslSign(img, rsa, [inter.cert]);
  const crlCase = (file: string) => verify(img, root.cert, ['--crl', file]);
  // The root's CRL, listing another intermediate: this chain passes; then one listing this chain's intermediate.
  const other2 = pki.issue(root, 'Another Intermediate', 'inter');
  pki.revoke(root, other2);
  assert.equal(crlCase(pki.crl(root)).status, 0);
  const lone = pki.issue(root, 'Revoked Intermediate', 'inter');
  const underRevoked = pki.issue(lone, 'Signer Under Revoked', 'signer', { kind: 'ec' });
  pki.revoke(root, lone);
  const both = join(dir, 'both.crl.pem');
  writeFileSync(both, readFileSync(pki.crl(root), 'utf8') + readFileSync(crl, 'utf8'));
  const img2 = copyImage(images.node, 'crl-revoked-inter.fata');
  pki.opensslSign(img2, underRevoked, [lone.cert]);
  assert.equal(verify(img2).status, 0, 'without the CRL the chain is good');
  const r = verify(img2, root.cert, ['--crl', both]);
  assert.equal(r.status, 1);
  assert.match(
    r.err,
    /FATA_SIGNER_REVOKED: the certificate CN=Revoked Intermediate \(serial [0-9A-F]+\) was revoked on .* by CN=Fata Test Root/,
  );
  assert.match(
    crlCase(pki.crl(inter, { nextUpdate: -1 })).err,
    /FATA_CRL_STALE: the revocation list from CN=Fata Test Intermediate .* was due for renewal on/,
  );
  const foreign = pki.root('Foreign CRL Root');
  assert.match(crlCase(pki.crl(foreign)).err, /FATA_BAD_CRL: the revocation list in .* is not signed by a CA on the signer's chain/);
  assert.match(crlCase(join(dir, 'missing.crl.pem')).err, /FATA_BAD_CRL: cannot read the revocation list/);
  assert.match(crlCase(root.cert).err, /FATA_BAD_CRL: .* holds no readable revocation list/);
  // A current CRL from the same CA does not refuse it: the refusals above are the CRLs'.
  assert.equal(crlCase(pki.crl(inter, { nextUpdate: 5 })).status, 0);
});

/**
 * `bin/fata ARGS`, with its process tree sampled every few milliseconds while it runs: every command line
 * below it that ran an engine (Node running the bootstrap, which the JavaScript and native tenders both start).
 */
async function watched(args: string[]): Promise<{ status: number | null; out: string; err: string; engines: string[] }> {
  const child = spawn(FATA, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '',
    err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d;
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d;
  });
  const engines = new Set<string>();
  const sample = (): void => {
    for (const pid of [child.pid!, ...descendants(child.pid!)]) {
      try {
        // An engine is Node running the bootstrap (the native tender's own command line names it too, as an argument).
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        if (/\/node$/.test(argv[0]!) && argv.some((a) => a.endsWith('bootstrap.cjs') || a.endsWith('bootstrap.ts')))
          engines.add(argv.join(' '));
      } catch {
        /* gone */
      }
    }
  };
  const timer = setInterval(sample, 2);
  const status = await new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  clearInterval(timer);
  return { status, out, err, engines: [...engines] };
}

for (const target of ['node', 'spt'] as const) {
  test(`fata run --trust (${target}${target === 'spt' ? ', through the native tender' : ''}) refuses each bad image before any engine starts`, async () => {
    const args = ['--greeting=signed hello'];
    // The control: a good signature boots, through the CLI (which says who signed) and, on spt, an engine.
    const good = copyImage(images[target], `run-${target}-good.fata`);
    pki.opensslSign(good, rsa, [inter.cert]);
    const ok = await watched(['run', '--trust', root.cert, '--crl', crl, good, ...args]);
    assert.equal(ok.status, 0, ok.err);
    assert.match(ok.out + ok.err, GREETING);
    assert.match(ok.err, /fata run: signed by CN=RSA Signer \(issuer CN=Fata Test Intermediate, serial [0-9A-F]+, valid until/);
    if (target === 'spt') {
      assert.ok(ok.engines.length > 0, 'the sampler sees the engine of a good run');
      // The engine is told the SHA-256 of the bytes checked, and refuses others (the next test).
      const sha = createHash('sha256').update(readFileSync(good)).digest('hex');
      assert.ok(
        ok.engines.some((e) => e.includes(`"imageSha256":"${sha}"`)),
        ok.engines.join('\n'),
      );
    }
    for (const c of badImages(images[target], `run-${target}`)) {
      const r = await watched(['run', ...withTrust(c.flags), c.image, ...args]);
      assert.equal(r.status, 1, `${c.name}: ${r.out}${r.err}`);
      assert.match(r.err, c.reason, c.name);
      assert.doesNotMatch(r.out + r.err, GREETING, `${c.name}: the service ran`);
      assert.deepEqual(r.engines, [], `${c.name}: an engine started`);
    }
  });
}

test('fata run: --trust=FILE also works, --crl needs --trust, and a missing trust file is named', () => {
  const img = copyImage(images.node, 'run-flags.fata');
  pki.opensslSign(img, ec, [inter.cert]);
  const eq = fata(['run', `--trust=${root.cert}`, img, '--greeting=signed hello']);
  assert.equal(eq.status, 0, eq.err);
  assert.match(eq.out + eq.err, GREETING);
  const noTrust = fata(['run', '--crl', crl, img]);
  assert.equal(noTrust.status, 1);
  assert.match(noTrust.err, /--crl is checked with --trust/);
  const missing = fata(['run', '--trust', join(dir, 'nope.pem'), img]);
  assert.equal(missing.status, 1);
  assert.match(missing.err, /FATA_BAD_TRUST: cannot read trust file .*nope\.pem/);
});

test('the spt engine refuses an image whose bytes are not the ones fata run --trust checked (replaced in between)', () => {
  const img = copyImage(images.spt, 'engine-hash.fata');
  const sha = createHash('sha256').update(readFileSync(img)).digest('hex');
  // The bootstrap, started as the JavaScript tender starts it (no devices), once with the hash of these bytes
  // and once with the hash of other bytes: what it finds when the file was swapped after the check.
  const spec = (imageSha256: string): string =>
    encodeLaunchSpec({
      image: img,
      imageSha256,
      nets: [],
      blocks: [],
      bootArgs: ['--greeting=signed hello'],
      native: false,
      user: '',
      memMb: 256,
      cgroup: undefined,
      impair: new Map(),
    });
  // As run.ts spawns it: from a thread where io_uring is refused, with the engine's environment.
  const tender = `const { denyIoUringForChildren } = await import(${JSON.stringify(join(ROOT, 'src/targets/spt/seccomp.ts'))});
    const r = denyIoUringForChildren(); if (r !== 'ok') throw new Error(r);
    const { spawnSync } = await import('node:child_process');
    const c = spawnSync(process.execPath, process.argv.slice(1), { stdio: 'inherit', env: { UV_USE_IO_URING: '0', TZ: 'UTC' } });
    process.exit(c.status ?? 255);`;
  const start = (imageSha256: string) =>
    spawnSync(process.execPath, ['--input-type=module', '-e', tender, join(ROOT, 'src/tender/bootstrap.ts'), spec(imageSha256)], {
      encoding: 'utf8',
      timeout: 60_000,
    });
  const same = start(sha);
  assert.equal(same.status, 0, same.stderr);
  assert.match(same.stdout + same.stderr, GREETING);
  const swapped = start(createHash('sha256').update('another image').digest('hex'));
  assert.equal(swapped.status, 1);
  assert.match(swapped.stderr, /FATA_IMAGE_CHANGED: .*engine-hash\.fata changed after fata run checked its signature/);
  assert.doesNotMatch(swapped.stdout + swapped.stderr, GREETING);
  // The launch spec carries the hash only as 64 hex digits.
  const good = JSON.parse(spec(sha));
  assert.equal((parseLaunchSpec(JSON.stringify(good)) as { imageSha256?: string }).imageSha256, sha);
  assert.match(String(parseLaunchSpec(JSON.stringify({ ...good, imageSha256: 'not a hash' }))), /malformed launch spec \(imageSha256\)/);
});
