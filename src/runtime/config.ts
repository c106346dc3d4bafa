/**
 * What a service's `config.ts` declares: its name, main module, devices by
 * name and type, and typed boot parameters. Pure data and types: the build
 * reads it on the host and the image carries it, so that `main`'s argument
 * types follow the declared devices (a typo in a device name does not
 * compile) and boot arguments are checked against the declared parameters.
 */
import { deviceNameProblem, type BlockDevice } from '../devices/index.ts';
import type { Assets, Context, NetStack } from './types.ts';

export interface NetDecl {
  readonly type: 'net';
  /** Without --ipv4, configure by DHCP (default true); false makes --ipv4 required (a DHCP server, say). */
  readonly dhcp?: boolean;
}
export interface BlockDecl {
  readonly type: 'block';
  /** The service runs without it: `fata run` starts the image without `--block:NAME=FILE`, and `main` gets `undefined`. */
  readonly optional?: boolean;
}
/** A folder crunched into the image at build time, read-only at run time. */
export interface AssetsDecl {
  readonly type: 'assets';
  readonly dir: string;
  /** Also store gzip and brotli variants of text files when they are smaller (default true). */
  readonly compress?: boolean;
  /** Without cert.pem and key.pem in the folder, add a self-signed development pair (default false). */
  readonly devCert?: boolean;
}
export type DeviceDeclaration = NetDecl | BlockDecl | AssetsDecl;

/** A network device: Fata's stack on a tap (`--net=direct`) or host sockets (`--net=socket`). */
export const net = (opts: { dhcp?: boolean } = {}): NetDecl => ({ type: 'net', ...opts });
/**
 * A block device, attached with `--block:NAME=FILE`. `block({ optional: true })`: the image also runs without
 * it, and `main` receives the device as `BlockDevice | undefined` (undefined when not attached).
 */
export function block(): BlockDecl & { readonly optional?: false };
export function block<const O extends { readonly optional: boolean }>(opts: O): BlockDecl & O;
export function block(opts: { readonly optional?: boolean } = {}): BlockDecl {
  return opts.optional === undefined ? { type: 'block' } : { type: 'block', optional: opts.optional };
}
/** The files under `dir` (relative to the service folder), built into the image. */
export const assets = (dir: string, opts: { compress?: boolean; devCert?: boolean } = {}): AssetsDecl => ({ type: 'assets', dir, ...opts });

export type ParamSpec =
  | { readonly kind: 'string'; readonly default: string; readonly help: string }
  | { readonly kind: 'int'; readonly default: number; readonly help: string; readonly min?: number; readonly max?: number }
  | { readonly kind: 'bool'; readonly default: boolean; readonly help: string }
  /** The command line names a file; `main` gets its contents as text ('' when none is given). */
  | { readonly kind: 'file'; readonly default: ''; readonly help: string };

export const param = {
  string: (def: string, help: string) => ({ kind: 'string', default: def, help }) as const,
  int: (def: number, help: string, range: { min?: number; max?: number } = {}) => ({ kind: 'int', default: def, help, ...range }) as const,
  bool: (def: boolean, help: string) => ({ kind: 'bool', default: def, help }) as const,
  /**
   * `--NAME=PATH`: the tender reads the file (text, at most 1 MiB) before the engine starts or is sealed, and
   * `main` gets its contents. For key material and anything else that must not be seen in `ps`.
   */
  file: (help: string) => ({ kind: 'file', default: '', help }) as const,
};

export interface ServiceConfig<
  D extends Record<string, DeviceDeclaration> = Record<string, DeviceDeclaration>,
  P extends Record<string, ParamSpec> = Record<string, ParamSpec>,
> {
  /** Image name: letters, digits, '-' and '_'. */
  readonly name: string;
  /** The module exporting `main`, relative to the service folder. */
  readonly main: string;
  readonly devices: D;
  readonly params: P;
}

/** Declares a service; checks what can be checked before any build. */
export function service<const D extends Record<string, DeviceDeclaration>, const P extends Record<string, ParamSpec>>(
  c: ServiceConfig<D, P>,
): ServiceConfig<D, P> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/.test(c.name)) {
    throw new Error(`service name '${c.name}' must be 1-63 letters, digits, '-' or '_'`);
  }
  for (const d of Object.keys(c.devices)) {
    const bad = deviceNameProblem(d);
    if (bad) throw new Error(bad);
  }
  for (const p of Object.keys(c.params)) {
    if (!/^[a-z][a-z0-9-]*$/.test(p) || RESERVED_PARAMS.includes(p)) {
      throw new Error(`parameter '${p}' must be lower-case words joined by '-' and not one of ${RESERVED_PARAMS.join(', ')}`);
    }
  }
  return c;
}

/** Boot parameters every image understands (MirageOS's names). */
export const RESERVED_PARAMS = ['ipv4', 'ipv4-gateway', 'dns', 'logs', 'help'];

/** What `main` receives for one device declaration. */
export type DeviceOf<T> = T extends NetDecl
  ? NetStack
  : T extends BlockDecl & { readonly optional: true }
    ? BlockDevice | undefined
    : T extends BlockDecl
      ? BlockDevice
      : T extends AssetsDecl
        ? Assets
        : never;
/** What `main` receives for one parameter. */
export type ParamOf<T> = T extends { kind: 'string' }
  ? string
  : T extends { kind: 'int' }
    ? number
    : T extends { kind: 'bool' }
      ? boolean
      : T extends { kind: 'file' }
        ? string
        : never;

/** The devices `main` receives for a config. */
export type DevicesOf<C> = C extends ServiceConfig<infer D, infer _P> ? { readonly [K in keyof D]: DeviceOf<D[K]> } : never;
/** The parameters `main` receives for a config. */
export type ParamsOf<C> = C extends ServiceConfig<infer _D, infer P> ? { readonly [K in keyof P]: ParamOf<P[K]> } : never;

/** What a main returns: an exit code, now or later, or nothing. */
// biome-ignore lint/suspicious/noConfusingVoidType: a main with no code to return is `async () => { … }`, whose type is Promise<void>
export type MainResult = Promise<number | void> | number | void;

/**
 * A service's entry point. Resolve with an exit code (0 success, 1 failure)
 * to stop; a server simply never resolves.
 */
export type Main<C> = (devices: DevicesOf<C>, params: ParamsOf<C>, ctx: Context) => MainResult;
