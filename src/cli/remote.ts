/**
 * `fata remote --cert C --key K --ca CA HOST:PORT COMMAND …`: the local client commands (create, list, console,
 * …) spoken to a daemon's TLS endpoint, with the same output; who the client may be and what it may do is in its
 * certificate chain (docs/daemon.md, Remote management).
 */
import { readFileSync } from 'node:fs';
import { readCertificates } from '../build/trust.ts';
import type { RemoteEndpoint } from '../daemon/client.ts';
import { CLIENT_COMMANDS, clientCommand } from '../daemon/commands.ts';
import { FataError } from '../host/errors.ts';

export const REMOTE_USAGE = `usage: fata remote --cert CERT.pem --key KEY.pem --ca CA.pem HOST:PORT COMMAND [ARGS…]
  Sends COMMAND (create, destroy, restart, update, list, info, console, stats, volume …, with the arguments and
  output of the local command) to the daemon listening with --tls on HOST:PORT, over mutual TLS 1.3.
  --cert  your client certificate, followed by the delegations' certificates above it (fata cert client writes
          them so); what you may do is the policy of those delegations and the commands your certificate names
  --key   its key
  --ca    the CA that issued the daemon's certificate (which must name HOST)
  IMAGE paths in create and update are paths on the daemon's host.`;

const bad = (msg: string): FataError => new FataError('FATA_BAD_FLAGS', `fata remote: ${msg}\n${REMOTE_USAGE}`);

/** `HOST:PORT` or `[IPv6]:PORT`. */
export function parseHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) return undefined;
  return { host: m[1] ?? m[2]!, port };
}

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new FataError('FATA_BAD_CERT', `cannot read ${what} '${path}' (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
}

/** The endpoint and credentials; a certificate of the client's own out of its dates is said here, before any connection. */
export function remoteEndpoint(flags: { cert: string; key: string; ca: string }, hostPort: string, now = new Date()): RemoteEndpoint {
  const at = parseHostPort(hostPort);
  if (!at) throw bad(`'${hostPort}' is not HOST:PORT (like fata.example.org:1025 or [::1]:1025)`);
  const certs = readCertificates(flags.cert, 'client certificate (--cert)');
  for (const c of certs) {
    if (c.validToDate < now)
      throw new FataError(
        'FATA_CERT_EXPIRED',
        `${flags.cert}: ${c.subject.replace(/\n/g, ', ')} expired on ${c.validToDate.toISOString()}; ask its issuer for a new certificate`,
      );
    if (c.validFromDate > now)
      throw new FataError(
        'FATA_CERT_NOT_YET_VALID',
        `${flags.cert}: ${c.subject.replace(/\n/g, ', ')} is not valid until ${c.validFromDate.toISOString()}`,
      );
  }
  readCertificates(flags.ca, 'CA file (--ca)');
  return {
    ...at,
    cert: read(flags.cert, 'the client certificate'),
    key: read(flags.key, 'the client key'),
    ca: read(flags.ca, 'the CA file'),
    chain: certs.slice(1).map((c) => c.raw.toString('base64')),
  };
}

export async function remoteCommand(argv: readonly string[], out: (s: string) => void, raw: (b: Uint8Array) => void): Promise<number> {
  const flags: Partial<Record<'cert' | 'key' | 'ca', string>> = {};
  let i = 0;
  for (; i < argv.length; i++) {
    const m = /^--(cert|key|ca)(?:=(.*))?$/.exec(argv[i]!);
    if (!m) break;
    const v = m[2] ?? argv[++i];
    if (!v) throw bad(`--${m[1]} needs a file`);
    flags[m[1] as 'cert' | 'key' | 'ca'] = v;
  }
  const [hostPort, cmd, ...rest] = argv.slice(i);
  if (!flags.cert || !flags.key || !flags.ca) throw bad('give --cert, --key and --ca before HOST:PORT');
  if (!hostPort || hostPort.startsWith('-')) throw bad(hostPort ? `unknown flag '${hostPort}'` : 'give HOST:PORT and a COMMAND');
  if (!cmd || !CLIENT_COMMANDS.has(cmd)) throw bad(`'${cmd ?? ''}' is not one of ${[...CLIENT_COMMANDS].join(', ')}`);
  const to = remoteEndpoint({ cert: flags.cert, key: flags.key, ca: flags.ca }, hostPort);
  return clientCommand(cmd, rest, out, raw, to);
}
