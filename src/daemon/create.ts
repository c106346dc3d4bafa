/**
 * `create` checked before anything changes: the name, the image (readable,
 * intact, spt), its devices against what is attached (the rule both tenders
 * apply), the boot arguments against its parameters, the bridges, the
 * volumes, the quotas. Every refusal is a FataError and leaves the state as
 * it was; only a plan that passes all of them is carried out.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { formatMac, parseMac } from '../devices/index.ts';
import { readImage, type Image } from '../build/image.ts';
import { FataError } from '../host/errors.ts';
import { parseBootArgs } from '../runtime/args.ts';
import { checkDevices } from '../tender/check.ts';
import { DEFAULT_MEM_MB } from '../tender/launch.ts';
import { MIN_MEM_MB } from '../tender/flags.ts';
import { isBridge, IFNAME } from './host-net.ts';
import type { CreateSpec, RestartPolicy } from './protocol.ts';
import type { DaemonState, UnikernelRecord } from './state.ts';

/** The limits of the one owner this daemon knows (docs/daemon.md, Quotas); undefined: no limit. */
export interface Limits {
  readonly maxUnikernels?: number;
  readonly maxMemoryMb?: number;
  /** The bridges unikernels may be attached to. */
  readonly bridges?: readonly string[];
  readonly maxVolumeBytes?: number;
}

export const NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
/** By default a restart follows an abort (255, which is also what the tender returns when a signal stopped the engine). */
export const DEFAULT_RESTART_CODES: readonly number[] = [255];

export interface Plan {
  readonly image: Image;
  readonly bytes: Uint8Array;
  readonly memMb: number;
  readonly macs: readonly string[];
  readonly restart: RestartPolicy;
}

export function checkName(name: unknown, what = 'unikernel'): string {
  if (typeof name !== 'string' || !NAME.test(name))
    throw new FataError(
      'FATA_BAD_NAME',
      `${what} name '${String(name)}' must be 1-63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit`,
    );
  return name;
}

function randomMac(): string {
  const m = randomBytes(6);
  m[0] = (m[0]! & 0xfe) | 0x02; // Unicast, locally administered.
  return formatMac(new Uint8Array(m));
}

export function loadSpecImage(path: unknown): { image: Image; bytes: Uint8Array } {
  if (typeof path !== 'string' || !isAbsolute(path))
    throw new FataError('FATA_NO_IMAGE', `image '${String(path)}' must be an absolute path on the daemon's host`);
  if (!existsSync(path)) throw new FataError('FATA_NO_IMAGE', `no image at '${path}'; build one with 'fata build -t spt DIR'`);
  const bytes = readFileSync(path);
  const image = readImage(bytes, path);
  if ('error' in image) throw new FataError('FATA_BAD_IMAGE', image.error);
  if (image.manifest.target !== 'spt')
    throw new FataError(
      'FATA_BAD_IMAGE',
      `${path} is a ${image.manifest.target} image; the daemon runs spt images (fata build -t spt DIR)`,
    );
  return { image, bytes };
}

function checkNets(spec: CreateSpec, limits: Limits, owner: Owner | undefined): string[] {
  return spec.nets.map((n) => {
    if (!IFNAME.test(n.bridge) || !isBridge(n.bridge))
      throw new FataError(
        'FATA_NO_BRIDGE',
        `--net:${n.dev}=${n.bridge}: no bridge '${n.bridge}' on this host; make one with 'ip link add ${n.bridge} type bridge && ip link set ${n.bridge} up'`,
      );
    if (limits.bridges && !limits.bridges.includes(n.bridge))
      throw new FataError('FATA_QUOTA', `bridge '${n.bridge}' is not allowed here (allowed: ${limits.bridges.join(', ') || 'none'})`);
    for (const s of scopesOf(owner)) {
      const mine = s.limits?.bridges;
      if (mine && !mine.includes(n.bridge))
        throw new FataError('FATA_QUOTA', `owner '${s.name}': bridge '${n.bridge}' is not allowed (allowed: ${mine.join(', ') || 'none'})`);
    }
    if (n.mac === undefined) return randomMac();
    const mac = parseMac(n.mac);
    if (!mac || mac[0]! & 1)
      throw new FataError('FATA_BAD_MAC', `--net:${n.dev}=${n.bridge}@${n.mac}: not a unicast MAC; write it like 02:00:00:00:00:01`);
    return formatMac(mac);
  });
}

function checkVolumes(spec: CreateSpec, state: DaemonState, owner: Owner | undefined): void {
  for (const b of spec.blocks) {
    if (!state.volumes.some((v) => v.name === b.volume && (!owner || ownedBy(v, owner.name))))
      throw new FataError(
        'FATA_NO_VOLUME',
        `--block:${b.dev}=${b.volume}: no volume '${b.volume}'; make one with 'fata volume create ${b.volume} SIZE'`,
      );
    const user = state.unikernels.find((u) => u.blocks.some((x) => x.volume === b.volume));
    if (user) throw new FataError('FATA_VOLUME_IN_USE', `volume '${b.volume}' is attached to '${user.name}'; destroy that unikernel first`);
  }
  const vols = spec.blocks.map((b) => b.volume);
  if (new Set(vols).size !== vols.length) throw new FataError('FATA_VOLUME_IN_USE', 'one volume is attached twice');
}

/** An owner that is not the administrator: its name and its policy's limits. */
export interface Owner {
  readonly name: string;
  readonly limits: Limits | undefined;
  /**
   * The owners it was delegated from (remote management: `cert:alice` for `cert:alice/team1`, docs/daemon.md),
   * nearest first; each one's limits bound its own records and those of every owner below it.
   */
  readonly within?: readonly Owner[];
}

