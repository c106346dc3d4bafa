/**
 * The image format: one file, `NAME.fata`.
 *
 *   line 1   `FATA1 <sha256 of everything after this line, hex> <header length>\n`
 *   header   JSON: the manifest (name, target, net mode, devices, engine,
 *            parameter schema) and a table of sections {name, offset, length}
 *   body     the sections back to back: `bundle` (the service's JavaScript),
 *            then `asset:DEVICE:/path` for each file of each assets device
 *
 * Same input, same bytes: the header is written with sorted keys and no
 * timestamps. Reading verifies the hash before anything else, so a corrupted
 * or tampered image is refused with a clear message.
 */
import { createHash } from 'node:crypto';
import { checkManifest, type Manifest } from '../devices/index.ts';
import type { ParamSpec } from '../runtime/config.ts';

export const IMAGE_MAGIC = 'FATA1';

/**
 * The field of an image's source map (`NAME.fata.map`, kept beside the image, not in it) that holds the SHA-256 of
 * the bundle it maps, so that a map left beside another build is never used.
 */
export const MAP_BUNDLE_FIELD = 'x_fata_bundle_sha256';

/** An image's manifest: the devices' manifest (src/devices, checked by `checkManifest`) and what the image is. */
export interface ImageManifest extends Manifest {
  readonly name: string;
  readonly target: 'node' | 'spt';
  readonly net: 'direct' | 'socket' | 'none';
  /** The engine this image was built for (`node v24.21.0`); recorded, and checked at run time. */
  readonly engine: string;
  readonly params: Record<string, ParamSpec>;
}

export interface Section {
  readonly name: string;
  readonly offset: number;
  readonly length: number;
}

export interface Image {
  readonly manifest: ImageManifest;
  readonly sha256: string;
  readonly sections: ReadonlyMap<string, Uint8Array>;
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

export function writeImage(manifest: ImageManifest, sections: readonly [string, Uint8Array][]): Uint8Array {
  const ok = checkManifest(manifest);
  if (ok !== 'ok') throw new Error(`writeImage: ${ok}`); // The build checked the config first; this is a programmer error.
  let offset = 0;
  const table: Section[] = sections.map(([name, b]) => {
    const s = { name, offset, length: b.length };
    offset += b.length;
    return s;
  });
  const header = new TextEncoder().encode(JSON.stringify(sortKeys({ manifest, sections: table })) + '\n');
  const rest = new Uint8Array(header.length + offset);
  rest.set(header);
  let at = header.length;
  for (const [, b] of sections) {
    rest.set(b, at);
    at += b.length;
  }
  const hash = createHash('sha256').update(rest).digest('hex');
  const first = new TextEncoder().encode(`${IMAGE_MAGIC} ${hash} ${header.length}\n`);
  const out = new Uint8Array(first.length + rest.length);
  out.set(first);
  out.set(rest, first.length);
  return out;
}

/** A section table entry as writeImage writes one: a name, and an offset and length that are whole, non-negative numbers. */
function isSection(s: unknown): s is Section {
  if (typeof s !== 'object' || s === null) return false;
  const { name, offset, length } = s as Record<string, unknown>;
  return (
    typeof name === 'string' &&
    Number.isSafeInteger(offset) &&
    Number.isSafeInteger(length) &&
    (offset as number) >= 0 &&
    (length as number) >= 0
  );
}

/** SHA-256 as lowercase hex, through `node:crypto`. */
export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * Reads and verifies an image; returns a message that says what is wrong otherwise. `sha256` is for the
 * sealed engine, which hashes without loading `node:crypto` (src/targets/node/native-crypto.ts).
 */
export function readImage(bytes: Uint8Array, what = 'image', sha256 = sha256Hex): Image | { error: string } {
  const nl = bytes.indexOf(10);
  const first = new TextDecoder().decode(bytes.subarray(0, nl < 0 ? Math.min(bytes.length, 100) : nl));
  const m = /^FATA1 ([0-9a-f]{64}) (\d+)$/.exec(first);
  if (nl < 0 || !m) return { error: `${what} is not a Fata image (no FATA1 header); build one with 'fata build DIR'` };
  const rest = bytes.subarray(nl + 1);
  const hash = sha256(rest);
  if (hash !== m[1])
    return { error: `${what} is corrupted: its SHA-256 is ${hash}, the header says ${m[1]}; rebuild it with 'fata build'` };
  const hlen = Number(m[2]);
  let parsed: { manifest?: ImageManifest; sections?: unknown } | null;
  try {
    parsed = JSON.parse(new TextDecoder().decode(rest.subarray(0, hlen))) as typeof parsed;
  } catch {
    return { error: `${what} has an unreadable header; rebuild it with 'fata build'` };
  }
  // The hash proves only that nothing changed after the build, not that a builder wrote the header: its shape is checked.
  if (!Array.isArray(parsed?.sections)) return { error: `${what} has no manifest or bundle; rebuild it` };
  const body = rest.subarray(hlen);
  const sections = new Map<string, Uint8Array>();
  for (const s of parsed.sections as unknown[]) {
    if (!isSection(s)) return { error: `${what} has a bad section table; rebuild it` };
    if (s.offset + s.length > body.length) return { error: `${what} is truncated (section ${s.name}); rebuild it` };
    sections.set(s.name, body.subarray(s.offset, s.offset + s.length));
  }
  if (parsed.manifest?.type !== 'fata.manifest' || !sections.has('bundle'))
    return { error: `${what} has no manifest or bundle; rebuild it` };
  const mf = parsed.manifest;
  const devices = checkManifest(mf);
  if (devices !== 'ok') return { error: `${what} has a bad manifest: ${devices}; rebuild it` };
  if (
    typeof mf.name !== 'string' ||
    (mf.target !== 'node' && mf.target !== 'spt') ||
    !['direct', 'socket', 'none'].includes(mf.net) ||
    typeof mf.engine !== 'string' ||
    typeof mf.params !== 'object' ||
    mf.params === null
  ) {
    return { error: `${what} has a bad manifest (name, target, net, engine or params); rebuild it` };
  }
  return { manifest: parsed.manifest, sha256: hash, sections };
}
