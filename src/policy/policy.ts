/**
 * The host policy file (docs/policy.md): one JSON document declaring the
 * host's networks, volumes and unikernels. This module reads it, checks it
 * against the schema, and turns it into declarations with a way back from
 * any part of them to its line and column. Whatever it refuses is a list of
 * problems, each naming its place; nothing here looks at the host.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { DEVICE_NAME } from '../devices/index.ts';
import { DEFAULT_RESTART_CODES, NAME } from '../daemon/create.ts';
import type { RestartPolicy } from '../daemon/protocol.ts';
import { parseSize } from '../daemon/commands.ts';
import { IFNAME } from '../daemon/host-net.ts';
import { DEFAULT_MEM_MB } from '../tender/launch.ts';
import { MIN_MEM_MB } from '../tender/flags.ts';
import { parseJson, pointer, type Position } from './json.ts';
import { type Problem, type Schema, validate } from './schema.ts';

export const POLICY_VERSION = 1;

export interface NetworkDecl {
  readonly name: string;
  /** The host's address on the bridge, with the prefix (fata net create --cidr). */
  readonly cidr: string;
  readonly nat: boolean;
  /** true: the default range; a string: FIRST-LAST. */
  readonly dhcp: true | string | undefined;
}

export interface VolumeDecl {
  readonly name: string;
  readonly bytes: number;
}

export interface UnikernelDecl {
  readonly name: string;
  /** Absolute (a relative path in the file is from the file's folder). */
  readonly image: string;
  /** The subject the image's signer must have, as `fata verify` prints it (`CN=Web Signer`). */
  readonly signer: string | undefined;
  readonly memMb: number;
  readonly nets: readonly { readonly dev: string; readonly bridge: string; readonly mac?: string }[];
  readonly blocks: readonly { readonly dev: string; readonly volume: string }[];
  readonly bootArgs: readonly string[];
  readonly restart: RestartPolicy;
  readonly maxRestarts: number;
}

export interface HostPolicy {
  readonly file: string;
  /** The CA file (and CRL) signers must chain to; absolute. */
  readonly trust: { readonly ca: string; readonly crl?: string } | undefined;
  readonly networks: readonly NetworkDecl[];
  readonly volumes: readonly VolumeDecl[];
  readonly unikernels: readonly UnikernelDecl[];
  /** `FILE:LINE:COLUMN` of the value at a JSON Pointer (or of its key), or of the nearest enclosing value. */
  where(path: string, key?: boolean): string;
}

/** A problem in the file, placed: what `fata policy check` prints, one a line. */
export interface Placed {
  readonly at: string;
  readonly path: string;
  readonly message: string;
}

const SIZE = /^\d+([KMGT]?)(i?B)?$/i;
const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

const restartSchema: Schema = {
  anyOf: [
    { type: 'string', enum: ['never', 'always', 'on-failure'] },
    {
      type: 'object',
      required: ['onFailure'],
      properties: { onFailure: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 255 }, maxItems: 256 } },
    },
  ],
  hint: '"never", "always", "on-failure" or {"onFailure": [EXIT CODES 0-255]}',
};

/** The whole file's schema (docs/policy.md shows it with an example). */
export const POLICY_SCHEMA: Schema = {
  type: 'object',
  required: ['version'],
  properties: {
    version: { type: 'integer', minimum: POLICY_VERSION, maximum: POLICY_VERSION },
    trust: {
      type: 'object',
      required: ['ca'],
      properties: { ca: { type: 'string', hint: 'a PEM file of CA certificates' }, crl: { type: 'string', hint: 'a PEM CRL file' } },
    },
    networks: {
      type: 'object',
      keys: {
        pattern: /^[a-z][a-z0-9]{0,9}$/,
        hint: 'a network name: 1-10 lower-case letters and digits, starting with a letter (it names the bridge)',
      },
      values: {
        type: 'object',
        required: ['cidr'],
        properties: {
          cidr: { type: 'string', pattern: /^\d+\.\d+\.\d+\.\d+\/\d+$/, hint: "the host's address and prefix, like 10.0.0.1/24" },
          nat: { type: 'boolean' },
          dhcp: {
            anyOf: [{ type: 'boolean' }, { type: 'string', pattern: /^[\d.]+-[\d.]+$/ }],
            hint: 'true, false or a range FIRST-LAST',
          },
        },
      },
    },
    volumes: {
      type: 'object',
      keys: { pattern: NAME, hint: 'a volume name: 1-63 of a-z, 0-9, ., _, -, starting with a letter or digit' },
      values: {
        type: 'object',
        required: ['size'],
        properties: {
          size: {
            anyOf: [
              { type: 'integer', minimum: 512 },
              { type: 'string', pattern: SIZE },
            ],
            hint: 'a size like "64M" or "1G", or a number of bytes',
          },
        },
      },
    },
    unikernels: {
      type: 'object',
      keys: { pattern: NAME, hint: 'a unikernel name: 1-63 of a-z, 0-9, ., _, -, starting with a letter or digit' },
      values: {
        type: 'object',
        required: ['image'],
        properties: {
          image: { type: 'string', hint: 'the path of an spt image' },
          signer: { type: 'string', pattern: /=/, hint: "the signer's subject as fata verify prints it, like CN=Web Signer" },
          memoryMb: { type: 'integer', minimum: MIN_MEM_MB, maximum: 1 << 20 },
          nets: {
            type: 'object',
            keys: { pattern: DEVICE_NAME, hint: "a net device's name in the image's manifest" },
            values: {
              type: 'object',
              required: ['bridge'],
              properties: {
                bridge: { type: 'string', pattern: IFNAME, hint: 'a network of this file or a bridge on the host' },
                mac: { type: 'string', pattern: MAC, hint: 'a MAC address like 02:00:00:00:00:01' },
              },
            },
          },
          blocks: {
            type: 'object',
            keys: { pattern: DEVICE_NAME, hint: "a block device's name in the image's manifest" },
            values: {
              type: 'object',
              required: ['volume'],
              properties: { volume: { type: 'string', pattern: NAME, hint: 'a volume name' } },
            },
          },
          bootArgs: { type: 'array', items: { type: 'string' } },
          restart: restartSchema,
          maxRestarts: { type: 'integer', minimum: 0, maximum: 1_000_000 },
        },
      },
    },
  },
};

