/**
 * `fata run`: checks an image against the devices attached on the command
 * line, then runs it — in this process on the node target, or sealed in a
 * child process on the spt target (see ./bootstrap.ts). Returns
 * the unikernel's exit code: 0, 1, or 255 for an abort.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
// @ts-expect-error -- plain JavaScript on purpose (see the file); typed by its JSDoc.
import { hostEntry } from '../host/bundle-cache.mjs';
import { formatMac, type BlockDevice } from '../devices/index.ts';
import { buildService } from '../build/build.ts';
import { readImage, type Image } from '../build/image.ts';
import { verifyImage } from '../build/trust.ts';
import { EXIT_ABORT, EXIT_FAIL } from '../runtime/boot.ts';
import { parseBootArgs } from '../runtime/args.ts';
import { readFileParams } from './file-params.ts';
import { FataError } from '../host/errors.ts';
import { FileBlock } from '../targets/node/block.ts';
import { hostSocketStack } from '../runtime/socket-stack.ts';
import { openTap, TapDevice } from '../targets/node/tap.ts';
import { FrameSocketDevice } from '../targets/node/frame-socket.ts';
import type { WaitableNetDevice } from '../targets/node/platform.ts';
import { closeUserLinks, holdNetNamespace, openUserLinks, type UserLink } from './user-links.ts';
import { parseRunFlags, RUN_USAGE, type RunFlags } from './flags.ts';
import { checkDevices } from './check.ts';
import { ensureNativeTender } from '../host/native.ts';
import { compileImage, readSourceMap } from './load.ts';
import { denyIoUringForChildren, ENGINE_NAMESPACES, onParentDeath, unshare } from '../targets/spt/seccomp.ts';
import { DEFAULT_MEM_MB, encodeLaunchSpec, type LaunchSpec } from './launch.ts';
import { libc } from '../targets/node/libc.ts';
import { makeMemoryCgroup } from './cgroup.ts';
import { relayConsole } from './console-relay.ts';
import { makePlatform } from './platform.ts';

function randomMac(): Uint8Array {
  const m = randomBytes(6);
  m[0] = (m[0]! & 0xfe) | 0x02; // Unicast, locally administered.
  return new Uint8Array(m);
}

/**
 * What building a folder says under `fata run`: its notes and warnings (a development certificate made, …)
 * but not its progress or size table, which would come before the service's own output (`fata build DIR`
 * shows them).
 */
const buildNotes =
  (say: (s: string) => void) =>
  (line: string): void => {
    if (/^build: (made|note|warning)\b/.test(line)) say(line);
  };

export async function loadImage(
  flags: RunFlags,
  say: (s: string) => void,
): Promise<{ image: Image; path: string; verified: string | undefined }> {
  let path = resolve(flags.image);
  if (!existsSync(path)) throw new FataError('FATA_NO_IMAGE', `no image or service folder at '${flags.image}'`);
  if (statSync(path).isDirectory()) {
    path = (await buildService(path, { target: flags.target, net: flags.netMode, say: buildNotes(say) })).path;
  } else if (flags.target || flags.netMode) {
    throw new FataError('FATA_BAD_FLAGS', '-t and --net= choose how a folder is built; an image is already built');
  }
  const bytes = readFileSync(path);
  // The signature first: a changed image is refused for that, whatever else is wrong with it.
  const verified = await checkTrust(flags, path, bytes, say);
  const image = readImage(bytes, path);
  if ('error' in image) throw new FataError('FATA_BAD_IMAGE', image.error);
  return { image, path, verified };
}

/**
 * `--trust`: the image's signature checked before anything else happens (docs/trust.md); a refusal is a
 * FataError naming the reason. (PKI.js loads only then, so a run without --trust does not pay for it.)
 */
async function checkTrust(flags: RunFlags, path: string, bytes: Buffer, say: (s: string) => void): Promise<string | undefined> {
  if (flags.trust === undefined) return undefined;
  const s = await verifyImage(path, bytes, { trust: flags.trust, crl: flags.crl });
  say(`fata run: signed by ${s.subject} (issuer ${s.issuer}, serial ${s.serial}, valid until ${s.notAfter.toISOString()})`);
  // The SHA-256 of what was checked: the spt engine reads the file again and must find these bytes (LaunchSpec.imageSha256).
  return createHash('sha256').update(bytes).digest('hex');
}

