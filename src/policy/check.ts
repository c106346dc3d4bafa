/**
 * `fata policy check`: the whole file against itself, the host and the
 * daemon, before anything changes — names, MACs and addresses unique;
 * every bridge declared or on the host; networks that do not clash with
 * the host's; volumes declared, attached once, of the size they have; the
 * memory and volume totals within the host and the daemon's (and the
 * owner's) limits; every image intact, its devices and boot arguments
 * accepted, and signed by the signer the file names, checked with the same
 * code as `fata verify`. Every problem is placed at its line and column;
 * the result also carries what apply needs (each image's hash).
 */
import { FataError } from '../host/errors.ts';
import { existsSync } from 'node:fs';
import { signaturePath, verifyImage } from '../build/trust.ts';
import { loadSpecImage, type Limits } from '../daemon/create.ts';
import type { RestartPolicy } from '../daemon/protocol.ts';
import { checkDevices } from '../tender/check.ts';
import { parseBootArgs } from '../runtime/args.ts';
import { cidrProblem, dhcpPlan, type HostNetwork, inSubnet, overlaps, subnetOf, subnetText } from '../hostnet/net.ts';
import { formatIpv4Address } from '../wire/ipv4.ts';
import { pointer } from './json.ts';
import type { HostPolicy, NetworkDecl, Placed, UnikernelDecl } from './policy.ts';

/** A unikernel as the daemon's `info` reports it. */
export interface RunningUnikernel {
  readonly name: string;
  readonly state: string;
  readonly image: { readonly sha256: string; readonly source: string; readonly name: string };
  readonly nets: readonly { readonly dev: string; readonly bridge: string; readonly mac: string; readonly tap: string }[];
  readonly blocks: readonly { readonly dev: string; readonly volume: string }[];
  readonly memMb: number;
  readonly restartPolicy: RestartPolicy;
  readonly maxRestarts: number;
  readonly bootArgs: readonly string[];
}

/** What the daemon says: who asks, the limits that apply, what it runs and keeps. */
export interface DaemonView {
  readonly owner: string;
  readonly admin: boolean;
  readonly limits: Limits;
  readonly ownerLimits: Limits | undefined;
  /** It runs only signed images (--trust). */
  readonly trust: boolean;
  readonly stateDir: string;
  readonly unikernels: readonly RunningUnikernel[];
  readonly volumes: readonly { readonly name: string; readonly bytes: number; readonly attachedTo?: string }[];
}

/** What the host says. */
export interface HostView {
  /** MemTotal. */
  readonly memMb: number;
  /** The size of the file system that holds the daemon's volumes, if known. */
  readonly volumeFsBytes: number | undefined;
  /** Fata networks (fata net), from their state. */
  readonly networks: readonly HostNetwork[];
  readonly routes: readonly { readonly dst: string; readonly dev: string }[];
  isBridge(name: string): boolean;
  interfaceExists(name: string): boolean;
}

export interface Checked {
  readonly problems: Placed[];
  /** Each unikernel's image hash, as checked (apply passes it on, so that a file changed since is refused). */
  readonly sha256: ReadonlyMap<string, string>;
  /** Each signed unikernel's signer: subject and days left. */
  readonly signers: ReadonlyMap<string, { readonly subject: string; readonly notAfter: Date }>;
}

/** The same settings as a declared network (dhcp compared as the range it gives). */
export function sameNetwork(d: NetworkDecl, n: HostNetwork): boolean {
  const dhcp = d.dhcp === undefined ? undefined : dhcpPlan(d.cidr, d.dhcp === true ? undefined : d.dhcp);
  return n.cidr === d.cidr && n.nat === d.nat && JSON.stringify(n.dhcp) === JSON.stringify(dhcp);
}

type Add = (path: (string | number)[], message: string, key?: boolean) => void;

