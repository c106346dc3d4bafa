/**
 * `fata run`: checks an image against the devices attached on the command
 * line, then runs it — in this process on the node target, or sealed in a
 * child process on the spt target (see ../targets/spt/bootstrap.ts). Returns
 * the unikernel's exit code: 0, 1, or 255 for an abort.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, readFileSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
// @ts-expect-error -- plain JavaScript on purpose (see the file); typed by its JSDoc.
import { hostEntry } from '../host/bundle-cache.mjs';
import { formatMac, type BlockDevice } from '../devices/index.ts';
import { buildService } from '../build/build.ts';
import { readImage, type Image } from '../build/image.ts';
import { EXIT_ABORT, EXIT_FAIL } from '../runtime/boot.ts';
import { FataError } from '../runtime/errors.ts';
import { FileBlock } from '../targets/node/block.ts';
import { hostSocketStack } from '../targets/node/socket-stack.ts';
import { openTap, TapDevice } from '../targets/node/tap.ts';
import { parseRunFlags, RUN_USAGE, type RunFlags } from './flags.ts';
import { checkDevices } from './check.ts';
import { ensureNativeTender } from '../host/native.ts';
import { compileImage } from './load.ts';
import { denyIoUringForChildren } from '../targets/spt/seccomp.ts';
import { makePlatform } from './platform.ts';



function randomMac(): Uint8Array {
  const m = randomBytes(6);
  m[0] = (m[0]! & 0xfe) | 0x02; // Unicast, locally administered.
  return new Uint8Array(m);
}

export async function loadImage(flags: RunFlags, say: (s: string) => void): Promise<{ image: Image; path: string }> {
  let path = resolve(flags.image);
  if (!existsSync(path)) throw new FataError('FATA_NO_IMAGE', `no image or service folder at '${flags.image}'`);
  if (statSync(path).isDirectory()) {
    path = (await buildService(path, { target: flags.target, net: flags.netMode, say })).path;
  } else if (flags.target || flags.netMode) {
    throw new FataError('FATA_BAD_FLAGS', '-t and --net= choose how a folder is built; an image is already built');
  }
  const image = readImage(readFileSync(path), path);
  if ('error' in image) throw new FataError('FATA_BAD_IMAGE', image.error);
  return { image, path };
}

export async function runCommand(argv: readonly string[], say: (s: string) => void): Promise<number> {
  const flags = parseRunFlags(argv);
  if ('error' in flags) {
    say(`fata run: ${flags.error}\n${RUN_USAGE}`);
    return EXIT_FAIL;
  }
  const { image, path } = await loadImage(flags, say);
  const m = image.manifest;
  if (m.engine !== `node ${process.version}`) say(`fata run: warning: ${m.name} was built for ${m.engine}, this is node ${process.version}`);
  const help = flags.bootArgs.includes('--help') || flags.bootArgs.includes('-h');
  if (!help) checkDevices(image, flags);
  if (m.target === 'spt' && !help) return runSpt(image, path, flags);
  // The node target: the unikernel runs in this process.
  const taps = new Map<string, TapDevice>();
  const blocks = new Map<string, BlockDevice>();
  if (!help) {
    for (const [name, iface] of flags.nets) taps.set(name, TapDevice.open(iface, { mac: flags.macs.get(name) ?? randomMac() }));
    for (const [name, file] of flags.blocks) blocks.set(name, FileBlock.open(file));
  }
  const platform = makePlatform(image, { target: 'node', taps, blocks, impair: flags.impair, socketStack: m.net === 'socket' ? () => hostSocketStack() : undefined });
  const start = compileImage(image)();
  const code = await start(platform, flags.bootArgs);
  for (const t of taps.values()) await t.close();
  return code;
}

/** V8 tuning flags an operator may pass to the sealed engine (memory and compiler knobs only). */
const TUNING = /^--(max-semi-space-size=\d+|min-semi-space-size=\d+|jitless|lite-mode|v8-pool-size=\d+|single-threaded-gc|no-opt|max-lazy|stack-size=\d+)$/;

/** `FATA_ENGINE_FLAGS="--max-semi-space-size=1 --jitless"`: checked against `TUNING`, refused otherwise. */
export function engineTuning(text = process.env.FATA_ENGINE_FLAGS ?? ''): string[] {
  const flags = text.split(/\s+/).filter(Boolean);
  for (const f of flags) {
    if (!TUNING.test(f)) throw new FataError('FATA_ENGINE_FLAG', `FATA_ENGINE_FLAGS: '${f}' is not an allowed engine tuning flag (${TUNING.source})`);
  }
  return flags;
}

/** Opens the devices, then starts the engine sealed with exactly those descriptors. */
async function runSpt(image: Image, path: string, flags: RunFlags): Promise<number> {
  const fds: number[] = [];
  const nets: { name: string; fd: number; mac: string; mtu: number }[] = [];
  const blocks: { name: string; fd: number }[] = [];
  try {
    for (const [name, iface] of flags.nets) {
      const t = openTap(iface);
      nets.push({ name, fd: 3 + fds.length, mac: formatMac(flags.macs.get(name) ?? randomMac()), mtu: t.mtu });
      fds.push(t.fd);
    }
    for (const [name, file] of flags.blocks) {
      const b = FileBlock.open(file);
      blocks.push({ name, fd: 3 + fds.length });
      fds.push(b.fd);
    }
  } catch (e) {
    for (const fd of fds) closeSync(fd);
    throw e;
  }
  const pre = denyIoUringForChildren();
  if (pre !== 'ok') {
    for (const fd of fds) closeSync(fd);
    throw new FataError('FATA_SECCOMP', `cannot prepare the sandbox: ${pre}`);
  }
  const impair = Object.fromEntries([...flags.impair].map(([n, v]) => [n, { seed: v.seed, faults: { ...v.faults, delayNs: v.faults.delayNs?.toString(), jitterNs: v.faults.jitterNs?.toString(), reorderDelayNs: v.faults.reorderDelayNs?.toString() } }]));
  const spec = JSON.stringify({ image: path, nets, blocks, impair, bootArgs: flags.bootArgs, tenderPid: process.pid });
  const tuning = engineTuning();
  // A young generation of 4 MB semispaces (V8's default grows to 16, and RSS with it, under load and
  // stays there): the website under wrk plateaus at ~90 MB instead of ~150 at the same request rate.
  const semi = tuning.some((f) => f.startsWith('--max-semi-space-size=')) ? [] : ['--max-semi-space-size=4'];
  const engineFlags = [...(flags.memMb ? [`--max-old-space-size=${flags.memMb}`] : []), ...semi, ...tuning];
  const bootstrap = await (hostEntry as (n: string) => Promise<string>)('bootstrap');
  ensureNativeTender(); // For the next run: bin/fata then seals with one engine start (see tender.c).
  const child = spawn(process.execPath, [...engineFlags, bootstrap, spec], {
    stdio: ['ignore', 'inherit', 'inherit', ...fds],
    // The unikernel sees no host environment; io_uring stays off so that its syscalls stay few.
    env: { UV_USE_IO_URING: '0', TZ: 'UTC' },
  });
  for (const fd of fds) closeSync(fd);
  const forward = (sig: NodeJS.Signals) => (): void => { child.kill(sig); };
  const onTerm = forward('SIGTERM'), onInt = forward('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  const code = await new Promise<number>((r) => child.on('exit', (c, sig) => r(c ?? (sig ? EXIT_ABORT : EXIT_FAIL))));
  process.off('SIGTERM', onTerm);
  process.off('SIGINT', onInt);
  return code;
}

