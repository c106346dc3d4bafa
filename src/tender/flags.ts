/**
 * `fata run` flags, in Solo5's shapes: tender flags first, then the image
 * (or a service folder, built first), then the unikernel's boot arguments.
 *
 *   fata run [--mem=MB] [--user=ACCOUNT] [--net:NAME=TAP[,create]|user[,OPTIONS]] [--net-mac:NAME=MAC]
 *            [--block:NAME=FILE] [--net-impair:NAME=SPEC] [-t node|spt] [--net=socket|direct]
 *            [--trust=CA.pem [--crl=CRL.pem]]
 *            [--] IMAGE|DIR [BOOT ARGS]
 */
import { deviceNameProblem, parseMac } from '../devices/index.ts';
import type { FaultOptions } from '../link/fault.ts';
import { parseUserNetOptions, type UserNetOptions } from '../usernet/options.ts';

export interface RunFlags {
  readonly memMb: number | undefined;
  /** spt: the unprivileged account the engine drops to (NAME, UID or UID:GID); default `fata`, else `nobody`. */
  readonly user: string | undefined;
  readonly nets: Map<string, string>;
  readonly macs: Map<string, Uint8Array>;
  readonly blocks: Map<string, string>;
  /** Fata's fault injector around a net device: options and seed. */
  readonly impair: Map<string, { faults: FaultOptions; seed: number }>;
  /** Net devices whose tap may be created for this run when it does not exist (`--net:NAME=TAP,create`). */
  readonly create: ReadonlySet<string>;
  /** Net devices on user-mode links (`--net:NAME=user,…`): a socketpair to a gateway in `fata run`, no tap (src/usernet). */
  readonly usernets: ReadonlyMap<string, UserNetOptions>;
  /** For a folder: how to build it. */
  readonly target: 'node' | 'spt' | undefined;
  readonly netMode: 'socket' | 'direct' | undefined;
  /** Trust anchors (PEM): the image must carry a signature (IMAGE.sig) that chains to one (docs/trust.md). */
  readonly trust: string | undefined;
  /** A revocation list (PEM) checked with --trust. */
  readonly crl: string | undefined;
  readonly image: string;
  readonly bootArgs: string[];
}

export const RUN_USAGE = `usage: fata run [--mem=MB] [--user=ACCOUNT] [--net:NAME=TAP[,create]] [--net-mac:NAME=MAC] [--block:NAME=FILE]
                [--net-impair:NAME=loss=P,duplicate=P,reorder=P,corrupt=P,delay=MS,jitter=MS,seed=N]
                [-t node|spt] [--net=socket|direct] [--trust=CA.pem [--crl=CRL.pem]] [--] IMAGE|DIR [BOOT ARGS]
  IMAGE --help lists the boot arguments an image takes.
  --net:NAME=user[,hostfwd=tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]…[,restrict=on]: user-mode networking, no tap and
  no root: the guest gets 10.0.2.15 by DHCP, 10.0.2.2 is the host's 127.0.0.1 (docs/networking.md).
  --trust: run only an image signed (IMAGE.sig, fata sign) by a certificate that chains to CA.pem, checked before
  anything starts; --crl refuses a revoked signer (docs/trust.md).`;

/** The least --mem a sealed engine boots in: Node alone is about 45 MB resident. */
export const MIN_MEM_MB = 64;

