/**
 * The spt bootstrap: the first code the sealed engine runs, as root when
 * root started it. In order:
 *   1. no core dumps, ever; join the memory cgroup the tender made, if any;
 *   2. read and verify the image, compile (not run) its bundle (with V8's
 *      code cache where the image's folder has one: ./code-cache.ts);
 *   3. adopt the device descriptors the tender passed (3, 4, …);
 *   4. start the libuv worker threads the tap's waits will use;
 *   5. record the descriptors that are the engine's own and close the rest;
 *   6. resource limits; drop to the unprivileged account; re-arm the
 *      parent-death signal and check that the tender is still there (as
 *      at the start: a tender that died before an arming is seen by its
 *      end of the console, fd 1, being closed);
 *   7. install the seccomp program (./filter.ts) on every thread;
 *   8. only then evaluate the service and boot it.
 * Exit codes: the service's (0, 1), 255 on an abort.
 */
import { readdirSync, readFileSync, readlinkSync, closeSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { BlockDevice } from '../devices/index.ts';
import { parseMac } from '../devices/index.ts';
import { readImage, type Image } from '../build/image.ts';
import { compileImage, readSourceMap } from './load.ts';
import { codeCacheDir, enableCodeCache } from './code-cache.ts';
import { makePlatform } from './platform.ts';
import { readFileParams } from './file-params.ts';
import { FileBlock } from '../targets/node/block.ts';
import { libc } from '../targets/node/libc.ts';
import { TapDevice } from '../targets/node/tap.ts';
import { fillRandom, sha256Hex } from '../targets/node/native-crypto.ts';
import { FrameSocketDevice } from '../targets/node/frame-socket.ts';
import type { WaitableNetDevice } from '../targets/node/platform.ts';
import { FdConsole } from '../targets/node/console.ts';
import { parseLaunchSpec } from './launch.ts';
import { parseBootArgs } from '../runtime/args.ts';
import {
  type Account,
  dieWithParent,
  dropPrivileges,
  limit,
  noCoreDumps,
  resolveAccount,
  seal,
  RLIMIT_DATA,
  RLIMIT_FSIZE,
  RLIMIT_NOFILE,
} from '../targets/spt/seccomp.ts';
import { checkDevices } from './check.ts';

function fail(message: string): never {
  process.stderr.write(`fata spt: ${message}\n`);
  process.exit(255);
}
const must = (r: 'ok' | string): void => {
  if (r !== 'ok') fail(`cannot seal: ${r}`);
};

must(noCoreDumps());
const parsed = parseLaunchSpec(process.argv[2]);
if (typeof parsed === 'string') fail(parsed);
const spec = parsed;
const POLLERR = 0x8,
  POLLHUP = 0x10;
/**
 * The tender is gone when its end of our console is: a pipe (the native tender's) then polls POLLERR, a
 * socketpair (Node's spawn makes one for a 'pipe') POLLHUP and no POLLERR unless unread bytes were lost.
 * Asked right after each arming of the parent-death signal, it covers the tender dying before that arming,
 * when the signal goes to nobody: the kernel would give us to init, and we would run on with no one to stop us.
 */
function tenderGone(): boolean {
  const fd1 = new Uint8Array(8);
  new DataView(fd1.buffer).setInt32(0, 1, true);
  return (libc.poll(fd1, 1, 0) as number) > 0 && (fd1[6]! & (POLLERR | POLLHUP)) !== 0;
}
/** SIGKILL when the tender dies from now on, and exit now if it already has. */
function dieWithTender(): void {
  must(dieWithParent());
  if (tenderGone()) process.exit(255);
}
// Whoever started us may die before the seal; then so do we (the native tender armed this before exec,
// the JavaScript one cannot: until here a SIGKILL to it left us running).
dieWithTender();
if (spec.cgroup) {
  try {
    writeFileSync(join(spec.cgroup, 'cgroup.procs'), '0');
  } catch (e) {
    fail(`cannot join the memory cgroup ${spec.cgroup}: ${(e as Error).message}`);
  }
}
const account = resolveAccount(spec.user);
if ('error' in account) {
  process.stderr.write(`fata: error FATA_BAD_USER: ${account.error}\n`);
  process.exit(1);
}
const imageBytes = readFileSync(spec.image);
// fata run --trust checked a signature over some bytes: these must be the same (docs/trust.md).
if (spec.imageSha256 !== undefined && sha256Hex(imageBytes) !== spec.imageSha256) {
  process.stderr.write(
    `fata: error FATA_IMAGE_CHANGED: ${spec.image} changed after fata run checked its signature, and nothing of it ran; run it again\n`,
  );
  process.exit(1);
}
const image = readImage(imageBytes, spec.image, sha256Hex);
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
// V8's code cache where the image's folder opted in (./code-cache.ts): written now, before the drop and the seal.
const flushCodeCache = enableCodeCache(codeCacheDir(spec.image, image.sha256));
const instantiate = compileImage(image, spec.image, readSourceMap(spec.image, image, sha256Hex));
flushCodeCache();

// File parameters (param.file): read now, while files can be opened; the spec carried only their paths.
const bootArgs = readFileParams(spec.bootArgs, image.manifest.params);
if ('error' in bootArgs) {
  process.stderr.write(`fata: error FATA_BAD_ARGS: ${image.manifest.name}: ${bootArgs.error}\n`);
  process.exit(1);
}
// A boot-argument mistake is said here, on stderr, as `fata run` says it on the node target; not on the console.
const checkedArgs = parseBootArgs(spec.bootArgs, image.manifest.params);
if ('error' in checkedArgs) {
  process.stderr.write(`${image.manifest.name}: ${checkedArgs.error}\n`);
  process.exit(1);
}

const taps = new Map<string, WaitableNetDevice>();
for (const n of spec.nets) {
  const opts = { mac: parseMac(n.mac)!, mtu: n.mtu };
  taps.set(n.name, n.link === 'socketpair' ? new FrameSocketDevice(n.fd, n.name, opts) : new TapDevice(n.fd, n.name, opts));
}
const blocks = new Map<string, BlockDevice>();
const blockPlan: { fd: number; capacity: bigint }[] = [];
for (const b of spec.blocks) {
  const dev = new FileBlock(b.fd);
  blocks.set(b.name, dev);
  blockPlan.push({ fd: b.fd, capacity: dev.capacity });
}

// The rest waits once, for libuv's threads: in a function, not at the top level, so that the bundle can be CommonJS
// (an ES entry costs a boot about 1.3 ms of CPU and 1 MiB of resident memory for the engine's module loader).
async function startThreadsSealAndRun(image: Image, account: Account, bootArgs: string[]): Promise<never> {
  // libuv starts its worker threads on first use; thread creation is not allowed once sealed.
  await new Promise<void>((r) => libc.poll.async(new Uint8Array(8), 0, 0, () => r()));

  // Node loads its CA store on a thread of its own when TLS is first used; a service that uses TLS gets
  // that done now, while threads may still start (after the seal it would warn and fail). node:https and node:http2
  // load node:tls as they load (Fastify and Hono's node server require them), and so does the first touch of the fetch
  // globals (Koa asks whether a body is a Response).
  const bundle = image.sections.get('bundle');
  const bundleText = bundle ? Buffer.from(bundle.buffer, bundle.byteOffset, bundle.byteLength).toString('latin1') : '';
  if (/"node:(tls|https|http2)"|\b(Response|Headers|FormData|WebSocket|EventSource)\b|\bfetch\(/.test(bundleText)) {
    (await import('node:tls')).createSecureContext({});
  }
  // process.cwd() is getcwd(2), which the seal refuses; Node caches the answer of its first call. Libraries ask as they
  // load (path.resolve of a relative path; Express's view root). Asked now, before the seal (a folder that is gone
  // answers ENOENT now as it would later: nothing to cache then).
  try {
    process.cwd();
  } catch {
    /* the tender's folder was removed */
  }
  // os.hostname() is uname(2), which the seal refuses (EPERM), and libraries ask as they start (pino, Fastify's
  // logger, puts it in every line). A unikernel's host name is its own name, as its DHCP client gives it, never the host's.
  (process.getBuiltinModule('node:os') as { hostname: () => string }).hostname = () => image.manifest.name;

  // process.stdout and process.stderr as console devices: npm libraries touch them as they load (debug, under Express,
  // asks whether stderr is a terminal) and console.log writes through them. Node would make each on first use as a
  // libuv pipe, which the seal refuses (EPERM), and which turns the descriptor non-blocking, so that Node's exit, finding
  // the flag changed, tries to restore it, is refused and aborts. These only poll(2) and write(2) the console.
  // Each is made on first use: node:stream costs a boot about 2 ms, and a service that logs through its console
  // device never needs it.
  for (const [name, fd] of [
    ['stdout', 1],
    ['stderr', 2],
  ] as const) {
    const device = new FdConsole(fd);
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: true,
      get() {
        const { Writable } = process.getBuiltinModule('node:stream');
        const stream = new Writable({
          write(chunk: Buffer, _encoding, done): void {
            device.write(chunk);
            done();
          },
        });
        const value = Object.assign(stream, { fd, isTTY: false });
        Object.defineProperty(process, name, { configurable: true, enumerable: true, value });
        return value;
      },
    });
  }

  const platform = makePlatform(image, { target: 'spt', taps, blocks, impair: spec.impair, randomSource: fillRandom });

  /**
   * The engine's own descriptors. Both tenders hand over only 0, 1, 2 and the
   * devices (everything else is closed before exec), and every descriptor
   * Node and libuv make is close-on-exec: so a descriptor without FD_CLOEXEC
   * came from outside and is closed, and one with it was made by this engine
   * since exec, before any service code existed. Of those, files are closed
   * too (nothing reads them after the seal); pipes, eventfds and the epoll
   * instance are the event loop's and stay, each named in the filter.
   */
  const devices = new Set<number>([...spec.nets.map((n) => n.fd), ...spec.blocks.map((b) => b.fd)]);
  const ownFds: number[] = [];
  for (const name of readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    if (fd <= 2 || devices.has(fd)) continue;
    let flags = 0,
      target = '';
    try {
      flags = parseInt(/^flags:\s+([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${name}`, 'utf8'))?.[1] ?? '0', 8);
      target = readlinkSync(`/proc/self/fd/${name}`);
    } catch {
      continue; /* the directory listing's own descriptor, closed by now */
    }
    const cloexec = (flags & 0o2000000) !== 0;
    if (cloexec && /^(pipe:|anon_inode:)/.test(target)) ownFds.push(fd);
    else
      try {
        closeSync(fd);
      } catch {
        /* already gone */
      }
  }

  // Thread ids as the engine sees them (the last NSpid field: /proc is the host's, and its names are host ids).
  const tids = readdirSync('/proc/self/task')
    .map((t) => {
      try {
        return Number(/^NSpid:.*?(\d+)\s*$/m.exec(readFileSync(`/proc/self/task/${t}/status`, 'utf8'))?.[1]);
      } catch {
        return 0; // The thread ended between the listing and the read (the CA store loader, say).
      }
    })
    .filter((t) => t > 0);

  // Limits: nothing written to a file beyond the largest block device (the console is a pipe to the tender),
  // no descriptor beyond those held, and --mem of growth in writable memory from here on.
  const vmData = BigInt(/^VmData:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0') * 1024n;
  must(
    limit(
      RLIMIT_FSIZE,
      blockPlan.reduce((m, b) => (b.capacity > m ? b.capacity : m), 0n),
    ),
  );
  must(limit(RLIMIT_DATA, vmData + BigInt(spec.memMb) * 1024n * 1024n));

  must(dropPrivileges(account));
  must(limit(RLIMIT_NOFILE, BigInt(Math.max(2, ...devices, ...ownFds) + 1)));
  // A change of uid clears the parent-death signal: arm it again, and make sure the tender did not die in between.
  dieWithTender();

  must(seal({ pid: process.pid, tids, ownFds, consoleFds: [1, 2], netFds: spec.nets.map((n) => n.fd), blocks: blockPlan }));

  let code: number;
  try {
    code = await instantiate()(platform, bootArgs);
  } catch (e) {
    // Straight to descriptor 2, synchronously: the process exits on the next line.
    writeSync(2, `fata spt: abort: ${(e as Error).stack ?? e}\n`);
    code = 255;
  }
  process.exit(code);
}
void startThreadsSealAndRun(image, account, bootArgs);
