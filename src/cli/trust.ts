/**
 * `fata sign`, `fata verify` and `fata cert check` (docs/trust.md): the
 * flags and what they print; the work is src/build/trust.ts's.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { FataError } from '../host/errors.ts';
import { dn, signImage, verifyImage } from '../build/trust.ts';

export const SIGN_USAGE = `usage: fata sign --key KEY.pem --cert CERT.pem [--chain CHAIN.pem] IMAGE
  Writes IMAGE.sig: a detached CMS signature (DER) over the image's bytes, by the key of CERT.pem (RSA or ECDSA),
  carrying CERT.pem and the intermediates in CHAIN.pem. openssl cms -verify -binary -inform DER -content IMAGE
  -in IMAGE.sig -CAfile CA.pem accepts it.`;

export const VERIFY_USAGE = `usage: fata verify --trust CA.pem [--crl CRL.pem] IMAGE
  Checks IMAGE.sig: the signature over IMAGE, the signer's chain to a certificate in CA.pem, every certificate's
  dates now, the signer's key usage (digitalSignature; code signing or any purpose if it names purposes) and,
  with --crl, that no certificate on the chain is revoked. Says who signed; exit 1 with the reason otherwise.`;

export const CERT_USAGE = `usage: fata cert check [--days N] CERT.pem
  Prints the certificate's subject, issuer, validity and days left. Exit 0 when it is valid for N more days
  (default 30, as openssl x509 -checkend 2592000), 1 when it expires within them (or has), 2 when it is unreadable.`;

type Say = (s: string) => void;

/** `--name VALUE` or `--name=VALUE` pairs and the remaining words; an unknown flag is an error. */
function options(argv: readonly string[], names: readonly string[]): { opts: Map<string, string>; rest: string[] } | { error: string } {
  const opts = new Map<string, string>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^--([a-z]+)(?:=(.*))?$/.exec(a);
    if (!m) {
      rest.push(a);
      continue;
    }
    if (!names.includes(m[1]!)) return { error: `unknown flag '${a}'` };
    const v = m[2] ?? argv[++i];
    if (v === undefined || v === '') return { error: `--${m[1]} needs a value` };
    opts.set(m[1]!, v);
  }
  return { opts, rest };
}

export async function signCommand(argv: readonly string[], say: Say): Promise<number> {
  const o = options(argv, ['key', 'cert', 'chain']);
  if ('error' in o || o.rest.length !== 1 || !o.opts.has('key') || !o.opts.has('cert')) {
    say(`fata sign: ${'error' in o ? o.error : 'give --key, --cert and one image'}\n${SIGN_USAGE}`);
    return 1;
  }
  const image = o.rest[0]!;
  const r = await signImage(image, { key: o.opts.get('key')!, cert: o.opts.get('cert')!, chain: o.opts.get('chain') });
  process.stdout.write(`${r.path}: signed by ${r.subject}\n`);
  return 0;
}

export async function verifyCommand(argv: readonly string[], say: Say): Promise<number> {
  const o = options(argv, ['trust', 'crl']);
  if ('error' in o || o.rest.length !== 1 || !o.opts.has('trust')) {
    say(`fata verify: ${'error' in o ? o.error : 'give --trust and one image'}\n${VERIFY_USAGE}`);
    return 1;
  }
  const image = o.rest[0]!;
  let bytes: Buffer;
  try {
    bytes = readFileSync(image);
  } catch (e) {
    throw new FataError('FATA_NO_IMAGE', `cannot read the image '${image}' (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  const s = await verifyImage(image, bytes, { trust: o.opts.get('trust')!, crl: o.opts.get('crl') });
  process.stdout.write(
    `${image}: good signature\n` +
      `  signer:    ${s.subject}\n  issuer:    ${s.issuer}\n  serial:    ${s.serial}\n` +
      `  not after: ${s.notAfter.toISOString()}\n` +
      (s.signedAt ? `  signed at: ${s.signedAt.toISOString()} (as the signer says)\n` : '') +
      `  chain:     ${s.chain.join(' <- ')} (trusted)\n` +
      (o.opts.has('crl') ? `  revocation: none on the chain is listed in ${o.opts.get('crl')}\n` : ''),
  );
  return 0;
}

const DAY_MS = 86_400_000;

/** `fata cert check`: 0 valid for DAYS more days, 1 expiring within them or expired, 2 unreadable or misused. */
export function certCommand(argv: readonly string[], say: Say): number {
  const [sub, ...args] = argv;
  const o = options(args, ['days']);
  if (sub !== 'check' || 'error' in o || o.rest.length !== 1) {
    say(`fata cert: ${'error' in o ? o.error : 'fata cert check [--days N] CERT.pem'}\n${CERT_USAGE}`);
    return 2;
  }
  const days = Number(o.opts.get('days') ?? 30);
  if (!Number.isInteger(days) || days < 0) {
    say(`fata cert check: --days ${o.opts.get('days')} is not a whole number of days\n${CERT_USAGE}`);
    return 2;
  }
  const file = o.rest[0]!;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(file));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    say(`fata: error FATA_BAD_CERT: cannot read a certificate from '${file}' (${why}); give a PEM or DER X.509 certificate`);
    return 2;
  }
  const now = Date.now();
  const left = (cert.validToDate.getTime() - now) / DAY_MS;
  process.stdout.write(
    `subject:   ${dn(cert.subject)}\nissuer:    ${dn(cert.issuer)}\n` +
      `valid:     ${cert.validFromDate.toISOString()} to ${cert.validToDate.toISOString()}\n` +
      `days left: ${Math.max(0, Math.floor(left))}\n`,
  );
  if (left < 0) {
    say(`fata cert check: ${file} expired ${Math.floor(-left)} days ago; renew it`);
    return 1;
  }
  if (left < days) {
    say(`fata cert check: ${file} expires within ${days} days (in ${Math.floor(left)}); renew it`);
    return 1;
  }
  return 0;
}
