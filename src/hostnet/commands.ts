/**
 * `fata net create|list|destroy|forward|unforward`: what each does to the
 * host, in order, and how each is undone (docs/networking.md shows the same
 * commands). A command that fails part-way undoes what it did.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FataError } from '../host/errors.ts';
import { FATA_ROOT } from '../host/paths.ts';
import { formatIpv4Address, parseIpv4Address } from '../wire/ipv4.ts';
import {
  BRIDGE_ALIAS,
  cidrProblem,
  dhcpFiles,
  dhcpPlan,
  type Forward,
  forgetNetwork,
  type HostNetwork,
  inSubnet,
  loadNetworks,
  nftTable,
  overlaps,
  type Runner,
  run as realRun,
  saveNetwork,
  subnetOf,
  subnetText,
} from './net.ts';

const FATA = join(FATA_ROOT, 'bin/fata.mjs');
export const DHCP_IMAGE_DIR = join(FATA_ROOT, 'examples/dhcp-server');

export interface NetContext {
  readonly state: string;
  readonly run: Runner;
  readonly say: (s: string) => void;
}

export const defaultContext = (state: string, say: (s: string) => void): NetContext => ({ state, run: realRun, say });

const sys = (iface: string, file = ''): string => join('/sys/class/net', iface, file);
const ipForwardFile = (state: string): string => join(state, 'net', 'ip_forward.before');
const dhcpTap = (name: string): string => `${name}-dhcp`;

function needRoot(): void {
  if (process.geteuid?.() !== 0)
    throw new FataError('FATA_NET_ROOT', "fata net changes the host's interfaces and firewall: run it as root (sudo fata net …)");
}

function nameProblem(name: string): string | undefined {
  if (!/^[a-z][a-z0-9]{0,9}$/.test(name))
    return `network name '${name}' must be 1-10 lower-case letters and digits, starting with a letter (it names the bridge, NAME-dhcp and the table fata-NAME)`;
  return undefined;
}

/** The taps (and other ports) on a network's bridge, but its own DHCP tap. */
export function attached(name: string): string[] {
  const dir = sys(name, 'brif');
  return existsSync(dir) ? readdirSync(dir).filter((p) => p !== dhcpTap(name)) : [];
}

/** The host's IPv4 routes to subnets (not default), with their devices. */
export function hostRoutes(ctx: NetContext): { dst: string; dev: string }[] {
  const out = ctx.run(['ip', '-j', '-4', 'route', 'show', 'table', 'all']).out;
  const routes = JSON.parse(out || '[]') as { dst?: string; dev?: string; type?: string }[];
  return routes
    .filter((r) => r.dst && r.dst !== 'default' && (r.type === undefined || r.type === 'unicast'))
    .map((r) => ({ dst: r.dst!.includes('/') ? r.dst! : `${r.dst}/32`, dev: r.dev ?? '?' }));
}

export interface CreateOptions {
  readonly name: string;
  readonly cidr: string;
  readonly nat: boolean;
  /** true: the default range; a string: FIRST-LAST. */
  readonly dhcp?: true | string;
}

/**
 * What the host lacks of a network its state declares: nothing after a
 * create that finished; more when a create was cut short after it wrote the
 * state (the state is written first: it records the intent).
 */
function missing(ctx: NetContext, n: HostNetwork): string[] {
  if (!existsSync(sys(n.name))) return ['bridge'];
  const alias = readFileSync(sys(n.name, 'ifalias'), 'utf8').trim();
  // Empty: ours, cut short between `ip link add` and setting the alias; another alias: not ours.
  if (alias !== BRIDGE_ALIAS && (alias !== '' || !existsSync(sys(n.name, 'bridge'))))
    throw new FataError('FATA_NET_NAME_TAKEN', `an interface named '${n.name}' exists and is not a Fata network; choose another name`);
  const lacks: string[] = [];
  if (alias !== BRIDGE_ALIAS) lacks.push('alias');
  if ((Number(readFileSync(sys(n.name, 'flags'), 'utf8')) & 1) === 0) lacks.push('up');
  const addrs = JSON.parse(ctx.run(['ip', '-j', '-4', 'addr', 'show', 'dev', n.name]).out || '[]') as {
    addr_info?: { local: string; prefixlen: number }[];
  }[];
  if (!addrs.some((a) => a.addr_info?.some((i) => `${i.local}/${i.prefixlen}` === n.cidr))) lacks.push('address');
  if (readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() !== '1') lacks.push('ip_forward');
  if (ctx.run(['nft', 'list', 'table', 'ip', `fata-${n.name}`], { allowFail: true }).status !== 0) lacks.push('nftables table');
  if (n.dhcp && dhcpPid(ctx.state, n.name) === undefined) lacks.push('DHCP server');
  return lacks;
}

