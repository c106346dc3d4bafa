/**
 * The launch spec: what a tender hands the spt bootstrap, as one JSON
 * argument after the bootstrap's path. The JavaScript tender writes it with
 * `encodeLaunchSpec`; the native tender (src/tender/spt-tender.c) writes
 * the same fields by hand (src/tender/launch.test.ts decodes what it
 * actually produces); only the bootstrap reads it, with `parseLaunchSpec`,
 * which checks every field's type before anything trusts it.
 */
import type { FaultOptions } from '../link/fault.ts';

export interface LaunchSpec {
  /** Absolute path of the image file. */
  readonly image: string;
  /**
   * With `fata run --trust`: the SHA-256 (hex) of the image bytes whose signature the tender checked; the
   * bootstrap refuses an image file that no longer has them (replaced between the check and the engine's read).
   */
  readonly imageSha256?: string | undefined;
  /**
   * Net devices at descriptors 3, 4, … in this order: taps, already attached, or (`link: 'socketpair'`)
   * one end of a user-mode link's SOCK_SEQPACKET socketpair, one frame per message (src/usernet holds the
   * other end). The seal treats both alike: read and write on that descriptor. No `link` means a tap.
   */
  readonly nets: readonly {
    readonly name: string;
    readonly fd: number;
    readonly mac: string;
    readonly mtu: number;
    readonly link?: 'tap' | 'socketpair';
  }[];
  /** Block files, opened read-write, at the descriptors after the taps. */
  readonly blocks: readonly { readonly name: string; readonly fd: number }[];
  readonly bootArgs: readonly string[];
  /** Started by the native tender: the devices are checked against the image here. */
  readonly native: boolean;
  /** The account the engine drops to: NAME, UID or UID:GID; empty for the default (`fata`, else `nobody`). */
  readonly user: string;
  /** --mem in MiB: the V8 heap limit, the cgroup's memory limit, and how far RLIMIT_DATA lets the engine grow. */
  readonly memMb: number;
  /** A cgroup directory the engine joins before it drops privileges (the JavaScript tender's; the native one joins before exec). */
  readonly cgroup: string | undefined;
  /** Fata's fault injector around these net devices. */
  readonly impair: ReadonlyMap<string, { readonly faults: FaultOptions; readonly seed: number }>;
}

/** The default --mem, as solo5-hvt's. */
export const DEFAULT_MEM_MB = 512;

/** FaultOptions' fields by JSON type: bigints travel as decimal strings. */
const FAULT_NUMBERS = [
  'loss',
  'duplicate',
  'corrupt',
  'reorder',
  'maxHeld',
  'rateBitsPerSec',
  'queueFrames',
] as const satisfies readonly (keyof FaultOptions)[];
const FAULT_BIGINTS = ['delayNs', 'jitterNs', 'reorderDelayNs'] as const satisfies readonly (keyof FaultOptions)[];

export function encodeLaunchSpec(s: LaunchSpec): string {
  const impair: Record<string, { seed: number; faults: Record<string, number | string> }> = {};
  for (const [name, { faults, seed }] of s.impair) {
    const f: Record<string, number | string> = {};
    for (const k of FAULT_NUMBERS) if (faults[k] !== undefined) f[k] = faults[k];
    for (const k of FAULT_BIGINTS) if (faults[k] !== undefined) f[k] = faults[k].toString();
    impair[name] = { seed, faults: f };
  }
  return JSON.stringify({ ...s, cgroup: s.cgroup ?? null, impair });
}

const isFd = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 3 && (x as number) < 1024;
const isName = (x: unknown): x is string => typeof x === 'string' && /^[A-Za-z0-9]{1,67}$/.test(x);
const record = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function parseImpair(v: unknown): LaunchSpec['impair'] | string {
  if (!record(v)) return 'impair';
  const out = new Map<string, { faults: FaultOptions; seed: number }>();
  for (const [name, x] of Object.entries(v)) {
    if (!isName(name) || !record(x) || !Number.isInteger(x.seed) || !record(x.faults)) return `impair.${name}`;
    const f: { -readonly [K in keyof FaultOptions]: FaultOptions[K] } = {};
    for (const k of FAULT_NUMBERS) {
      const n = x.faults[k];
      if (n === undefined) continue;
      if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) return `impair.${name}.${k}`;
      f[k] = n;
    }
    for (const k of FAULT_BIGINTS) {
      const n = x.faults[k];
      if (n === undefined) continue;
      if (typeof n !== 'string' || !/^\d{1,19}$/.test(n)) return `impair.${name}.${k}`;
      f[k] = BigInt(n);
    }
    out.set(name, { faults: f, seed: x.seed as number });
  }
  return out;
}

/** Parses and checks a launch spec; a string says what is wrong. */
export function parseLaunchSpec(text: string | undefined): LaunchSpec | string {
  let v: unknown;
  try {
    v = JSON.parse(text ?? '');
  } catch {
    return 'the bootstrap is started by `fata run`, not by hand';
  }
  const bad = (what: string): string =>
    `malformed launch spec (${what}): the tender and the bootstrap disagree; rebuild with \`fata build -t spt\``;
  if (!record(v)) return bad('not an object');
  const { image, nets, blocks, bootArgs, native, user, memMb, cgroup } = v;
  if (typeof image !== 'string' || !image.startsWith('/')) return bad('image');
  const { imageSha256 } = v;
  if (imageSha256 !== undefined && (typeof imageSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(imageSha256))) return bad('imageSha256');
  if (
    !Array.isArray(nets) ||
    !nets.every(
      (n) =>
        record(n) &&
        isName(n.name) &&
        isFd(n.fd) &&
        typeof n.mac === 'string' &&
        Number.isInteger(n.mtu) &&
        (n.mtu as number) >= 68 &&
        (n.mtu as number) <= 65535 &&
        (n.link === undefined || n.link === 'tap' || n.link === 'socketpair'),
    )
  )
    return bad('nets');
  if (!Array.isArray(blocks) || !blocks.every((b) => record(b) && isName(b.name) && isFd(b.fd))) return bad('blocks');
  if (!Array.isArray(bootArgs) || !bootArgs.every((a) => typeof a === 'string')) return bad('bootArgs');
  if (typeof native !== 'boolean') return bad('native');
  if (typeof user !== 'string') return bad('user');
  if (!Number.isInteger(memMb) || (memMb as number) < 16) return bad('memMb');
  if (cgroup !== null && cgroup !== undefined && (typeof cgroup !== 'string' || !cgroup.startsWith('/sys/fs/cgroup/')))
    return bad('cgroup');
  const impair = parseImpair(v.impair ?? {});
  if (typeof impair === 'string') return bad(impair);
  return {
    image,
    ...(imageSha256 === undefined ? {} : { imageSha256 }),
    nets: nets as LaunchSpec['nets'],
    blocks: blocks as LaunchSpec['blocks'],
    bootArgs: bootArgs as string[],
    native,
    user,
    memMb: memMb as number,
    cgroup: cgroup ?? undefined,
    impair,
  };
}