export function parseRunFlags(argv: readonly string[]): RunFlags | { error: string } {
  let memMb: number | undefined, user: string | undefined, target: RunFlags['target'], netMode: RunFlags['netMode'];
  let trust: string | undefined, crl: string | undefined;
  const nets = new Map<string, string>(),
    macs = new Map<string, Uint8Array>(),
    blocks = new Map<string, string>();
  const impair = new Map<string, { faults: FaultOptions; seed: number }>();
  const create = new Set<string>();
  const usernets = new Map<string, UserNetOptions>();
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-')) break;
    // Each flag that matches is taken whole, and the loop goes on to the next argument.
    let m = /^--mem=(\d+)$/.exec(a);
    if (m) {
      memMb = Number(m[1]);
      if (memMb < MIN_MEM_MB)
        return { error: `--mem=${m[1]}: a unikernel needs at least ${MIN_MEM_MB} MB (its engine alone holds about 45)` };
      continue;
    }
    m = /^--user=(.+)$/.exec(a);
    if (m) {
      user = m[1]!;
      continue;
    }
    const net = parseNetFlag(a, nets, create, usernets);
    if (typeof net === 'string') return { error: net };
    if (net) continue;
    m = /^--net-mac:([^=]+)=(.*)$/.exec(a);
    if (m) {
      const mac = parseMac(m[2]!);
      if (!mac) return { error: `--net-mac:${m[1]}=${m[2]} is not a MAC address; write it like 02:00:00:00:00:01` };
      if (mac[0]! & 1) return { error: `--net-mac:${m[1]}=${m[2]} is a group address; a unikernel needs a unicast MAC` };
      macs.set(m[1]!, mac);
      continue;
    }
    m = /^--net-impair:([^=]+)=(.+)$/.exec(a);
    if (m) {
      const spec = parseImpair(m[2]!);
      if ('error' in spec) return { error: `--net-impair:${m[1]}: ${spec.error}` };
      impair.set(m[1]!, spec);
      continue;
    }
    m = /^--block:([^=]+)=(.+)$/.exec(a);
    if (m) {
      blocks.set(m[1]!, m[2]!);
      continue;
    }
    m = /^--(trust|crl)(?:=(.*))?$/.exec(a);
    if (m) {
      // --trust FILE or --trust=FILE (the native tender hands both back to the CLI: it knows neither).
      const file = m[2] ?? argv[++i];
      if (!file) return { error: `--${m[1]} needs a file: --${m[1]}=FILE.pem` };
      if (m[1] === 'trust') trust = file;
      else crl = file;
      continue;
    }
    if (a === '-t' || a.startsWith('--target=')) {
      const v = a === '-t' ? argv[++i] : a.slice(9);
      if (v !== 'node' && v !== 'spt') return { error: `target '${v}' is not one of node, spt` };
      target = v;
    } else if (a.startsWith('--net=')) {
      const v = a.slice(6);
      if (v !== 'socket' && v !== 'direct') return { error: `--net=${v} is not one of socket, direct` };
      netMode = v;
    } else {
      return { error: `unknown flag '${a}'` };
    }
  }
  for (const [flag, names] of [
    ['--net', nets],
    ['--net-mac', macs],
    ['--net-impair', impair],
    ['--block', blocks],
  ] as const) {
    for (const n of names.keys()) {
      const bad = deviceNameProblem(n);
      if (bad) return { error: `${flag}:${n}: ${bad}` };
    }
  }
  const image = argv[i];
  if (image === undefined) return { error: 'no image given' };
  if (crl !== undefined && trust === undefined) return { error: '--crl is checked with --trust: give the CA too (--trust=CA.pem)' };
  for (const n of macs.keys()) if (!nets.has(n)) return { error: `--net-mac:${n} given without --net:${n}` };
  for (const n of impair.keys()) if (!nets.has(n)) return { error: `--net-impair:${n} given without --net:${n}` };
  return { memMb, user, nets, create, macs, blocks, impair, usernets, target, netMode, trust, crl, image, bootArgs: argv.slice(i + 1) };
}

/**
 * `--net:NAME=TAP[,create]` or `--net:NAME=user[,OPTIONS]`, recorded in the maps; false when `a` is
 * another flag, a string when it is a malformed one.
 */