/**
 * Creates the network; an identical one that exists is left as it is, or
 * completed (`'completed'`) when a create cut short left the host without
 * some of it: every step of bringUp and startDhcp may be done again.
 */
export async function createNetwork(ctx: NetContext, o: CreateOptions): Promise<'created' | 'exists' | 'completed'> {
  needRoot();
  const bad = nameProblem(o.name) ?? cidrProblem(o.cidr);
  if (bad) throw new FataError('FATA_NET_ARGS', bad);
  const dhcp = o.dhcp === undefined ? undefined : dhcpPlan(o.cidr, o.dhcp === true ? undefined : o.dhcp);
  if (dhcp && 'error' in dhcp) throw new FataError('FATA_NET_ARGS', dhcp.error);
  const wanted: HostNetwork = { name: o.name, cidr: o.cidr, nat: o.nat, dhcp, forwards: [] };
  const all = loadNetworks(ctx.state);
  const same = all.find((n) => n.name === o.name);
  if (same) {
    if (same.cidr === o.cidr && same.nat === o.nat && JSON.stringify(same.dhcp) === JSON.stringify(dhcp)) {
      const lacks = missing(ctx, same);
      if (lacks.length === 0) return 'exists';
      ctx.say(`net: ${o.name}: declared but the host lacks its ${lacks.join(', ')} (a create cut short): completing it`);
      await bringUpAll(ctx, same);
      return 'completed';
    }
    throw new FataError(
      'FATA_NET_EXISTS',
      `network '${o.name}' exists with other settings (${describe(same)}); destroy it first (fata net destroy ${o.name}) or choose another name`,
    );
  }
  if (existsSync(sys(o.name)))
    throw new FataError('FATA_NET_NAME_TAKEN', `an interface named '${o.name}' exists and is not a Fata network; choose another name`);
  for (const n of all)
    if (overlaps(n.cidr, o.cidr))
      throw new FataError(
        'FATA_NET_OVERLAP',
        `${subnetText(o.cidr)} overlaps Fata network '${n.name}' (${subnetText(n.cidr)}); choose another subnet`,
      );
  for (const r of hostRoutes(ctx))
    if (overlaps(r.dst, o.cidr))
      throw new FataError(
        'FATA_NET_OVERLAP',
        `${subnetText(o.cidr)} overlaps the host's route to ${r.dst} on ${r.dev}; choose another subnet`,
      );
  saveNetwork(ctx.state, wanted);
  if (process.env.FATA_NET_FAILPOINT === 'create-after-save') process.kill(process.pid, 'SIGKILL'); // Tests only: a crash here.
  await bringUpAll(ctx, wanted);
  return 'created';
}

/** Brings a declared network up, whatever part of it exists; undoes all of it on failure. */
async function bringUpAll(ctx: NetContext, n: HostNetwork): Promise<void> {
  try {
    bringUp(ctx, n);
    if (n.dhcp && dhcpPid(ctx.state, n.name) === undefined) startDhcp(ctx, n);
  } catch (e) {
    await tearDown(ctx, n);
    throw e;
  }
}

