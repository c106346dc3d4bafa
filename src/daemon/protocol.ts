/**
 * The daemon's protocol (docs/daemon.md): newline-delimited JSON over a Unix
 * socket, one request per line, each answered by lines carrying its `id`:
 * one `{ ok: true, result }` or `{ ok: false, error }`, or — for `follow`
 * requests — a stream of `{ event }` lines until the client closes. Every
 * line carries `v`, the protocol version; the daemon refuses another one.
 * This file is the one definition both sides import.
 */

export const PROTOCOL_VERSION = 1;
export const DEFAULT_SOCKET = '/run/fata.sock';
export const DEFAULT_STATE_DIR = '/var/lib/fata';
/** A request line longer than this is refused and the connection closed. */
export const MAX_LINE_BYTES = 1 << 20;

export type RestartPolicy =
  | { readonly kind: 'never' }
  | { readonly kind: 'on-failure'; readonly codes: readonly number[] }
  | { readonly kind: 'always' };

export interface CreateSpec {
  readonly name: string;
  /** A path on the daemon's host; the daemon copies the image into its state dir. */
  readonly image: string;
  /** DEV → bridge, and an optional MAC (`02:…`); otherwise the daemon picks one and keeps it. */
  readonly nets: readonly { readonly dev: string; readonly bridge: string; readonly mac?: string }[];
  /** DEV → volume name (a volume the daemon made with `volume create`). */
  readonly blocks: readonly { readonly dev: string; readonly volume: string }[];
  readonly memMb?: number;
  readonly restart?: RestartPolicy;
  /** The most restarts in a row (reset after a stable run); 0: no cap. */
  readonly maxRestarts?: number;
  readonly bootArgs: readonly string[];
  /** The image's SHA-256 as the client checked it (`fata policy apply`): a file that no longer has it is refused. */
  readonly sha256?: string;
}

export type Request =
  /** `chain`: over TLS, the first request of a connection, with the client's intermediates (base64 DER; docs/daemon.md, Remote management). */
  | { readonly op: 'hello'; readonly chain?: readonly string[] }
  | { readonly op: 'create'; readonly spec: CreateSpec }
  | { readonly op: 'destroy'; readonly name: string }
  | { readonly op: 'restart'; readonly name: string }
  | { readonly op: 'list' }
  | { readonly op: 'info'; readonly name: string }
  | { readonly op: 'console'; readonly name: string; readonly sinceMs?: number; readonly lines?: number; readonly follow?: boolean }
  | { readonly op: 'stats'; readonly name: string; readonly follow?: boolean; readonly intervalMs?: number }
  | { readonly op: 'volume-create'; readonly name: string; readonly bytes: number }
  | { readonly op: 'volume-list' }
  | { readonly op: 'volume-destroy'; readonly name: string }
  | { readonly op: 'volume-dump'; readonly name: string }
  /** Swap the image and restart; back to the old image if the new one does not stay up for `trialMs`. */
  | { readonly op: 'update'; readonly name: string; readonly image: string; readonly trialMs?: number; readonly sha256?: string };

export type Envelope = Request & { readonly v: number; readonly id: number };

export interface ErrorBody {
  readonly code: string;
  readonly message: string;
}

export type Reply =
  | { readonly v: number; readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly v: number; readonly id: number; readonly ok: false; readonly error: ErrorBody }
  | { readonly v: number; readonly id: number; readonly event: unknown }
  | { readonly v: number; readonly id: number; readonly end: true };

export const OPS: ReadonlySet<string> = new Set([
  'hello',
  'create',
  'destroy',
  'restart',
  'list',
  'info',
  'console',
  'stats',
  'volume-create',
  'volume-list',
  'volume-destroy',
  'volume-dump',
  'update',
]);

/** The command of the command line an op belongs to, as a client certificate names it (every volume op is `volume`). */
export const commandOf = (op: string): string => (op.startsWith('volume-') ? 'volume' : op);

/** Checks one request line's shape (untrusted bytes: a result, never a throw). Field checks are the handler's. */
export function decodeRequest(line: string): Envelope | { error: string; id?: number } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { error: 'a request is one JSON object per line' };
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return { error: 'a request is a JSON object' };
  const o = v as Record<string, unknown>;
  const id = typeof o.id === 'number' && Number.isSafeInteger(o.id) ? o.id : undefined;
  if (o.v !== PROTOCOL_VERSION)
    return { error: `protocol version ${String(o.v)} is not spoken here; this daemon speaks v${PROTOCOL_VERSION}`, id };
  if (id === undefined) return { error: 'a request needs a numeric id' };
  if (typeof o.op !== 'string' || !OPS.has(o.op)) return { error: `unknown op '${String(o.op)}'; ops: ${[...OPS].join(', ')}`, id };
  return o as unknown as Envelope;
}

/** The socket a client talks to: `--socket`, else `FATA_SOCKET`, else the default. */
export function socketPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? (env.FATA_SOCKET || DEFAULT_SOCKET);
}
