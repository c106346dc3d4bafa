/**
 * `fata policy check FILE` and `fata policy apply FILE [--dry-run]`
 * (docs/policy.md): read the file, ask the daemon and the host what there
 * is, check the whole file, and — for apply — carry out the plan one daemon
 * request at a time. Nothing changes unless the whole file checks. Each
 * step is one of the daemon's own crash-safe operations, so a kill at any
 * point leaves a state that the next apply plans from.
 */
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { FataError } from '../host/errors.ts';
import { request } from '../daemon/client.ts';
import type { Limits } from '../daemon/create.ts';
import { interfaceExists, isBridge } from '../daemon/host-net.ts';
import { socketPath } from '../daemon/protocol.ts';
import { createNetwork, defaultContext, destroyNetwork, hostRoutes } from '../hostnet/commands.ts';
import { loadNetworks, stateDir } from '../hostnet/net.ts';
import { checkPolicy, type DaemonView, type HostView, type RunningUnikernel } from './check.ts';
import { describeStep, plan, type Step } from './plan.ts';
import { type HostPolicy, loadHostPolicy, type Placed } from './policy.ts';

export const POLICY_USAGE = `usage: fata policy check [--socket=PATH] [--state-dir=DIR] FILE
       fata policy apply [--dry-run] [--trial=MS] [--socket=PATH] [--state-dir=DIR] FILE
  FILE declares the whole host in JSON: networks, volumes and unikernels (image, required signer, devices,
  memory, boot arguments, restart policy); docs/policy.md has the format.
  check   validates it as a whole against itself, the host and the daemon, and changes nothing: every problem
          is printed as FILE:LINE:COLUMN: what is wrong, and the exit code is 1.
  apply   checks it the same way, then converges the daemon to it: creates what is missing, updates what
          changed (a new image through the daemon's update, with its trial; anything else by creating it
          again), destroys unikernels and volumes the file does not declare. Applying it again changes nothing.
  --dry-run   print the plan, change nothing       --trial=MS  an update's trial (default 3000)
  --socket    the daemon's socket (else FATA_SOCKET, else /run/fata.sock)
  --state-dir where fata net keeps its networks (else FATA_STATE_DIR, else /var/lib/fata)`;

type Say = (s: string) => void;

interface Flags {
  readonly sub: 'check' | 'apply';
  readonly file: string;
  readonly dryRun: boolean;
  readonly trialMs: number | undefined;
  readonly socket: string;
  readonly netState: string;
}

const bad = (msg: string): FataError => new FataError('FATA_BAD_FLAGS', `${msg}\n${POLICY_USAGE}`);

function parseFlags(argv: readonly string[]): Flags {
  const [sub, ...rest] = argv;
  if (sub !== 'check' && sub !== 'apply') throw bad(`fata policy: '${sub ?? ''}' is not check or apply`);
  let dryRun = false,
    trialMs: number | undefined,
    socket: string | undefined,
    state: string | undefined;
  const files: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) {
      files.push(a);
      continue;
    }
    const value = (): string => {
      const v = m[2] ?? rest[++i];
      if (v === undefined || v === '') throw bad(`fata policy: --${m[1]} needs a value`);
      return v;
    };
    if (m[1] === 'dry-run' && sub === 'apply' && m[2] === undefined) dryRun = true;
    else if (m[1] === 'trial' && sub === 'apply') {
      const v = value();
      if (!/^\d+$/.test(v)) throw bad(`fata policy apply: --trial=${v} is not a number of milliseconds`);
      trialMs = Number(v);
    } else if (m[1] === 'socket') socket = value();
    else if (m[1] === 'state-dir') state = value();
    else throw bad(`fata policy ${sub}: unknown flag '${a}'`);
  }
  if (files.length !== 1) throw bad(`fata policy ${sub}: give one FILE`);
  return { sub, file: files[0]!, dryRun, trialMs, socket: socketPath(socket), netState: stateDir(state) };
}

/** What the daemon runs and keeps, and the limits it applies to whoever asks. */
async function daemonView(socket: string): Promise<DaemonView> {
  const hello = (await request(socket, { op: 'hello' })) as {
    owner: string;
    admin: boolean;
    stateDir: string;
    limits?: Limits;
    ownerLimits?: Limits;
    trust?: boolean;
  };
  const rows = (await request(socket, { op: 'list' })) as { name: string }[];
  const unikernels = await Promise.all(rows.map((r) => request(socket, { op: 'info', name: r.name }) as Promise<RunningUnikernel>));
  const volumes = (await request(socket, { op: 'volume-list' })) as DaemonView['volumes'];
  return {
    owner: hello.owner,
    admin: hello.admin,
    stateDir: hello.stateDir,
    limits: hello.limits ?? {},
    ownerLimits: hello.ownerLimits,
    trust: hello.trust === true,
    unikernels,
    volumes,
  };
}