/** Each step may be done again (a create cut short is completed by the next one). */
function bringUp(ctx: NetContext, n: HostNetwork): void {
  if (!existsSync(sys(n.name))) ctx.run(['ip', 'link', 'add', n.name, 'type', 'bridge']);
  ctx.run(['ip', 'link', 'set', n.name, 'alias', BRIDGE_ALIAS]);
  ctx.run(['ip', 'addr', 'replace', n.cidr, 'dev', n.name]);
  ctx.run(['ip', 'link', 'set', n.name, 'up']);
  // Forwarding is on while any Fata network exists; the value it had is put back when the last one goes.
  const file = ipForwardFile(ctx.state);
  if (!existsSync(file)) writeFileSync(file, readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8'));
  ctx.run(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  applyTable(ctx, n);
}

function applyTable(ctx: NetContext, n: HostNetwork): void {
  // Made if missing, emptied, and written whole in one transaction.
  const t = `fata-${n.name}`;
  ctx.run(['nft', '-f', '-'], { input: `table ip ${t}\ndelete table ip ${t}\n${nftTable(n)}` });
}

/** Undoes everything a network may have made, whatever state it is in. */
async function tearDown(ctx: NetContext, n: HostNetwork): Promise<void> {
  await stopDhcp(ctx, n.name);
  ctx.run(['nft', 'delete', 'table', 'ip', `fata-${n.name}`], { allowFail: true });
  if (existsSync(sys(dhcpTap(n.name)))) ctx.run(['ip', 'link', 'del', dhcpTap(n.name)], { allowFail: true });
  if (existsSync(sys(n.name))) ctx.run(['ip', 'link', 'del', n.name], { allowFail: true });
  forgetNetwork(ctx.state, n.name);
  const files = dhcpFiles(ctx.state, n.name);
  for (const f of [files.leases, files.pid, files.log]) rmSync(f, { force: true });
  const before = ipForwardFile(ctx.state);
  if (loadNetworks(ctx.state).length === 0 && existsSync(before)) {
    ctx.run(['sysctl', '-q', '-w', `net.ipv4.ip_forward=${readFileSync(before, 'utf8').trim()}`]);
    rmSync(before);
  }
}

export async function destroyNetwork(ctx: NetContext, name: string, force: boolean): Promise<void> {
  needRoot();
  const n = loadNetworks(ctx.state).find((x) => x.name === name);
  if (!n) throw new FataError('FATA_NET_UNKNOWN', `there is no Fata network '${name}' (fata net list shows them)`);
  const ports = attached(name);
  if (ports.length > 0 && !force)
    throw new FataError(
      'FATA_NET_BUSY',
      `network '${name}' has ${ports.join(', ')} attached; stop those unikernels first, or destroy with --force (their links go down)`,
    );
  await tearDown(ctx, n);
}

function parseGuest(text: string): { guest: string; guestPort: number } | undefined {
  const m = /^([\d.]+):(\d+)$/.exec(text);
  if (!m || parseIpv4Address(m[1]!) === undefined) return undefined;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { guest: m[1]!, guestPort: port } : undefined;
}

export function forward(ctx: NetContext, name: string, proto: string, hostPort: string, guestText: string): Forward {
  needRoot();
  const n = loadNetworks(ctx.state).find((x) => x.name === name);
  if (!n) throw new FataError('FATA_NET_UNKNOWN', `there is no Fata network '${name}' (fata net list shows them)`);
  if (proto !== 'tcp' && proto !== 'udp') throw new FataError('FATA_NET_ARGS', `protocol '${proto}' is not tcp or udp`);
  const hp = Number(hostPort);
  if (!Number.isInteger(hp) || hp < 1 || hp > 65535)
    throw new FataError('FATA_NET_ARGS', `host port '${hostPort}' is not a port (1-65535)`);
  const g = parseGuest(guestText);
  if (!g) throw new FataError('FATA_NET_ARGS', `'${guestText}' is not GUESTIP:PORT, like 10.0.0.2:80`);
  if (!inSubnet(n.cidr, parseIpv4Address(g.guest)!) || g.guest === n.cidr.split('/')[0])
    throw new FataError(
      'FATA_NET_ARGS',
      `${g.guest} is not a guest address on '${name}' (${subnetText(n.cidr)}, the host is ${n.cidr.split('/')[0]})`,
    );
  for (const other of loadNetworks(ctx.state))
    for (const f of other.forwards)
      if (f.proto === proto && f.hostPort === hp)
        throw new FataError(
          'FATA_NET_FORWARD_TAKEN',
          `${proto} port ${hp} is already forwarded to ${f.guest}:${f.guestPort} on '${other.name}'; unforward it first`,
        );
  const f: Forward = { proto, hostPort: hp, ...g };
  const next: HostNetwork = { ...n, forwards: [...n.forwards, f] };
  applyTable(ctx, next);
  saveNetwork(ctx.state, next);
  return f;
}

export function unforward(ctx: NetContext, name: string, proto: string, hostPort: string): void {
  needRoot();
  const n = loadNetworks(ctx.state).find((x) => x.name === name);
  if (!n) throw new FataError('FATA_NET_UNKNOWN', `there is no Fata network '${name}' (fata net list shows them)`);
  const left = n.forwards.filter((f) => !(f.proto === proto && f.hostPort === Number(hostPort)));
  if (left.length === n.forwards.length)
    throw new FataError('FATA_NET_ARGS', `'${name}' forwards no ${proto} port ${hostPort} (fata net list shows its forwards)`);
  const next = { ...n, forwards: left };
  applyTable(ctx, next);
  saveNetwork(ctx.state, next);
}

export function describe(n: HostNetwork): string {
  const parts = [n.cidr, n.nat ? 'nat' : 'no nat'];
  if (n.dhcp) parts.push(`dhcp ${n.dhcp.first}-${n.dhcp.last}`);
  return parts.join(', ');
}

export interface NetworkInfo extends HostNetwork {
  readonly subnet: string;
  readonly bridgeUp: boolean;
  readonly attached: string[];
  readonly dhcpRunning: boolean;
}

export function listNetworks(ctx: NetContext): NetworkInfo[] {
  return loadNetworks(ctx.state).map((n) => ({
    ...n,
    subnet: subnetText(n.cidr),
    bridgeUp: existsSync(sys(n.name)) && readFileSync(sys(n.name, 'operstate'), 'utf8').trim() !== 'down',
    attached: attached(n.name),
    dhcpRunning: dhcpPid(ctx.state, n.name) !== undefined,
  }));
}

// ------------------------------------------------------------------ DHCP

function dhcpPid(state: string, name: string): number | undefined {
  const f = dhcpFiles(state, name).pid;
  if (!existsSync(f)) return undefined;
  const pid = Number(readFileSync(f, 'utf8'));
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** Fata's DHCP server (examples/dhcp-server, sealed on spt) on a tap in the bridge, under a keeper that restarts it. */
function startDhcp(ctx: NetContext, n: HostNetwork): void {
  const files = dhcpFiles(ctx.state, n.name);
  const image = join(DHCP_IMAGE_DIR, 'dist/dhcp-server.fata');
  ctx.run([process.execPath, FATA, 'build', '-t', 'spt', DHCP_IMAGE_DIR]);
  if (!existsSync(files.leases)) {
    writeFileSync(files.leases, '');
    truncateSync(files.leases, 1 << 20);
  }
  const tap = dhcpTap(n.name);
  if (!existsSync(sys(tap))) ctx.run(['ip', 'tuntap', 'add', 'dev', tap, 'mode', 'tap']);
  ctx.run(['ip', 'link', 'set', tap, 'master', n.name]);
  ctx.run(['ip', 'link', 'set', tap, 'up']);
  const prefix = subnetOf(n.cidr)!.prefixLen;
  const host = n.cidr.split('/')[0]!;
  const args = [
    ...['run', `--net:service=${tap}`, `--block:leases=${files.leases}`, image, `--ipv4=${n.dhcp!.server}/${prefix}`],
    ...[`--pool-first=${n.dhcp!.first}`, `--pool-last=${n.dhcp!.last}`, `--dns-servers=${host}`],
    ...(n.nat ? [`--router=${host}`] : []),
  ];
  const log = openSync(files.log, 'a');
  const keeper = spawn(process.execPath, [FATA, 'net', 'dhcp-keeper', files.pid, '--', ...args], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  keeper.unref();
  writeFileSync(files.pid, String(keeper.pid));
  ctx.say(`net: ${n.name}: DHCP ${n.dhcp!.first}-${n.dhcp!.last} from ${n.dhcp!.server} (log ${files.log})`);
}

async function stopDhcp(ctx: NetContext, name: string): Promise<void> {
  const pid = dhcpPid(ctx.state, name);
  if (pid === undefined) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && dhcpPid(ctx.state, name) !== undefined; i++) await new Promise((r) => setTimeout(r, 50));
  if (dhcpPid(ctx.state, name) !== undefined) process.kill(pid, 'SIGKILL');
}

/**
 * `fata net dhcp-keeper PIDFILE -- RUN ARGS`: the parent a network's DHCP unikernel dies with (it dies with
 * whatever started it), restarting it after a failure with a backoff of 1 s doubling to 1 min; SIGTERM stops both.
 */
export async function dhcpKeeper(pidFile: string, args: readonly string[]): Promise<number> {
  writeFileSync(pidFile, String(process.pid));
  let stopping = false;
  let child: ReturnType<typeof spawn> | undefined;
  process.on('SIGTERM', () => {
    stopping = true;
    child?.kill('SIGTERM');
  });
  // FATA_NET_TIE_TO=PID (tests): the keeper and its server go when that process does, even one killed with SIGKILL.
  const tie = Number(process.env.FATA_NET_TIE_TO ?? 0);
  if (tie > 0) {
    setInterval(() => {
      try {
        process.kill(tie, 0);
      } catch {
        stopping = true;
        child?.kill('SIGTERM');
      }
    }, 500).unref();
  }
  let backoff = 1000;
  while (!stopping) {
    const started = Date.now();
    child = spawn(process.execPath, [FATA, ...args], { stdio: 'inherit' });
    const code = await new Promise<number>((r) => child!.once('exit', (c) => r(c ?? 1)));
    if (stopping) break;
    process.stderr.write(`net: dhcp-keeper: the DHCP server exited (${code}); restarting in ${backoff / 1000} s\n`);
    await new Promise((r) => setTimeout(r, backoff));
    backoff = Date.now() - started > 60_000 ? 1000 : Math.min(backoff * 2, 60_000);
  }
  rmSync(pidFile, { force: true });
  return 0;
}

export const formatAddress = formatIpv4Address;