type Json = Record<string, unknown>;

function restartOf(v: unknown): RestartPolicy {
  if (v === undefined || v === 'never') return { kind: 'never' };
  if (v === 'always') return { kind: 'always' };
  if (v === 'on-failure') return { kind: 'on-failure', codes: [...DEFAULT_RESTART_CODES] };
  const codes = (v as { onFailure: number[] }).onFailure;
  return { kind: 'on-failure', codes: codes.length ? [...new Set(codes)] : [...DEFAULT_RESTART_CODES] };
}

/** Reads and checks a policy file: the declarations, or every problem with its place. */
export function loadHostPolicy(path: string, text?: string): HostPolicy | { problems: Placed[] } {
  const file = resolve(path);
  let source: string;
  try {
    source = text ?? readFileSync(file, 'utf8');
  } catch (e) {
    return { problems: [{ at: file, path: '', message: `cannot read it (${(e as NodeJS.ErrnoException).code ?? e})` }] };
  }
  const parsed = parseJson(source);
  if ('error' in parsed) return { problems: [{ at: `${file}:${parsed.at.line}:${parsed.at.column}`, path: '', message: parsed.error }] };
  const where = (p: string, key = false): string => {
    let cur = p;
    for (;;) {
      const found = parsed.positions.get(cur);
      if (found) {
        const pos: Position = key && cur === p && found.key ? found.key : found.value;
        return `${file}:${pos.line}:${pos.column}`;
      }
      if (cur === '') return file;
      cur = cur.slice(0, cur.lastIndexOf('/'));
    }
  };
  const place = (ps: readonly Problem[]): Placed[] => ps.map((p) => ({ at: where(p.path, p.key), path: p.path, message: p.message }));
  const schemaProblems = validate(parsed.value, POLICY_SCHEMA);
  if (schemaProblems.length) return { problems: place(schemaProblems) };
  const doc = parsed.value as Json;
  const dir = dirname(file);
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(dir, p));
  const entries = (k: string): [string, Json][] => Object.entries((doc[k] ?? {}) as Record<string, Json>);
  const problems: Problem[] = [];
  const volumes = entries('volumes').map(([name, v]): VolumeDecl => {
    const bytes = typeof v.size === 'number' ? v.size : (parseSize(v.size as string) ?? 0);
    if (bytes % 512 !== 0 || bytes <= 0)
      problems.push({ path: pointer(['volumes', name, 'size']), message: 'a volume size is a positive multiple of 512 bytes' });
    return { name, bytes };
  });
  const networks = entries('networks').map(
    ([name, n]): NetworkDecl => ({
      name,
      cidr: n.cidr as string,
      nat: n.nat === true,
      dhcp: n.dhcp === true || typeof n.dhcp === 'string' ? (n.dhcp as true | string) : undefined,
    }),
  );
  const unikernels = entries('unikernels').map(
    ([name, u]): UnikernelDecl => ({
      name,
      image: abs(u.image as string),
      signer: u.signer as string | undefined,
      memMb: (u.memoryMb as number | undefined) ?? DEFAULT_MEM_MB,
      nets: Object.entries((u.nets ?? {}) as Record<string, Json>).map(([dev, n]) => ({
        dev,
        bridge: n.bridge as string,
        ...(n.mac ? { mac: (n.mac as string).toLowerCase() } : {}),
      })),
      blocks: Object.entries((u.blocks ?? {}) as Record<string, Json>).map(([dev, b]) => ({ dev, volume: b.volume as string })),
      bootArgs: (u.bootArgs ?? []) as string[],
      restart: restartOf(u.restart),
      maxRestarts: (u.maxRestarts as number | undefined) ?? 0,
    }),
  );
  const t = doc.trust as { ca: string; crl?: string } | undefined;
  const trust = t ? { ca: abs(t.ca), ...(t.crl ? { crl: abs(t.crl) } : {}) } : undefined;
  if (problems.length) return { problems: place(problems) };
  return { file, trust, networks, volumes, unikernels, where };
}