/** Networks: each a good subnet, none overlapping another, the host's routes or a Fata network; one that exists the same. */
function checkNetworks(p: HostPolicy, host: HostView, add: Add): void {
  const declared = new Set(p.networks.map((n) => n.name));
  for (const [i, n] of p.networks.entries()) {
    const bad = cidrProblem(n.cidr);
    if (bad) {
      add(['networks', n.name, 'cidr'], bad.replace(/^--cidr=/, ''));
      continue;
    }
    if (n.dhcp !== undefined) {
      const d = dhcpPlan(n.cidr, n.dhcp === true ? undefined : n.dhcp);
      if ('error' in d!) add(['networks', n.name, 'dhcp'], d.error.replace(/^--dhcp/, 'dhcp'));
    }
    for (const m of p.networks.slice(0, i))
      if (!cidrProblem(m.cidr) && overlaps(m.cidr, n.cidr))
        add(['networks', n.name, 'cidr'], `${subnetText(n.cidr)} overlaps network '${m.name}' (${subnetText(m.cidr)}) of this file`);
    const existing = host.networks.find((x) => x.name === n.name);
    if (existing && !sameNetwork(n, existing))
      add(
        ['networks', n.name],
        `Fata network '${n.name}' exists with other settings (${existing.cidr}${existing.nat ? ', nat' : ''}${existing.dhcp ? ', dhcp' : ''}); change the file to match, or destroy it first (fata net destroy ${n.name})`,
        true,
      );
    if (!existing && host.interfaceExists(n.name))
      add(['networks', n.name], `an interface named '${n.name}' exists and is not a Fata network; choose another name`, true);
    for (const o of host.networks)
      if (o.name !== n.name && !declared.has(o.name) && overlaps(o.cidr, n.cidr))
        add(['networks', n.name, 'cidr'], `${subnetText(n.cidr)} overlaps Fata network '${o.name}' (${subnetText(o.cidr)})`);
    if (!existing)
      for (const r of host.routes)
        if (r.dev !== n.name && overlaps(r.dst, n.cidr))
          add(['networks', n.name, 'cidr'], `${subnetText(n.cidr)} overlaps the host's route to ${r.dst} on ${r.dev}`);
  }
}

/** The totals against one set of limits (the daemon's, or the owner's): count, memory, volume storage, bridges. */
function checkLimits(p: HostPolicy, label: string, l: Limits | undefined, add: Add): void {
  if (!l) return;
  const volumes = p.volumes.reduce((s, v) => s + v.bytes, 0);
  const mem = p.unikernels.reduce((s, u) => s + u.memMb, 0);
  if (l.maxVolumeBytes !== undefined && volumes > l.maxVolumeBytes)
    add(['volumes'], `${label}volumes total ${volumes} bytes > ${l.maxVolumeBytes} allowed`);
  if (l.maxMemoryMb !== undefined && mem > l.maxMemoryMb)
    add(['unikernels'], `${label}memory totals ${mem} MB > ${l.maxMemoryMb} MB allowed`);
  if (l.maxUnikernels !== undefined && p.unikernels.length > l.maxUnikernels)
    add(['unikernels'], `${label}${p.unikernels.length} unikernels > ${l.maxUnikernels} allowed`);
  if (l.bridges)
    for (const u of p.unikernels)
      for (const n of u.nets)
        if (!l.bridges.includes(n.bridge))
          add(
            ['unikernels', u.name, 'nets', n.dev, 'bridge'],
            `${label}bridge '${n.bridge}' is not allowed (allowed: ${l.bridges.join(', ') || 'none'})`,
          );
}

