/**
 * The spt bootstrap: the first code the sealed engine runs. In order:
 *   1. read and verify the image, compile (not run) its bundle;
 *   2. adopt the device descriptors the tender passed (3, 4, …);
 *   3. start the libuv worker threads the tap's waits will use;
 *   4. close every other descriptor that names a file, socket or device;
 *   5. install the seccomp allow-list (default deny) on every thread;
 *   6. only then evaluate the service and boot it.
 * Exit codes: the service's (0, 1), 255 on an abort.
 */
import { readdirSync, readFileSync, readlinkSync, closeSync } from 'node:fs';
import type { BlockDevice } from '../../devices/index.ts';
import { parseMac } from '../../devices/index.ts';
import { readImage } from '../../build/image.ts';
import { compileImage } from '../../tender/load.ts';
import { makePlatform } from '../../tender/platform.ts';
import { FileBlock } from '../node/block.ts';
import { libc } from '../node/libc.ts';
import { TapDevice } from '../node/tap.ts';
import { dieWithParent, seal } from './seccomp.ts';
import { checkDevices } from '../../tender/check.ts';

interface Spec {
  image: string;
  nets: { name: string; fd: number; mac: string; mtu: number }[];
  blocks: { name: string; fd: number }[];
  bootArgs: string[];
  /** The tender's pid: if our parent is no longer it, the tender died before the guard was set. */
  tenderPid: number;
  /** Started by the native tender, which became this engine (exec): no parent to watch; the devices are checked here. */
  native?: boolean;
  /** Fault injection per net device, times as decimal strings of ns. */
  impair: Record<string, { seed: number; faults: Record<string, number | string | undefined> }>;
}

function fail(message: string): never {
  process.stderr.write(`fata spt: ${message}\n`);
  process.exit(255);
}

const spec = JSON.parse(process.argv[2] ?? 'null') as Spec | null;
if (!spec) fail('the bootstrap is started by `fata run`, not by hand');
if (!spec.native) {
  const orphanGuard = dieWithParent();
  if (orphanGuard !== 'ok') fail(orphanGuard);
  // The tender may already be gone (killed between spawn and here): then so are we.
  if (process.ppid !== spec.tenderPid) fail('the tender exited before the engine started');
}
const image = readImage(readFileSync(spec.image), spec.image);
if ('error' in image) {
  if (!spec.native) fail(image.error);
  // As the CLI reports it: the native tender hands over no image it has not at least glanced at.
  process.stderr.write(`fata: error FATA_BAD_IMAGE: ${image.error}\n`);
  process.exit(1);
}
if (spec.native) {
  try {
    checkDevices(image, { nets: new Map(spec.nets.map((n) => [n.name, n])), blocks: new Map(spec.blocks.map((b) => [b.name, b])) });
  } catch (e) {
    process.stderr.write(`fata: error ${(e as { code?: string }).code ?? 'FATA_DEVICES'}: ${(e as Error).message}\n`);
    process.exit(1);
  }
}
const instantiate = compileImage(image);

const taps = new Map<string, TapDevice>();
for (const n of spec.nets) taps.set(n.name, new TapDevice(n.fd, n.name, { mac: parseMac(n.mac)!, mtu: n.mtu }));
const blocks = new Map<string, BlockDevice>();
const blockFds: number[] = [];
for (const b of spec.blocks) {
  blocks.set(b.name, new FileBlock(b.fd));
  blockFds.push(b.fd);
}

// libuv starts its worker threads on first use; thread creation is not allowed once sealed.
await new Promise<void>((r) => libc.poll.async(new Uint8Array(8), 0, 0, () => r()));

// Node loads its CA store on a thread of its own when TLS is first used; a service that uses TLS gets
// that done now, while threads may still start (after the seal it would warn and fail).
const bundle = image.sections.get('bundle');
if (bundle && Buffer.from(bundle.buffer, bundle.byteOffset, bundle.byteLength).includes('"node:tls"')) {
  (await import('node:tls')).createSecureContext({});
}

const keep = new Set<number>([0, 1, 2, ...spec.nets.map((n) => n.fd), ...blockFds]);
for (const name of readdirSync('/proc/self/fd')) {
  const fd = Number(name);
  if (keep.has(fd)) continue;
  let target: string;
  try { target = readlinkSync(`/proc/self/fd/${name}`); } catch { continue; }
  // Pipes and anonymous inodes (epoll, eventfd) are the engine's own plumbing; anything else goes.
  if (!/^(pipe:|anon_inode:)/.test(target)) {
    try { closeSync(fd); } catch { /* already gone (the directory listing's own fd) */ }
  }
}

const impair = new Map(Object.entries(spec.impair ?? {}).map(([n, v]) => [n, {
  seed: v.seed,
  faults: Object.fromEntries(Object.entries(v.faults).filter(([, x]) => x !== undefined)
    .map(([k, x]) => [k, k.endsWith('Ns') ? BigInt(x as string) : x])),
}]));
const platform = makePlatform(image, { target: 'spt', taps, blocks, impair });
const sealed = seal({ blockFds });
if (sealed !== 'ok') fail(`cannot seal: ${sealed}`);

let code: number;
try {
  code = await instantiate()(platform, spec.bootArgs);
} catch (e) {
  process.stderr.write(`fata spt: abort: ${(e as Error).stack ?? e}\n`);
  code = 255;
}
process.exit(code);
