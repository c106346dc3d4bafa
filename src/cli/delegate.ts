/**
 * `fata cert ca | delegate | client | server | crl`: the certificates of remote management (docs/trust.md,
 * Delegation) — the operator's CA, delegations that carry a policy, client certificates that name commands, the
 * daemon's TLS certificate, and revocation lists. The work is src/build/delegation.ts's.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { type DelegationPolicy, type IssueKind, issueCertificate, issueCrl, REMOTE_COMMANDS } from '../build/delegation.ts';
import { readCertificates } from '../build/trust.ts';
import { parseSize } from '../daemon/commands.ts';
import { FataError } from '../host/errors.ts';

export const DELEGATE_USAGE = `usage: fata cert ca --name NAME [POLICY] [--days 3650] --out PREFIX
       fata cert delegate --ca-cert CA.pem --ca-key CA.key --name NAME [POLICY] [--days 365] --out PREFIX
       fata cert client --ca-cert CA.pem --ca-key CA.key --name NAME [--commands all|CMD,…] [--days 90] --out PREFIX
       fata cert server --ca-cert CA.pem --ca-key CA.key --name HOST[,HOST…] [--days 365] --out PREFIX
       fata cert crl --ca-cert CA.pem --ca-key CA.key [--revoke CERT.pem|SERIAL]… [--crl OLD.pem] [--days 30] --out CRL.pem
  POLICY: [--unikernels N] [--memory MB] [--bridges BR,…] [--volume-storage SIZE]
  Each writes PREFIX.pem (the certificate, then its issuer's chain: what a client sends) and PREFIX.key (a new
  P-256 key, mode 0600); it never overwrites. ca: the operator's own CA (fata daemon --ca), with an optional
  policy that bounds every delegation. delegate: a CA for one owner, its policy within the issuer's (a limit left
  out is the issuer's); it may delegate further. client: the certificate a client connects with (fata remote),
  naming its commands; default all:
    ${REMOTE_COMMANDS.join(', ')}
  server: the daemon's TLS certificate (fata daemon --cert), for the host names and addresses clients connect
  to. crl: a revocation list from the issuer (fata daemon --tls-crl), listing the given certificates and those
  of --crl.`;

const bad = (msg: string): FataError => new FataError('FATA_BAD_FLAGS', `fata cert: ${msg}\n${DELEGATE_USAGE}`);

const FLAGS = [
  'name',
  'ca-cert',
  'ca-key',
  'days',
  'out',
  'unikernels',
  'memory',
  'bridges',
  'volume-storage',
  'commands',
  'revoke',
  'crl',
];

function parse(argv: readonly string[]): Map<string, string[]> {
  const o = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]!);
    if (!m || !FLAGS.includes(m[1]!)) throw bad(`unexpected '${argv[i]}'`);
    const v = m[2] ?? argv[++i];
    if (v === undefined || v === '') throw bad(`--${m[1]} needs a value`);
    o.set(m[1]!, [...(o.get(m[1]!) ?? []), v]);
  }
  return o;
}

const whole = (flag: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw bad(`--${flag} ${v} is not a whole number`);
  return Number(v);
};

function policyOf(o: Map<string, string[]>): DelegationPolicy | undefined {
  const one = (k: string): string | undefined => o.get(k)?.at(-1);
  const vs = one('volume-storage');
  const bytes = vs === undefined ? undefined : parseSize(vs);
  if (vs !== undefined && bytes === undefined) throw bad(`--volume-storage ${vs} is not a size; write it like 10G`);
  const bridges = one('bridges')?.split(',').filter(Boolean);
  const p: DelegationPolicy = {
    ...(one('unikernels') !== undefined ? { maxUnikernels: whole('unikernels', one('unikernels')) } : {}),
    ...(one('memory') !== undefined ? { maxMemoryMb: whole('memory', one('memory')) } : {}),
    ...(bridges ? { bridges } : {}),
    ...(bytes !== undefined ? { maxVolumeBytes: bytes } : {}),
  };
  return Object.keys(p).length ? p : undefined;
}

export const policyText = (p: DelegationPolicy | undefined): string =>
  p
    ? [
        `unikernels ${p.maxUnikernels ?? 'any'}`,
        `memory ${p.maxMemoryMb === undefined ? 'any' : `${p.maxMemoryMb} MB`}`,
        `bridges ${p.bridges ? p.bridges.join(',') || 'none' : 'any'}`,
        `volume storage ${p.maxVolumeBytes === undefined ? 'any' : `${p.maxVolumeBytes} bytes`}`,
      ].join(', ')
    : 'no limits of its own';

function write(path: string, text: string, mode: number): void {
  if (existsSync(path)) throw new FataError('FATA_EXISTS', `${path} exists; choose another --out or move it away`);
  writeFileSync(path, text, { mode, flag: 'wx' });
}

/** `fata cert ca|delegate|client|server|crl ARGS`; says what it wrote on stdout. */
export async function delegateCommand(sub: string, argv: readonly string[], out: (s: string) => void): Promise<number> {
  const o = parse(argv);
  const one = (k: string): string | undefined => o.get(k)?.at(-1);
  const outPath = one('out');
  if (!outPath) throw bad('give --out');
  const issuer = one('ca-cert') && one('ca-key') ? { cert: one('ca-cert')!, key: one('ca-key')! } : undefined;
  if (sub !== 'ca' && !issuer) throw bad(`fata cert ${sub} needs --ca-cert and --ca-key (the issuer)`);
  if (sub === 'crl') {
    const serials = (o.get('revoke') ?? []).map((r) => (existsSync(r) ? readCertificates(r, 'certificate to revoke')[0]!.serialNumber : r));
    const days = whole('days', one('days')) ?? 30;
    const crl = await issueCrl({ issuer: issuer!, serials, previous: one('crl'), days });
    write(outPath, crl.pem, 0o644);
    out(`${outPath}: a CRL from ${issuer!.cert} for ${days} days, revoking ${crl.revoked.join(', ') || 'nothing'}`);
    return 0;
  }
  const name = one('name');
  if (!name) throw bad('give --name');
  const kinds: Record<string, IssueKind> = { ca: 'ca', delegate: 'delegate', client: 'client', server: 'server' };
  const kind = kinds[sub]!;
  if ((kind === 'client' || kind === 'server') && policyOf(o)) throw bad(`a ${kind} certificate carries no policy; its issuer's applies`);
  if (kind !== 'client' && o.has('commands')) throw bad('--commands goes with fata cert client');
  const defaults = { ca: 3650, delegate: 365, client: 90, server: 365 };
  const commands = one('commands');
  const issued = await issueCertificate({
    kind,
    name: kind === 'server' ? name.split(',')[0]! : name,
    ...(issuer && kind !== 'ca' ? { issuer } : {}),
    days: whole('days', one('days')) ?? defaults[kind],
    ...(kind === 'ca' || kind === 'delegate' ? { policy: policyOf(o) } : {}),
    ...(kind === 'client' ? { commands: !commands || commands === 'all' ? REMOTE_COMMANDS : commands.split(',').filter(Boolean) } : {}),
    ...(kind === 'server' ? { hosts: name.split(',').filter(Boolean) } : {}),
  });
  for (const f of [`${outPath}.key`, `${outPath}.pem`])
    if (existsSync(f)) throw new FataError('FATA_EXISTS', `${f} exists; choose another --out or move it away`);
  write(`${outPath}.key`, issued.keyPem, 0o600);
  write(`${outPath}.pem`, issued.certPem, 0o644);
  out(
    `${outPath}.pem: ${issued.subject} (serial ${issued.serial}), valid until ${issued.notAfter.toISOString()}` +
      (kind === 'ca' || kind === 'delegate' ? `; policy: ${policyText(issued.policy)}` : '') +
      (kind === 'client' ? `; commands: ${!commands || commands === 'all' ? REMOTE_COMMANDS.join(',') : commands}` : '') +
      `\n${outPath}.key: its key (keep it private)`,
  );
  return 0;
}