/** Volumes that exist keep their size; the totals fit the host and every limit. */
function checkTotals(p: HostPolicy, daemon: DaemonView, host: HostView, add: Add): void {
  for (const v of p.volumes) {
    const have = daemon.volumes.find((x) => x.name === v.name);
    if (have && have.bytes !== v.bytes)
      add(
        ['volumes', v.name, 'size'],
        `volume '${v.name}' exists with ${have.bytes} bytes, not ${v.bytes}; volumes are not resized: keep its size, or destroy it (its data goes) with fata volume destroy ${v.name}`,
      );
  }
  checkLimits(p, "the daemon's quota: ", daemon.limits, add);
  checkLimits(p, `owner '${daemon.owner}': `, daemon.ownerLimits, add);
  const volumes = p.volumes.reduce((s, v) => s + v.bytes, 0);
  if (host.volumeFsBytes !== undefined && volumes > host.volumeFsBytes)
    add(['volumes'], `volumes total ${volumes} bytes > the ${host.volumeFsBytes} bytes of the file system that holds them`);
  const mem = p.unikernels.reduce((s, u) => s + u.memMb, 0);
  if (mem > host.memMb) add(['unikernels'], `memory totals ${mem} MB > the host's ${host.memMb} MB`);
}

/** Each unikernel's bridges, MACs (unique) and volumes (declared, attached once), and its signer's trust. */
function checkDeclarations(p: HostPolicy, host: HostView, add: Add): void {
  const declared = new Set(p.networks.map((n) => n.name));
  const macs = new Map<string, string>();
  const attached = new Map<string, string>();
  for (const u of p.unikernels) {
    for (const n of u.nets) {
      const at = ['unikernels', u.name, 'nets', n.dev];
      if (!declared.has(n.bridge) && !host.isBridge(n.bridge))
        add(
          [...at, 'bridge'],
          `no network '${n.bridge}' in this file and no bridge '${n.bridge}' on the host; declare it under "networks" or make the bridge (ip link add ${n.bridge} type bridge)`,
        );
      if (!n.mac) continue;
      if (Number.parseInt(n.mac.slice(0, 2), 16) & 1)
        add([...at, 'mac'], `${n.mac} is a group address; give a unicast MAC (an even first octet), like 02:00:00:00:00:01`);
      const other = macs.get(n.mac);
      if (other) add([...at, 'mac'], `MAC ${n.mac} is also ${other}'s`);
      else macs.set(n.mac, `${u.name}.${n.dev}`);
    }
    for (const b of u.blocks) {
      const at = ['unikernels', u.name, 'blocks', b.dev, 'volume'];
      if (!p.volumes.some((v) => v.name === b.volume))
        add(at, `no volume '${b.volume}' in this file; declare it under "volumes" (apply makes it)`);
      const other = attached.get(b.volume);
      if (other) add(at, `volume '${b.volume}' is also attached to ${other}; a volume is attached to one unikernel`);
      else attached.set(b.volume, `${u.name}.${b.dev}`);
    }
    if (u.signer && !p.trust)
      add(['unikernels', u.name, 'signer'], 'a required signer needs "trust": {"ca": "CA.pem"} at the top of the file to check it against');
  }
}

/** An address from the boot arguments: unique, and a guest address of its network, outside its DHCP range. */
function checkAddress(p: HostPolicy, u: UnikernelDecl, addr: number, addresses: Map<number, string>, add: Add): void {
  const at = ['unikernels', u.name, 'bootArgs'];
  const text = formatIpv4Address(addr);
  const other = addresses.get(addr);
  if (other) add(at, `address ${text} is also ${other}'s`);
  else addresses.set(addr, u.name);
  const net = u.nets.length === 1 ? p.networks.find((n) => n.name === u.nets[0]!.bridge) : undefined;
  if (!net || cidrProblem(net.cidr)) return;
  const hostAddr = subnetOf(net.cidr)!.host;
  if (!inSubnet(net.cidr, addr) || addr === hostAddr)
    add(
      at,
      `address ${text} is not a guest address of network '${net.name}' (${subnetText(net.cidr)}, the host is ${formatIpv4Address(hostAddr)})`,
    );
  const d = net.dhcp === undefined ? undefined : dhcpPlan(net.cidr, net.dhcp === true ? undefined : net.dhcp);
  if (!d || 'error' in d) return;
  if (addr >= ipNumber(d.first) && addr <= ipNumber(d.last))
    add(at, `address ${text} is inside network '${net.name}''s DHCP range ${d.first}-${d.last}`);
  if (text === d.server) add(at, `address ${text} is the DHCP server's on '${net.name}'`);
}