const SIGTERM = 15;

export async function runCommand(argv: readonly string[], say: (s: string) => void): Promise<number> {
  // A unikernel dies with whatever started us (npx, a script, a test runner), on either target, even one that
  // does not pass its SIGTERM on: SIGTERM to us when our parent goes. Armed first, before a build that may
  // take seconds: armed later, a parent that died meanwhile would signal nobody and we would run on.
  const parent = process.ppid;
  onParentDeath(SIGTERM);
  if (process.ppid !== parent) return EXIT_FAIL;
  const flags = parseRunFlags(argv);
  if ('error' in flags) {
    say(`fata run: ${flags.error}\n${RUN_USAGE}`);
    return EXIT_FAIL;
  }
  const { image, path, verified } = await loadImage(flags, say);
  const m = image.manifest;
  if (m.engine !== `node ${process.version}`)
    say(`fata run: warning: ${m.name} was built for ${m.engine}, this is node ${process.version}`);
  // Boot arguments are checked here, against the manifest's schema, so that a mistake is said on stderr before anything starts.
  const args = parseBootArgs(flags.bootArgs, m.params);
  if ('error' in args) {
    say(`${m.name}: ${args.error}`);
    return EXIT_FAIL;
  }
  const help = args.help;
  // File parameters are read here (on spt, again by the bootstrap before the seal): a missing file is said now.
  const bootArgs = readFileParams(flags.bootArgs, m.params);
  if ('error' in bootArgs) {
    say(`${m.name}: ${bootArgs.error}`);
    return EXIT_FAIL;
  }
  if (!help) checkDevices(image, flags);
  if (m.target === 'spt' && !help) return runSpt(image, path, verified, flags, say, parent);
  // The node target: the unikernel runs in this process.
  const taps = new Map<string, WaitableNetDevice>();
  const blocks = new Map<string, BlockDevice>();
  let links: UserLink[] = [];
  if (!help) {
    // User-mode links: the gateway runs on this event loop, beside the unikernel.
    links = await openUserLinks(flags.usernets, say, new Set(flags.impair.keys()));
    for (const l of links)
      taps.set(l.name, new FrameSocketDevice(l.engineFd, l.name, { mac: flags.macs.get(l.name) ?? randomMac(), mtu: l.mtu }));
    for (const [name, iface] of flags.nets)
      if (!flags.usernets.has(name))
        taps.set(name, TapDevice.open(iface, { mac: flags.macs.get(name) ?? randomMac(), create: flags.create.has(name) }));
    for (const [name, file] of flags.blocks) blocks.set(name, FileBlock.open(file));
  }
  const platform = makePlatform(image, {
    target: 'node',
    taps,
    blocks,
    impair: flags.impair,
    socketStack: m.net === 'socket' ? () => hostSocketStack() : undefined,
  });
  const start = compileImage(image, path, help ? undefined : readSourceMap(path, image))();
  const code = await start(platform, bootArgs);
  for (const t of taps.values()) await t.close();
  await closeUserLinks(links);
  return code;
}

/** When V8 optimizes a function with Maglev (its default is 400 calls); the native tender passes the same. */
export const MAGLEV_AFTER = '--invocation-count-for-maglev=1000';

/** V8 tuning flags an operator may pass to the sealed engine (memory and compiler knobs only). */
const TUNING =
  /^--(max-semi-space-size=\d+|min-semi-space-size=\d+|jitless|lite-mode|v8-pool-size=\d+|single-threaded-gc|no-opt|max-lazy|stack-size=\d+|invocation-count-for-maglev=\d+)$/;

/** `FATA_ENGINE_FLAGS="--max-semi-space-size=1 --jitless"`: checked against `TUNING`, refused otherwise. */
export function engineTuning(text = process.env.FATA_ENGINE_FLAGS ?? ''): string[] {
  const flags = text.split(/\s+/).filter(Boolean);
  for (const f of flags) {
    if (!TUNING.test(f))
      throw new FataError('FATA_ENGINE_FLAG', `FATA_ENGINE_FLAGS: '${f}' is not an allowed engine tuning flag (${TUNING.source})`);
  }
  return flags;
}

