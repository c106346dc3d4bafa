/**
 * The launch spec: what a tender hands the spt bootstrap (one JSON argument
 * after the bootstrap's path). Both tenders write it — src/tender/run.ts
 * with `JSON.stringify`, src/targets/spt/tender.c by hand, field for field —
 * and only the bootstrap reads it, through `parseLaunchSpec`.
 */

export interface LaunchSpec {
  /** Absolute path of the image file. */
  readonly image: string;
  /** Taps, already attached, at descriptors 3, 4, … in this order. */
  readonly nets: readonly { readonly name: string; readonly fd: number; readonly mac: string; readonly mtu: number }[];
  /** Block files, opened read-write, at the descriptors after the taps. */
  readonly blocks: readonly { readonly name: string; readonly fd: number }[];
  readonly bootArgs: readonly string[];
  /** Started by the native tender: the devices are checked against the image here. */
  readonly native?: boolean;
  /** The account the engine drops to: NAME, UID or UID:GID; empty for the default (`fata`, else `nobody`). */
  readonly user: string;
  /** --mem in MiB: the V8 heap limit, the cgroup's memory limit, and how far RLIMIT_DATA lets the engine grow. */
  readonly memMb: number;
  /** A cgroup directory the engine joins before it drops privileges (the JavaScript tender's; the native one joins before exec). */
  readonly cgroup?: string;
  /** Fault injection per net device, times as decimal strings of ns. */
  readonly impair: Readonly<Record<string, { readonly seed: number; readonly faults: Readonly<Record<string, number | string | undefined>> }>>;
}

/** The default --mem, as solo5-hvt's. */
export const DEFAULT_MEM_MB = 512;

/** Parses and checks the shape of a launch spec; a string says what is wrong. */
export function parseLaunchSpec(text: string | undefined): LaunchSpec | string {
  let v: unknown;
  try { v = JSON.parse(text ?? ''); } catch { return 'the bootstrap is started by `fata run`, not by hand'; }
  const s = v as Partial<LaunchSpec> | null;
  const fd = (x: unknown): boolean => Number.isInteger(x) && (x as number) >= 3 && (x as number) < 1024;
  if (!s || typeof s !== 'object' || typeof s.image !== 'string' || !Array.isArray(s.nets) || !Array.isArray(s.blocks) ||
    !Array.isArray(s.bootArgs) || typeof s.user !== 'string' || !Number.isInteger(s.memMb) || (s.memMb as number) < 16) {
    return 'malformed launch spec (the tender and the bootstrap disagree; rebuild with `fata build -t spt`)';
  }
  if (![...s.nets, ...s.blocks].every((d) => d && typeof d.name === 'string' && fd(d.fd))) return 'malformed launch spec: device descriptors';
  return { ...s, impair: s.impair ?? {} } as LaunchSpec;
}