interface ImageFacts {
  readonly sha256: Map<string, string>;
  readonly signers: Map<string, { subject: string; notAfter: Date }>;
  readonly addresses: Map<number, string>;
}

/** The image: intact and spt, its devices attached, its boot arguments accepted, signed by the required signer. */
async function checkImage(p: HostPolicy, u: UnikernelDecl, facts: ImageFacts, daemonTrust: boolean, now: Date, add: Add): Promise<void> {
  let loaded: ReturnType<typeof loadSpecImage>;
  try {
    loaded = loadSpecImage(u.image);
  } catch (e) {
    add(['unikernels', u.name, 'image'], errorText(e));
    return;
  }
  facts.sha256.set(u.name, loaded.image.sha256);
  try {
    checkDevices(loaded.image, { nets: new Map(u.nets.map((n) => [n.dev, n])), blocks: new Map(u.blocks.map((b) => [b.dev, b])) });
  } catch (e) {
    const k = e instanceof FataError && /--block:/.test(e.message) ? 'blocks' : 'nets';
    const text = errorText(e)
      .replace(/--net:(\w+)/, 'net device $1')
      .replace(/--block:(\w+)/, 'block device $1');
    add(['unikernels', u.name, u[k].length ? k : 'image'], text);
  }
  const args = parseBootArgs(u.bootArgs, loaded.image.manifest.params);
  if ('error' in args) add(['unikernels', u.name, 'bootArgs'], `${loaded.image.manifest.name} refuses its boot arguments: ${args.error}`);
  else if (args.help) add(['unikernels', u.name, 'bootArgs'], '--help is not a boot argument for a unikernel under the daemon');
  else if (args.ipv4) checkAddress(p, u, args.ipv4.address, facts.addresses, add);
  if (daemonTrust && !existsSync(signaturePath(u.image)))
    add(
      ['unikernels', u.name, 'image'],
      `the daemon runs only signed images (--trust) and there is no ${signaturePath(u.image)}; sign it with fata sign`,
    );
  if (!u.signer || !p.trust) return;
  try {
    const s = await verifyImage(u.image, loaded.bytes, { trust: p.trust.ca, crl: p.trust.crl, now });
    if (s.subject !== u.signer)
      add(['unikernels', u.name, 'signer'], `${u.image} is signed by ${s.subject}, not by ${u.signer} as the file requires`);
    else facts.signers.set(u.name, { subject: s.subject, notAfter: s.notAfter });
  } catch (e) {
    add(['unikernels', u.name, 'image'], errorText(e));
  }
}

export async function checkPolicy(p: HostPolicy, daemon: DaemonView, host: HostView, now = new Date()): Promise<Checked> {
  const problems: Placed[] = [];
  const add: Add = (path, message, key = false) => {
    const ptr = pointer(path);
    problems.push({ at: p.where(ptr, key), path: ptr, message });
  };
  checkNetworks(p, host, add);
  checkTotals(p, daemon, host, add);
  checkDeclarations(p, host, add);
  const facts: ImageFacts = { sha256: new Map(), signers: new Map(), addresses: new Map() };
  for (const u of p.unikernels) await checkImage(p, u, facts, daemon.trust, now, add);
  problems.sort((a, b) => order(a.at) - order(b.at));
  return { problems, sha256: facts.sha256, signers: facts.signers };
}

const errorText = (e: unknown): string => (e instanceof FataError ? `${e.code}: ${e.message}` : String((e as Error)?.message ?? e));

function ipNumber(text: string): number {
  return text.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

/** Sorts `FILE:LINE:COLUMN` by line, then column. */
function order(at: string): number {
  const m = /:(\d+):(\d+)$/.exec(at);
  return m ? Number(m[1]) * 1e6 + Number(m[2]) : 0;
}
