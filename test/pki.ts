/**
 * A small PKI made with Debian's openssl for the signing and certificate
 * tests: keys (RSA or ECDSA P-256), a self-signed root, certificates issued
 * by `openssl ca` with any validity window (past, future, N days) and
 * extension profile, revocation and CRLs. Everything lives in one temporary
 * folder the caller removes.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type KeyKind = 'rsa' | 'ec';

/** Extension profiles, as sections of the openssl configuration below. */
export type Profile = 'root' | 'inter' | 'signer' | 'signer_noeku' | 'signer_anyeku' | 'tls' | 'no_digital_signature';

export interface Issued {
  readonly name: string;
  readonly cert: string;
  readonly key: string;
  /** For a CA: its `openssl ca` configuration. */
  readonly config: string;
}

const EXTENSIONS = `
[ root ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ inter ]
basicConstraints = critical,CA:true,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ signer ]
basicConstraints = CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = codeSigning,emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ signer_noeku ]
basicConstraints = CA:false
keyUsage = critical,digitalSignature,nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ signer_anyeku ]
basicConstraints = CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = anyExtendedKeyUsage
[ tls ]
basicConstraints = CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
[ no_digital_signature ]
basicConstraints = CA:false
keyUsage = critical,keyEncipherment
`;

const openssl = (args: string[], cwd?: string): string => execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: 'pipe' });

/** `YYMMDDHHMMSSZ` for openssl ca's -startdate/-enddate, `days` from now (negative: in the past). */
function stamp(days: number): string {
  const d = new Date(Date.now() + days * 86_400_000);
  return `${d.toISOString().slice(2, 19).replace(/[-:T]/g, '')}Z`;
}