/** A record's owner (records from before owners existed are the default owner's). */
export const ownerOf = (r: { readonly owner?: string }): string => r.owner ?? 'default';

/** Whether `r` is `owner`'s or an owner's it delegated to (`cert:alice/team1` is within `cert:alice`). */
export const ownedBy = (r: { readonly owner?: string }, owner: string): boolean =>
  ownerOf(r) === owner || ownerOf(r).startsWith(`${owner}/`);

/** The owner and those it was delegated from: every one whose limits a create or volume by it must fit. */
export const scopesOf = (owner: Owner | undefined): readonly Owner[] => (owner ? [owner, ...(owner.within ?? [])] : []);

function checkQuota(memMb: number, records: readonly UnikernelRecord[], limits: Limits, who = ''): void {
  const count = records.length;
  if (limits.maxUnikernels !== undefined && count + 1 > limits.maxUnikernels)
    throw new FataError('FATA_QUOTA', `${who}over quota: unikernels ${count + 1} > ${limits.maxUnikernels} allowed; destroy one first`);
  const mem = records.reduce((s, u) => s + u.memMb, 0) + memMb;
  if (limits.maxMemoryMb !== undefined && mem > limits.maxMemoryMb)
    throw new FataError(
      'FATA_QUOTA',
      `${who}over quota: memory ${mem} MB (this one ${memMb}) > ${limits.maxMemoryMb} MB allowed; give it less with --mem=MB or destroy one`,
    );
}

function restartPolicy(p: RestartPolicy | undefined): RestartPolicy {
  if (p === undefined) return { kind: 'never' };
  if (p.kind === 'never' || p.kind === 'always') return { kind: p.kind };
  if (p.kind === 'on-failure' && Array.isArray(p.codes) && p.codes.every((c) => Number.isInteger(c) && c >= 0 && c <= 255))
    return { kind: 'on-failure', codes: p.codes.length ? [...p.codes] : [...DEFAULT_RESTART_CODES] };
  throw new FataError('FATA_BAD_FLAGS', 'restart policy must be never, always, or on-failure with exit codes 0-255');
}

/** With `sha256` (what a client checked, as `fata policy apply` does): the file must still have it. */
function checkHash(path: unknown, image: Image, sha256: unknown): void {
  if (sha256 !== undefined && sha256 !== image.sha256)
    throw new FataError(
      'FATA_IMAGE_CHANGED',
      `${String(path)} is no longer the image that was checked (sha256 ${image.sha256.slice(0, 12)}, checked ${String(sha256).slice(0, 12)}); check it again`,
    );
}

/** An update's new image: intact, spt, the same devices as attached, the same boot arguments accepted. */
export function checkUpdate(path: unknown, rec: UnikernelRecord, sha256?: unknown): { image: Image; bytes: Uint8Array } {
  const loaded = loadSpecImage(path);
  checkHash(path, loaded.image, sha256);
  checkDevices(loaded.image, { nets: new Map(rec.nets.map((n) => [n.dev, n])), blocks: new Map(rec.blocks.map((b) => [b.dev, b])) });
  const args = parseBootArgs(rec.bootArgs, loaded.image.manifest.params);
  if ('error' in args)
    throw new FataError('FATA_BAD_ARGS', `${loaded.image.manifest.name} refuses ${rec.name}'s boot arguments: ${args.error}`);
  return loaded;
}

/** Checks a create by `owner` (undefined: the administrator, under the daemon's limits only). */
export function planCreate(spec: CreateSpec, state: DaemonState, limits: Limits, owner?: Owner): Plan {
  checkName(spec.name);
  if (state.unikernels.some((u) => u.name === spec.name))
    throw new FataError('FATA_EXISTS', `a unikernel named '${spec.name}' exists; destroy it first or choose another name`);
  const { image, bytes } = loadSpecImage(spec.image);
  checkHash(spec.image, image, spec.sha256);
  const nets = new Map(spec.nets.map((n) => [n.dev, n]));
  const blocks = new Map(spec.blocks.map((b) => [b.dev, b]));
  if (nets.size !== spec.nets.length || blocks.size !== spec.blocks.length)
    throw new FataError('FATA_BAD_FLAGS', 'a device is attached twice');
  checkDevices(image, { nets, blocks });
  const args = parseBootArgs(spec.bootArgs, image.manifest.params);
  if ('error' in args) throw new FataError('FATA_BAD_ARGS', `${image.manifest.name}: ${args.error}`);
  if (args.help)
    throw new FataError(
      'FATA_BAD_ARGS',
      `--help is not a boot argument for a unikernel under the daemon; run 'fata run ${spec.image} --help'`,
    );
  const memMb = spec.memMb ?? DEFAULT_MEM_MB;
  if (!Number.isInteger(memMb) || memMb < MIN_MEM_MB)
    throw new FataError('FATA_BAD_FLAGS', `--mem=${memMb}: a unikernel needs at least ${MIN_MEM_MB} MB`);
  const macs = checkNets(spec, limits, owner);
  checkVolumes(spec, state, owner);
  checkQuota(memMb, state.unikernels, limits);
  for (const s of scopesOf(owner))
    if (s.limits)
      checkQuota(
        memMb,
        state.unikernels.filter((u) => ownedBy(u, s.name)),
        s.limits,
        `owner '${s.name}': `,
      );
  return { image, bytes, memMb, macs, restart: restartPolicy(spec.restart) };
}
