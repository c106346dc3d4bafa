/**
 * The daemon's TLS endpoint (docs/daemon.md, Remote management): mutual TLS 1.3 against the operator's CA
 * (`--ca`), the same protocol as the Unix socket, and who a client is: the owner its certificate chain delegates
 * to it (../build/delegation.ts checks the chain), with the quotas of every delegation above it and the commands
 * its certificate names. The handshake refuses a client without a certificate, or with one that does not chain
 * to the CA or is out of its dates; the first request, `hello` with the client's intermediates, settles the rest.
 */
import { type X509Certificate, X509Certificate as Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TlsOptions, TLSSocket } from 'node:tls';
import { clientAuthority } from '../build/delegation.ts';
import { readCertificates } from '../build/trust.ts';
import { FataError } from '../host/errors.ts';
import type { Owner } from './create.ts';
import { ADMIN, DEFAULT_OWNER, type Who } from './owners.ts';

export interface TlsEndpoint {
  readonly host: string;
  readonly port: number;
  /** The operator's CA (one or more anchors, PEM): client chains must end there. */
  readonly ca: string;
  /** The daemon's own certificate (with its chain) and key. */
  readonly cert: string;
  readonly key: string;
  /** CRLs (PEM, any number, from any CA on client chains), read again for every connection. */
  readonly crl?: string;
}

/** Prefix of the owners that remote delegations make: `cert:alice/team1` (local owners never contain ':' or '/'). */
export const REMOTE_OWNER_PREFIX = 'cert:';

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new FataError('FATA_BAD_TLS', `cannot read ${what} '${path}' (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
}

/** The server's TLS options, the files read and checked now (a wrong file is said at start, not at the first client). */
export function tlsOptions(o: TlsEndpoint): { options: TlsOptions; anchors: X509Certificate[] } {
  const anchors = readCertificates(o.ca, '--ca file', 'FATA_BAD_TLS');
  const cert = read(o.cert, 'the daemon certificate (--cert)');
  const key = read(o.key, 'the daemon key (--key)');
  if (o.crl) read(o.crl, 'the revocation list (--tls-crl)');
  return {
    options: {
      cert,
      key,
      ca: anchors.map((a) => a.toString()),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
    },
    anchors,
  };
}

/** The certificates a hello carries (base64 DER); a refusal when they are not that (untrusted input). */
function carried(chain: unknown): X509Certificate[] {
  if (chain === undefined) return [];
  if (!Array.isArray(chain) || chain.length > 16 || !chain.every((c) => typeof c === 'string'))
    throw new FataError('FATA_PROTOCOL', 'hello.chain is a list of at most 16 base64 DER certificates (the intermediates)');
  try {
    return chain.map((c) => new Certificate(Buffer.from(c, 'base64')));
  } catch {
    throw new FataError('FATA_PROTOCOL', 'hello.chain holds something that is not a base64 DER certificate');
  }
}

/**
 * Who the client on `s` is, once its hello's `chain` is checked: the owner its delegations make
 * (`cert:` and their names from the top, `/` between), within each delegation above it; or the administrator
 * when the operator's CA issued its certificate directly. Refuses with a FataError naming the reason.
 */
export async function remoteWho(
  s: TLSSocket,
  chain: unknown,
  o: TlsEndpoint,
  anchors: readonly X509Certificate[],
  hasPolicy: boolean,
): Promise<Who> {
  const leaf = s.getPeerX509Certificate();
  if (!leaf) throw new FataError('FATA_CERT_UNTRUSTED', 'no client certificate');
  const a = await clientAuthority(leaf, carried(chain), anchors, { crl: o.crl });
  if (a.delegations.length === 0) return { ...(hasPolicy ? ADMIN : { owner: DEFAULT_OWNER, admin: true }), commands: a.commands };
  let scope: Owner | undefined;
  for (const d of a.delegations) {
    const name = scope ? `${scope.name}/${d.name}` : `${REMOTE_OWNER_PREFIX}${d.name}`;
    scope = { name, limits: d.policy, within: scope ? [{ name: scope.name, limits: scope.limits }, ...(scope.within ?? [])] : [] };
  }
  return { owner: scope!.name, admin: false, scope, commands: a.commands };
}
