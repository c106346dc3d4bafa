/**
 * The client side of the protocol: one request on a fresh connection, its
 * reply, and (for follow requests) its events until the caller stops.
 * Any other program may do the same over the socket (docs/daemon.md).
 */
import { createConnection } from 'node:net';
import { FataError } from '../host/errors.ts';
import { PROTOCOL_VERSION, type Reply, type Request } from './protocol.ts';

export interface Call {
  /** The reply's result (a refusal rejects with a FataError carrying the daemon's code and sentence). */
  readonly result: Promise<unknown>;
  /** Resolves when the connection closes. */
  readonly closed: Promise<void>;
  close(): void;
}

export function call(socket: string, req: Request, onEvent?: (e: unknown) => void): Call {
  const c = createConnection(socket);
  let resolveResult!: (v: unknown) => void, rejectResult!: (e: unknown) => void;
  const result = new Promise<unknown>((res, rej) => {
    resolveResult = res;
    rejectResult = rej;
  });
  result.catch(() => {});
  const closed = new Promise<void>((res) => c.on('close', () => res()));
  let buf = '';
  let answered = false;
  c.setEncoding('utf8');
  c.on('connect', () => c.write(`${JSON.stringify({ v: PROTOCOL_VERSION, id: 1, ...req })}\n`));
  c.on('error', (e: NodeJS.ErrnoException) => {
    const why = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? 'no daemon answers there' : e.message;
    rejectResult(
      new FataError(
        'FATA_NO_DAEMON',
        `cannot reach the daemon at ${socket} (${why}); start it with 'fata daemon' or point at it with --socket=PATH or FATA_SOCKET`,
      ),
    );
  });
  c.on('data', (d: string) => {
    const lines = (buf + d).split('\n');
    buf = lines.pop() ?? '';
    for (const line of lines) {
      if (!line) continue;
      const r = JSON.parse(line) as Reply;
      if ('event' in r) onEvent?.(r.event);
      else if ('ok' in r && !answered) {
        answered = true;
        if (r.ok) resolveResult(r.result);
        else rejectResult(new FataError(r.error.code, r.error.message));
        if (!onEvent || !r.ok) c.end();
      }
    }
  });
  c.on('close', () => {
    if (!answered) rejectResult(new FataError('FATA_NO_DAEMON', `the daemon at ${socket} closed the connection without an answer`));
  });
  return { result, closed, close: () => c.destroy() };
}

/** One request, its result. */
export function request(socket: string, req: Request): Promise<unknown> {
  return call(socket, req).result;
}