function hostMemMb(): number {
  const m = /^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Math.floor(Number(m[1]) / 1024) : Number.MAX_SAFE_INTEGER;
}

function hostView(netState: string, daemonStateDir: string): HostView {
  const ctx = defaultContext(netState, () => {});
  let volumeFsBytes: number | undefined;
  try {
    if (existsSync(daemonStateDir)) {
      const s = statfsSync(daemonStateDir);
      volumeFsBytes = s.bsize * s.blocks;
    }
  } catch {
    volumeFsBytes = undefined;
  }
  let routes: HostView['routes'] = [];
  try {
    routes = hostRoutes(ctx);
  } catch {
    routes = []; // No iproute2 here: fata net create checks the routes again when it runs.
  }
  return { memMb: hostMemMb(), volumeFsBytes, networks: loadNetworks(netState), routes, isBridge, interfaceExists };
}

const dotted = (ptr: string): string => ptr.slice(1).split('/').join('.').replace(/~1/g, '/').replace(/~0/g, '~');

function refuse(file: string, problems: readonly Placed[], say: Say): never {
  for (const p of problems) say(`${p.at}: ${p.path ? `${dotted(p.path)}: ` : ''}${p.message}`);
  throw new FataError('FATA_POLICY', `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'} (above); nothing was changed`);
}

/** Test-only (docs/policy.md): apply kills itself with SIGKILL after this many steps. */
const failpoint = (): number | undefined => {
  const v = process.env.FATA_POLICY_FAILPOINT;
  return v && /^\d+$/.test(v) ? Number(v) : undefined;
};

async function carryOut(s: Step, f: Flags, say: Say): Promise<void> {
  switch (s.op) {
    case 'net-create': {
      const ctx = defaultContext(f.netState, say);
      const n = s.network;
      if (s.repair) await destroyNetwork(ctx, n.name, true);
      await createNetwork(ctx, { name: n.name, cidr: n.cidr, nat: n.nat, ...(n.dhcp !== undefined ? { dhcp: n.dhcp } : {}) });
      return;
    }
    case 'destroy':
      await request(f.socket, { op: 'destroy', name: s.name });
      return;
    case 'volume-destroy':
      await request(f.socket, { op: 'volume-destroy', name: s.name });
      return;
    case 'volume-create':
      await request(f.socket, { op: 'volume-create', name: s.volume.name, bytes: s.volume.bytes });
      return;
    case 'update':
      await request(f.socket, { op: 'update', name: s.name, image: s.image, sha256: s.sha256, trialMs: f.trialMs });
      return;
    case 'create':
      await request(f.socket, { op: 'create', spec: s.spec });
      return;
  }
}

/** `fata policy check|apply …`. */
export async function policyCommand(argv: readonly string[], say: Say, out: Say): Promise<number> {
  const f = parseFlags(argv);
  const loaded = loadHostPolicy(f.file);
  if ('problems' in loaded) refuse(f.file, loaded.problems, say);
  const p: HostPolicy = loaded;
  const daemon = await daemonView(f.socket);
  const host = hostView(f.netState, daemon.stateDir);
  const checked = await checkPolicy(p, daemon, host);
  if (checked.problems.length) refuse(f.file, checked.problems, say);
  const steps = plan(p, daemon, checked.sha256, host.networks, isBridge);
  if (f.sub === 'check') {
    const mem = p.unikernels.reduce((s, u) => s + u.memMb, 0);
    const vol = p.volumes.reduce((s, v) => s + v.bytes, 0);
    out(
      `${f.file}: good: ${p.networks.length} network(s), ${p.volumes.length} volume(s) (${vol} bytes), ` +
        `${p.unikernels.length} unikernel(s) (${mem} MB); apply would make ${steps.length} change(s)`,
    );
    for (const [name, s] of checked.signers)
      out(`  ${name}: signed by ${s.subject}, valid until ${s.notAfter.toISOString()}, ${daysLeft(s.notAfter)} days left`);
    return 0;
  }
  if (steps.length === 0) {
    out(`${f.file}: nothing to change`);
    return 0;
  }
  if (f.dryRun) {
    out(`${f.file}: ${steps.length} change(s) (dry run: none made)`);
    for (const s of steps) out(`  ${describeStep(s)}`);
    return 0;
  }
  const stopAt = failpoint();
  for (const [i, s] of steps.entries()) {
    try {
      await carryOut(s, f, say);
    } catch (e) {
      if (e instanceof FataError)
        throw new FataError(
          e.code,
          `${e.message}\n(${describeStep(s)}: step ${i + 1} of ${steps.length} failed; the ${i} before it were made — apply the file again once this is fixed)`,
        );
      throw e;
    }
    out(`done: ${describeStep(s)}`);
    if (stopAt === i + 1) process.kill(process.pid, 'SIGKILL');
  }
  out(`${f.file}: applied ${steps.length} change(s)`);
  return 0;
}

const daysLeft = (d: Date): number => Math.floor((d.getTime() - Date.now()) / 86_400_000);