function parseNetFlag(a: string, nets: Map<string, string>, create: Set<string>, usernets: Map<string, UserNetOptions>): boolean | string {
  const m = /^--net:([^=]+)=([^,]+)(,.*)?$/.exec(a);
  if (!m) {
    if (a.startsWith('--net:') && a.includes(','))
      return `${a}: the only option after the interface is ',create' (--net:NAME=TAP or --net:NAME=TAP,create)`;
    return false;
  }
  const opts = m[3] ? m[3].slice(1).split(',') : [];
  if (m[2] === 'user') {
    const u = parseUserNetOptions(opts);
    if (typeof u === 'string') return `--net:${m[1]}=user: ${u}`;
    usernets.set(m[1]!, u);
  } else if (opts.length === 1 && opts[0] === 'create') create.add(m[1]!);
  else if (opts.length > 0)
    return `${a}: the only option after the interface is ',create' (--net:NAME=TAP or --net:NAME=TAP,create); user-mode networking is --net:NAME=user[,hostfwd=…][,restrict=on]`;
  nets.set(m[1]!, m[2]!);
  return true;
}

const TIME_UNITS: Record<string, number> = { '': 1e6, ns: 1, us: 1e3, ms: 1e6, s: 1e9 };
const RATE_UNITS: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 };
const IMPAIRMENTS =
  'loss, duplicate, reorder, corrupt (0-1 or N%), delay, jitter (ms, or with us/ms/s), rate (bit/kbit/mbit/gbit), queue (frames), seed';

/** One `NAME=VALUE` of an impairment: a probability, a time, a rate, a count. */
function impairValue(k: string, v: string): { key: string; value: number | bigint } | { error: string } {
  const num = /^(\d+(?:\.\d+)?)([a-z%]*)$/.exec(v);
  if (!num) return { error: `'${k}=${v}' should be NAME=NUMBER (with a unit where one fits)` };
  const [, digits, unit] = num as unknown as [string, string, string];
  const x = Number(digits);
  switch (k) {
    case 'loss':
    case 'duplicate':
    case 'reorder':
    case 'corrupt': {
      const p = unit === '%' ? x / 100 : x;
      if (!(unit === '' || unit === '%') || p > 1) return { error: `${k}=${v} is a probability: from 0 to 1, or a percentage like 1%` };
      return { key: k, value: p };
    }
    case 'delay':
    case 'jitter': {
      const m = TIME_UNITS[unit];
      if (m === undefined) return { error: `${k}=${v}: a time in ms (or with a unit: us, ms, s)` };
      return { key: k === 'delay' ? 'delayNs' : 'jitterNs', value: BigInt(Math.round(x * m)) };
    }
    case 'rate': {
      const m = RATE_UNITS[unit || 'bit'];
      if (m === undefined || x === 0) return { error: `rate=${v}: bits per second, like rate=100mbit (bit, kbit, mbit, gbit)` };
      return { key: 'rateBitsPerSec', value: x * m };
    }
    case 'queue':
    case 'seed':
      if (unit !== '' || !Number.isInteger(x) || (k === 'queue' && x < 1)) return { error: `${k}=${v} is a whole number` };
      return { key: k === 'queue' ? 'queueFrames' : 'seed', value: x };
    default:
      return { error: `unknown impairment '${k}'; use ${IMPAIRMENTS}` };
  }
}

/**
 * `loss=1%,delay=20ms,jitter=5ms,reorder=0.05,rate=100mbit,queue=1000,seed=7`: impairs one direction;
 * probabilities 0-1 or percentages, times in ms unless a unit says otherwise (a bare number is ms, as before).
 */
export function parseImpair(text: string): { faults: FaultOptions; seed: number } | { error: string } {
  const f: Record<string, number | bigint> = {};
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return { error: `'${part}' should be NAME=VALUE; use ${IMPAIRMENTS}` };
    const r = impairValue(part.slice(0, eq), part.slice(eq + 1));
    if ('error' in r) return r;
    f[r.key] = r.value;
  }
  const { seed = 1, ...rest } = f;
  const faults = rest as FaultOptions;
  return { faults: faults.reorder ? { reorderDelayNs: 2_000_000n, ...faults } : faults, seed: Number(seed) };
}
