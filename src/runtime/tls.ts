/**
 * TLS for services, through node:tls (OpenSSL) over any portable stream:
 * Fata's TCP or the host's. `tlsServerStream` answers the handshake and
 * hands back a plaintext stream of the same shape, so a protocol server
 * (src/http) runs unchanged on either side of TLS.
 * @module fata/tls
 */
import { connect as tlsConnect, createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { TlsCarrier } from './tls-carrier.ts';
import { socketStream } from './socket-stream.ts';
import type { TcpStream } from './types.ts';

export interface TlsCertificate {
  readonly context: SecureContext;
  /** When the certificate expires (ms since the epoch) and whom it names. */
  readonly validToMs: number;
  readonly subject: string;
}

/** TLS 1.2 and 1.3 only; the certificate and key as PEM. Throws a clear error for a bad pair. */
export function tlsCertificate(certPem: string, keyPem: string): TlsCertificate {
  let x: X509Certificate;
  try {
    x = new X509Certificate(certPem);
  } catch (e) {
    throw new Error(`the TLS certificate is not valid PEM X.509: ${(e as Error).message}`);
  }
  let context: SecureContext;
  try {
    context = createSecureContext({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' });
  } catch (e) {
    throw new Error(`the TLS key does not fit the certificate or is unreadable: ${(e as Error).message}`);
  }
  return { context, validToMs: Date.parse(x.validTo), subject: x.subject.replace(/\n/g, ', ') };
}

/** Server-side TLS on `tcp`; `onError` hears failed handshakes (the connection is closed). */
export function tlsServerStream(tcp: TcpStream, cert: TlsCertificate, onError?: (e: Error) => void): TcpStream {
  const carrier = new TlsCarrier(tcp);
  const sock = new TLSSocket(carrier as unknown as Duplex, {
    isServer: true,
    secureContext: cert.context,
    ALPNProtocols: ['http/1.1'],
  });
  sock.on('error', (e) => {
    onError?.(e);
    sock.destroy();
  });
  return abortable(socketStream(sock, tcp.remote, tcp.remotePort, false), carrier, sock);
}

/**
 * The plaintext stream's `destroy` resets the TCP connection under it, as it does without TLS (the HTTP server aborts
 * a slow or stalled client so): Node's own destroy of the TLS socket only ever ends the carrier with a FIN.
 */
function abortable(s: TcpStream, carrier: TlsCarrier, sock: TLSSocket): TcpStream {
  s.destroy = () => {
    carrier.destroy(new Error('the connection was aborted'));
    sock.destroy();
  };
  return s;
}

/**
 * Client-side TLS on `tcp` to `host` (a name, sent as SNI, or an address): TLS 1.2 or 1.3, the server's certificate
 * checked for `host` against Node's CA store, or against `ca` (PEM) when given. A plaintext stream of the same shape;
 * `onError` hears a failed handshake or a refused certificate, and the stream then closes.
 */
export function tlsClientStream(tcp: TcpStream, host: string, opts: { ca?: string; onError?: (e: Error) => void } = {}): TcpStream {
  const carrier = new TlsCarrier(tcp);
  const sock = tlsConnect({
    socket: carrier as unknown as Duplex,
    host,
    ...(isIP(host) ? {} : { servername: host }),
    ALPNProtocols: ['http/1.1'],
    minVersion: 'TLSv1.2',
    ...(opts.ca ? { ca: opts.ca } : {}),
  });
  sock.on('error', (e) => {
    opts.onError?.(e);
    sock.destroy();
  });
  return abortable(socketStream(sock, tcp.remote, tcp.remotePort, false), carrier, sock);
}