export class Pki {
  readonly dir: string;
  private serial = 0x1000;
  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
  }

  key(name: string, kind: KeyKind): string {
    const path = join(this.dir, `${name}.key`);
    openssl(
      kind === 'rsa'
        ? ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', path]
        : ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path],
    );
    return path;
  }

  /** The configuration `openssl ca` needs for CA `name`: its database, serial and CRL number, and the profiles. */
  private caConfig(name: string, cert: string, key: string): string {
    const dir = join(this.dir, `${name}.ca`);
    mkdirSync(join(dir, 'new'), { recursive: true });
    writeFileSync(join(dir, 'index.txt'), '');
    writeFileSync(join(dir, 'crlnumber'), '01\n');
    this.serial += 0x100; // Each CA its own range, so that serials tell certificates apart in the tests' output.
    writeFileSync(join(dir, 'serial'), `${this.serial.toString(16)}\n`);
    const config = join(dir, 'openssl.cnf');
    writeFileSync(
      config,
      `[ ca ]\ndefault_ca = this\n[ this ]\ndatabase = ${dir}/index.txt\nnew_certs_dir = ${dir}/new\n` +
        `crlnumber = ${dir}/crlnumber\nserial = ${dir}/serial\ncertificate = ${cert}\nprivate_key = ${key}\ndefault_md = sha256\n` +
        `policy = any\nunique_subject = no\nemail_in_dn = no\ndefault_crl_days = 30\n[ any ]\ncommonName = supplied\n` +
        `[ req ]\ndistinguished_name = dn\n[ dn ]\n${EXTENSIONS}`,
    );
    return config;
  }

  /** A self-signed root CA, valid `days` (from now). */
  root(name: string, kind: KeyKind = 'rsa', days = 3650): Issued {
    const key = this.key(name, kind);
    const cert = join(this.dir, `${name}.pem`);
    const config = this.caConfig(name, cert, key);
    openssl(
      ['req', '-x509', '-new', '-key', key, '-subj', `/CN=${name}`, '-days', String(days), '-config', config].concat([
        '-extensions',
        'root',
        '-out',
        cert,
      ]),
    );
    return { name, cert, key, config };
  }

  /**
   * A certificate for `name` issued by `ca` with `profile`, valid from `from` to `to` days from now
   * (negative: in the past). A CA profile (inter) gets its own `openssl ca` configuration.
   */
  issue(ca: Issued, name: string, profile: Profile, opts: { kind?: KeyKind; from?: number; to?: number } = {}): Issued {
    const key = this.key(name, opts.kind ?? 'rsa');
    const csr = join(this.dir, `${name}.csr`);
    const cert = join(this.dir, `${name}.pem`);
    openssl(['req', '-new', '-key', key, '-subj', `/CN=${name}`, '-config', ca.config, '-out', csr]);
    openssl([
      'ca',
      '-batch',
      '-config',
      ca.config,
      '-extensions',
      profile,
      '-notext',
      '-in',
      csr,
      '-out',
      cert,
      '-startdate',
      stamp(opts.from ?? -1),
      '-enddate',
      stamp(opts.to ?? 365),
    ]);
    const config = profile === 'inter' ? this.caConfig(name, cert, key) : ca.config;
    return { name, cert, key, config };
  }

  /** Marks `cert` revoked in `ca`'s database (the next `crl` lists it). */
  revoke(ca: Issued, cert: Issued): void {
    openssl(['ca', '-batch', '-config', ca.config, '-revoke', cert.cert]);
  }

  /** `ca`'s CRL, next update in 30 days (or `nextUpdate` days from now: negative, a stale CRL). */
  crl(ca: Issued, opts: { nextUpdate?: number } = {}): string {
    const out = join(this.dir, `${ca.name}${opts.nextUpdate === undefined ? '' : `.next${opts.nextUpdate}`}.crl.pem`);
    const dates =
      opts.nextUpdate === undefined ? [] : ['-crl_lastupdate', stamp(opts.nextUpdate - 30), '-crl_nextupdate', stamp(opts.nextUpdate)];
    openssl(['ca', '-batch', '-config', ca.config, '-gencrl', '-out', out, ...dates]);
    return out;
  }

  /** A detached CMS signature of `file` by `signer`, made by openssl as the muen.sk pipeline does. */
  opensslSign(file: string, signer: Issued, chain: string[] = []): string {
    const out = `${file}.sig`;
    const args = ['cms', '-sign', '-binary', '-in', file, '-signer', signer.cert, '-inkey', signer.key, '-outform', 'DER', '-out', out];
    for (const c of chain) args.push('-certfile', c);
    openssl(args);
    return out;
  }

  /** openssl's verdict on a detached signature: its exit status and what it said. */
  opensslVerify(file: string, ca: string): { ok: boolean; output: string } {
    try {
      const out = execFileSync(
        'openssl',
        ['cms', '-verify', '-binary', '-inform', 'DER', '-content', file, '-in', `${file}.sig`, '-CAfile', ca, '-out', '/dev/null'],
        { encoding: 'utf8', stdio: 'pipe' },
      );
      return { ok: true, output: out };
    } catch (e) {
      const err = e as { stderr?: string };
      return { ok: false, output: String(err.stderr ?? e) };
    }
  }
}

/**
 * A self-signed ECDSA P-256 certificate and its key, `DIR/PREFIX-cert.pem` and `DIR/PREFIX-key.pem`
 * (openssl req -x509), for a test server: `cn` its subject, `san` its subjectAltName (`IP:10.0.0.1`,
 * `DNS:a.test,DNS:b.test`).
 */
export function selfSigned(dir: string, prefix: string, cn: string, san: string, days = 2): { cert: string; key: string } {
  const cert = join(dir, `${prefix}-cert.pem`),
    key = join(dir, `${prefix}-key.pem`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', String(days)].concat([
      '-subj',
      `/CN=${cn}`,
      '-addext',
      `subjectAltName=${san}`,
      '-keyout',
      key,
      '-out',
      cert,
    ]),
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return { cert, key };
}
