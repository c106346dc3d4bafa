/**
 * Zone files to zones, for the image's zones/ folder and for a git tree
 * alike: every `NAME.zone` file (at any depth) holds zone `NAME.`; each
 * error is named by file and, where the parser knows it, line.
 */
import { Zone } from 'fata/dns';

/** One error of one zone file: `line` when the parser names one (a missing SOA or NS has none). */
export interface ZoneFileError {
  readonly zone: string;
  /** The file's path, without a leading `/`. */
  readonly file: string;
  readonly line?: number;
  readonly error: string;
}

/** The zone a file holds: `a/b/example.test.zone` → `example.test.`; undefined for a file that is not a zone file. */
export function apexOf(path: string): string | undefined {
  if (!path.endsWith('.zone')) return undefined;
  const name = path.slice(path.lastIndexOf('/') + 1, -'.zone'.length);
  return name === '' ? undefined : `${name.toLowerCase()}.`;
}

/**
 * Parses every zone file of `files` (path → bytes) but those of the zones in `skip`: the zones (with their files),
 * and the errors of the others. Two files for one zone are an error of both.
 */
export function parseZoneFiles(
  files: Iterable<readonly [string, Uint8Array]>,
  skip: readonly string[] = [],
): { zones: Map<string, { zone: Zone; file: string }>; errors: ZoneFileError[] } {
  const zones = new Map<string, { zone: Zone; file: string }>();
  const errors: ZoneFileError[] = [];
  const seen = new Map<string, string>();
  for (const [path, bytes] of files) {
    const apex = apexOf(path);
    if (!apex || skip.includes(apex)) continue;
    const file = path.replace(/^\/+/, '');
    const other = seen.get(apex);
    if (other !== undefined) {
      for (const f of [other, file]) errors.push({ zone: apex, file: f, error: `two files hold zone ${apex}: ${other} and ${file}` });
      zones.delete(apex);
      continue;
    }
    seen.set(apex, file);
    const z = Zone.parse(apex, new TextDecoder().decode(bytes));
    if ('errors' in z) {
      for (const e of z.errors) {
        const m = /^line (\d+): ([\s\S]*)$/.exec(e);
        errors.push(m ? { zone: apex, file, line: Number(m[1]), error: m[2]! } : { zone: apex, file, error: e });
      }
      continue;
    }
    zones.set(apex, { zone: z, file });
  }
  return { zones, errors };
}

/** The SOA serial of a zone. */
export const serialOf = (z: Zone): number => (z.soa.data.kind === 'SOA' ? z.soa.data.serial : 0);
