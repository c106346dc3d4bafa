/**
 * The client side of the protocol: one request on a fresh connection, its
 * reply, and (for follow requests) its events until the caller stops.
 * Any other program may do the same over the socket (docs/daemon.md).
 */
import { createConnection, isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { FataError } from '../host/errors.ts';
import { PROTOCOL_VERSION, type Reply, type Request } from './protocol.ts';

/** A daemon's TLS endpoint and the client's credentials (`fata remote`, docs/daemon.md, Remote management). */
export interface RemoteEndpoint {
  readonly host: string;
  readonly port: number;
  /** The client certificate, then its intermediates (PEM), and its key. */
  readonly cert: Buffer;
  readonly key: Buffer;
  /** The CA the daemon's certificate must chain to. */
  readonly ca: Buffer;
  /** The intermediates again, base64 DER, for the hello that says who the client is. */
  readonly chain: readonly string[];
}

/** A daemon: the path of its Unix socket, or its TLS endpoint. */
export type Endpoint = string | RemoteEndpoint;

export const endpointName = (to: Endpoint): string =>
  typeof to === 'string' ? to : `${isIP(to.host) === 6 ? `[${to.host}]` : to.host}:${to.port}`;

export interface Call {
  /** The reply's result (a refusal rejects with a FataError carrying the daemon's code and sentence). */
  readonly result: Promise<unknown>;
  /** Resolves when the connection closes. */
  readonly closed: Promise<void>;
  close(): void;
}

/** What went wrong reaching `to`, as a sentence that says what to do. */
function unreachable(to: Endpoint, e: NodeJS.ErrnoException, secured: boolean): FataError {
  const where = endpointName(to);
  if (typeof to === 'string') {
    const why = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? 'no daemon answers there' : e.message;
    return new FataError(
      'FATA_NO_DAEMON',
      `cannot reach the daemon at ${where} (${why}); start it with 'fata daemon' or point at it with --socket=PATH or FATA_SOCKET`,
    );
  }
  if (e.code === 'ECONNREFUSED' || e.code === 'EHOSTUNREACH' || e.code === 'ETIMEDOUT' || e.code === 'ENOTFOUND')
    return new FataError('FATA_NO_DAEMON', `cannot reach the daemon at ${where} (${e.code}); is it running with --tls=${where}?`);
  if (e.code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')
    return new FataError('FATA_TLS_REFUSED', `the daemon at ${where} requires a client certificate; give --cert and --key`);
  if (!secured)
    return new FataError(
      'FATA_TLS_FAILED',
      `the TLS handshake with ${where} failed (${e.code ?? ''} ${e.message}); the daemon's certificate must chain to --ca and name ${to.host}`,
    );
  return new FataError(
    'FATA_TLS_REFUSED',
    `the daemon at ${where} ended the connection (${e.code ?? e.message}): it did not accept your certificate (not issued under its CA, expired, or the intermediates missing from --cert)`,
  );
}

export function call(to: Endpoint, req: Request, onEvent?: (e: unknown) => void): Call {
  const remote = typeof to === 'string' ? undefined : to;
  const c = remote
    ? tlsConnect({
        host: remote.host,
        port: remote.port,
        cert: remote.cert,
        key: remote.key,
        ca: remote.ca,
        minVersion: 'TLSv1.3',
        ...(isIP(remote.host) ? {} : { servername: remote.host }),
      })
    : createConnection(to as string);
  let resolveResult!: (v: unknown) => void, rejectResult!: (e: unknown) => void;
  const result = new Promise<unknown>((res, rej) => {
    resolveResult = res;
    rejectResult = rej;
  });
  result.catch(() => {});
  const closed = new Promise<void>((res) => c.on('close', () => res()));
  let buf = '';
  let answered = false,
    secured = false;
  c.setEncoding('utf8');
  const send = (): void => {
    secured = true;
    // Over TLS the first request says who the client is: its intermediates, for the daemon to check the delegations on them.
    if (remote) c.write(`${JSON.stringify({ v: PROTOCOL_VERSION, id: 0, op: 'hello', chain: remote.chain })}\n`);
    c.write(`${JSON.stringify({ v: PROTOCOL_VERSION, id: 1, ...req })}\n`);
  };
  c.on(remote ? 'secureConnect' : 'connect', send);
  c.on('error', (e: NodeJS.ErrnoException) => {
    if (!answered) rejectResult(unreachable(to, e, secured));
  });
  c.on('data', (d: string) => {
    const lines = (buf + d).split('\n');
    buf = lines.pop() ?? '';
    for (const line of lines) {
      if (!line) continue;
      const r = JSON.parse(line) as Reply;
      if (remote && r.id === 0 && 'ok' in r) {
        if (r.ok || answered) continue;
        answered = true;
        rejectResult(new FataError(r.error.code, r.error.message));
        c.end();
      } else if ('event' in r) onEvent?.(r.event);
      else if ('ok' in r && !answered) {
        answered = true;
        if (r.ok) resolveResult(r.result);
        else rejectResult(new FataError(r.error.code, r.error.message));
        if (!onEvent || !r.ok) c.end();
      }
    }
  });
  c.on('close', () => {
    if (answered) return;
    rejectResult(
      remote
        ? unreachable(to, Object.assign(new Error('closed without an answer'), { code: 'closed without an answer' }), secured)
        : new FataError('FATA_NO_DAEMON', `the daemon at ${endpointName(to)} closed the connection without an answer`),
    );
  });
  return { result, closed, close: () => c.destroy() };
}

/** One request, its result. */
export function request(to: Endpoint, req: Request): Promise<unknown> {
  return call(to, req).result;
}
