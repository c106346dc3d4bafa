/**
 * The daemon's state on disk: what is declared (unikernels, volumes), written
 * crash-safely — a temporary file, fsync, rename over `state.json`, fsync of
 * the folder — so that a `kill -9` at any point leaves either the old state or
 * the new one, never a mix. What runs is not state: after a restart the daemon
 * starts again exactly what `state.json` declares (docs/daemon.md).
 */
import { CODE_CACHE_DIR } from '../tender/code-cache.ts';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FataError } from '../host/errors.ts';
import type { RestartPolicy } from './protocol.ts';

export interface NetRecord {
  readonly dev: string;
  readonly bridge: string;
  readonly mac: string;
  readonly tap: string;
}

export interface UnikernelRecord {
  readonly name: string;
  /** Who made it (docs/daemon.md, Owners); absent: the default owner. */
  readonly owner?: string;
  readonly id: number;
  /**
   * The image copied into the state dir (`images/SHA256.fata`), its hash, its manifest's name, where it came from, and
   * who signed it as checked when it was copied (with --trust only: `info` says how many days the signer has left).
   */
  readonly image: {
    readonly path: string;
    readonly sha256: string;
    readonly name: string;
    readonly source: string;
    readonly signer?: SignerRecord;
  };
  readonly nets: readonly NetRecord[];
  readonly blocks: readonly { readonly dev: string; readonly volume: string }[];
  readonly memMb: number;
  readonly restart: RestartPolicy;
  readonly maxRestarts: number;
  readonly bootArgs: readonly string[];
  readonly createdAt: number;
  /** Set while an update is on trial: the image to go back to (a daemon that starts and finds it rolls back). */
  readonly previousImage?: UnikernelRecord['image'];
}

export interface SignerRecord {
  readonly subject: string;
  readonly issuer: string;
  readonly serial: string;
  /** The signer certificate's not-after time, in milliseconds since the epoch. */
  readonly notAfter: number;
}

export interface VolumeRecord {
  readonly name: string;
  readonly owner?: string;
  readonly bytes: number;
  readonly createdAt: number;
}

export interface DaemonState {
  readonly version: 1;
  /** Four hex digits that start this daemon's tap names, so that it sweeps only its own. */
  readonly tag: string;
  readonly nextId: number;
  readonly unikernels: readonly UnikernelRecord[];
  readonly volumes: readonly VolumeRecord[];
}

const FILE = 'state.json';

/** Writes `data` to `path` so that a crash leaves the old contents or the new, whole (temp, fsync, rename, fsync dir). */
export function writeAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dir = openSync(join(path, '..'), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

export function imagesDir(stateDir: string): string {
  return join(stateDir, 'images');
}

/** Where engines keep V8's code cache of the images in `imagesDir` (a folder per image SHA-256). */
export function codeCachesDir(stateDir: string): string {
  return join(imagesDir(stateDir), CODE_CACHE_DIR);
}

export function volumePath(stateDir: string, name: string): string {
  return join(stateDir, 'volumes', `${name}.img`);
}

/** Reads the state (a fresh one when there is none); a corrupted file is refused, never overwritten. */
export function loadState(stateDir: string): DaemonState {
  // images/.v8-cache: the engines' code caches, one folder per image (src/tender/code-cache.ts), root's only.
  for (const d of [stateDir, imagesDir(stateDir), codeCachesDir(stateDir), join(stateDir, 'volumes')])
    mkdirSync(d, { recursive: true, mode: 0o700 });
  rmSync(join(stateDir, `${FILE}.tmp`), { force: true }); // A write a crash interrupted: the rename never happened.
  const path = join(stateDir, FILE);
  if (!existsSync(path)) {
    const fresh: DaemonState = { version: 1, tag: randomBytes(2).toString('hex'), nextId: 1, unikernels: [], volumes: [] };
    saveState(stateDir, fresh);
    return fresh;
  }
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new FataError(
      'FATA_STATE',
      `${path} is not readable JSON (${(e as Error).message}); restore it from a backup or move it away to start empty`,
    );
  }
  const s = v as DaemonState;
  if (s?.version !== 1 || !Array.isArray(s.unikernels) || !Array.isArray(s.volumes) || !/^[0-9a-f]{4}$/.test(String(s.tag)))
    throw new FataError('FATA_STATE', `${path} is not a version 1 daemon state; restore it from a backup or move it away to start empty`);
  return s;
}

export function saveState(stateDir: string, s: DaemonState): void {
  writeAtomic(join(stateDir, FILE), `${JSON.stringify(s, null, 1)}\n`);
}