/**
 * Marks every descriptor this process holds above 2 close-on-exec, except
 * `keep`: whatever our own caller leaked to us (a pipe, an inotify
 * descriptor, a file) must not reach the engine we are about to spawn.
 */
function closeOnExecAll(keep: readonly number[]): void {
  for (const name of readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    if (fd > 2 && !keep.includes(fd)) libc.fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
}
const F_SETFD = 2,
  FD_CLOEXEC = 1;

/** What the tender says when the engine ends on a signal: why, and what to do. */
export function exitReason(signal: string, memMb: number, oomKilled: boolean, saidOutOfMemory: boolean): string {
  if (oomKilled || saidOutOfMemory) {
    return `fata: error FATA_OUT_OF_MEMORY: the unikernel exceeded its memory limit (--mem=${memMb} MB) and was stopped; give it more with --mem=MB`;
  }
  if (signal === 'SIGSYS')
    return 'fata: error FATA_SEALED: the unikernel made a system call of a foreign architecture and the seal stopped it';
  if (signal === 'SIGXFSZ') return 'fata: error FATA_FILE_SIZE: the unikernel wrote past the size of its block device and was stopped';
  return `fata: error FATA_KILLED: the unikernel was stopped by ${signal}`;
}

/**
 * The engine's devices, at descriptors 3, 4, … in the launch spec's order: taps (or, for user-mode links,
 * the engine's end of each socketpair, whose gateway is started here), then block files.
 */
async function openSptDevices(
  flags: RunFlags,
  say: (s: string) => void,
): Promise<{ fds: number[]; nets: LaunchSpec['nets'][number][]; blocks: { name: string; fd: number }[]; links: UserLink[] }> {
  const fds: number[] = [];
  const nets: LaunchSpec['nets'][number][] = [];
  const blocks: { name: string; fd: number }[] = [];
  let links: UserLink[] = [];
  try {
    links = await openUserLinks(flags.usernets, say, new Set(flags.impair.keys()));
    for (const [name, iface] of flags.nets) {
      const link = links.find((l) => l.name === name);
      const t = link ? { fd: link.engineFd, mtu: link.mtu } : openTap(iface, { create: flags.create.has(name) });
      const mac = formatMac(flags.macs.get(name) ?? randomMac());
      nets.push({ name, fd: 3 + fds.length, mac, mtu: t.mtu, ...(link ? { link: 'socketpair' as const } : {}) });
      fds.push(t.fd);
    }
    for (const [name, file] of flags.blocks) {
      const b = FileBlock.open(file);
      blocks.push({ name, fd: 3 + fds.length });
      fds.push(b.fd);
    }
  } catch (e) {
    for (const fd of fds) closeSync(fd);
    for (const l of links) if (!fds.includes(l.engineFd)) closeSync(l.engineFd);
    await closeUserLinks(links);
    throw e;
  }
  return { fds, nets, blocks, links };
}

/**
 * Opens the devices, then starts the engine as a child with exactly those
 * descriptors, /dev/null for input and a pipe for its console, in new PID,
 * IPC, UTS and network namespaces and a memory cgroup where root can make
 * them; the bootstrap drops privileges and seals (docs/spt.md).
 */
async function runSpt(
  image: Image,
  path: string,
  verified: string | undefined,
  flags: RunFlags,
  say: (s: string) => void,
  parent: number,
): Promise<number> {
  const { fds, nets, blocks, links } = await openSptDevices(flags, say);
  const memMb = flags.memMb ?? DEFAULT_MEM_MB;
  const pre = denyIoUringForChildren();
  if (pre !== 'ok') {
    for (const fd of fds) closeSync(fd);
    await closeUserLinks(links);
    throw new FataError('FATA_SECCOMP', `cannot prepare the sandbox: ${pre}`);
  }
  const cgroup = makeMemoryCgroup(image.manifest.name, memMb);
  const spec: LaunchSpec = {
    image: path,
    imageSha256: verified,
    nets,
    blocks,
    impair: flags.impair,
    bootArgs: flags.bootArgs,
    native: false,
    user: flags.user ?? '',
    memMb,
    cgroup: 'path' in cgroup ? cgroup.path : undefined,
  };
  const tuning = engineTuning();
  // A young generation of 4 MB semispaces (V8's default grows to 16, and RSS with it, under load and
  // stays there): the website under wrk plateaus at ~90 MB instead of ~150 at the same request rate.
  const semi = tuning.some((f) => f.startsWith('--max-semi-space-size=')) ? [] : ['--max-semi-space-size=4'];
  // Maglev after 1,000 calls of a function instead of 400: the engine's own loading of its main module runs node:path's
  // isPosixPathSeparator once per character of the bootstrap's path, three to five times over, enough with an install
  // folder of 50 characters to optimize it, and the first optimization brings 2.2 MiB of the compilers' code into every
  // idle engine (docs/profiling.md, "Boot: what the engine touches"). A busy service's code gets there in milliseconds.
  const tierUp = tuning.some((f) => f.startsWith('--invocation-count-for-maglev=')) ? [] : [MAGLEV_AFTER];
  // V8's own heap limit only when --mem is given: V8 sizes its heap growth by that limit, and the default
  // 512 made it collect so often that the website served a third fewer requests (the cgroup and
  // RLIMIT_DATA bound the process either way).
  const engineFlags = [...(flags.memMb ? [`--max-old-space-size=${flags.memMb}`] : []), ...semi, ...tierUp, ...tuning];
  const bootstrap = await (hostEntry as (n: string) => Promise<string>)('bootstrap');
  ensureNativeTender(); // For the next run: bin/fata then seals with one engine start (see tender.c).
  closeOnExecAll(fds);
  // The second wall, for root: the engine sees no other process, no host network, IPC or hostname.
  // unshare() moves this thread's next child (and, for IPC/UTS/net, this thread, which needs them no more);
  // nothing else may be spawned after it: the first child is the new PID namespace's init.
  const backToHostNet = links.length > 0 && process.geteuid?.() === 0 ? holdNetNamespace() : undefined;
  if (process.geteuid?.() === 0) {
    const ns = unshare(ENGINE_NAMESPACES);
    if (ns !== 'ok') say(`fata run: note: no namespaces for the engine (${ns}); the seal still holds`);
  }
  const child = spawn(process.execPath, [...engineFlags, bootstrap, encodeLaunchSpec(spec)], {
    stdio: ['ignore', 'pipe', 'pipe', ...fds],
    // Its own session: no controlling terminal to inject input into, and the operator's ^C reaches us, not it.
    detached: true,
    // The unikernel sees no host environment; io_uring stays off so that its syscalls stay few.
    env: { UV_USE_IO_URING: '0', TZ: 'UTC' },
  });
  for (const fd of fds) closeSync(fd);
  // The gateways' host sockets are made from here on: in the host's network namespace, not the engine's.
  backToHostNet?.();
  let saidOutOfMemory = false;
  const relayed = Promise.all([
    relayConsole(child.stdout!, 1),
    relayConsole(child.stderr!, 2, (t) => {
      saidOutOfMemory ||= /out of memory/i.test(t);
    }),
  ]);
  const forward = (sig: NodeJS.Signals) => (): void => {
    child.kill(sig);
  };
  const onTerm = forward('SIGTERM'),
    onInt = forward('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  // Our parent's death (runCommand armed SIGTERM for it) is forwarded; a service that ignores it gets 5 s, then SIGKILL.
  let orphanedAt = 0;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    if (!orphanedAt) {
      orphanedAt = Date.now();
      child.kill('SIGTERM');
    } else if (Date.now() - orphanedAt >= 5000) child.kill('SIGKILL');
  }, 500);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('exit', (c, sig) => r([c, sig])));
  clearInterval(watch);
  await relayed;
  await closeUserLinks(links);
  process.off('SIGTERM', onTerm);
  process.off('SIGINT', onInt);
  const oom = 'path' in cgroup ? cgroup.oomKills() > 0 : false;
  if ('path' in cgroup)
    try {
      cgroup.remove();
    } catch {
      /* the next tender sweeps it */
    }
  if (code !== null) return code;
  say(exitReason(signal ?? 'an unknown signal', memMb, oom, saidOutOfMemory));
  return signal ? EXIT_ABORT : EXIT_FAIL;
}
