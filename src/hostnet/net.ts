/**
 * Host networks for unikernels (`fata net`): a Linux bridge carrying the
 * host's address on a subnet, optionally NAT out of the host's default
 * route, port forwards in, and Fata's own DHCP server on the bridge.
 *
 * Every kernel change goes through `ip` and `nft` (iproute2 and nftables,
 * the operator's own tools: what Fata runs is exactly what docs/networking.md
 * shows, and `nft list table ip fata-NAME` reads it back). Each network owns
 * one nftables table, `ip fata-NAME`, written whole from the state on every
 * change (`nft -f` is atomic) and deleted whole by `destroy`; nothing else in
 * the host's ruleset is touched. The bridge is marked with the interface
 * alias `fata-net` so that a name taken by anything else is refused. State:
 * STATE_DIR/net/NAME.json, written before the kernel is changed and removed
 * after it is undone, so an interrupted command is finished by running it
 * again.
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { FataError } from '../host/errors.ts';
import { formatIpv4Address, parseIpv4Address, parseIpv4Cidr, prefixMask } from '../wire/ipv4.ts';

export const BRIDGE_ALIAS = 'fata-net';

export interface Forward {
  readonly proto: 'tcp' | 'udp';
  readonly hostPort: number;
  readonly guest: string;
  readonly guestPort: number;
}

export interface HostNetwork {
  readonly name: string;
  /** The host's address on the bridge with the prefix, `10.0.0.1/24`. */
  readonly cidr: string;
  readonly nat: boolean;
  /** First and last address DHCP hands out, when Fata's DHCP server runs on the bridge. */
  readonly dhcp?: { readonly first: string; readonly last: string; readonly server: string };
  readonly forwards: readonly Forward[];
}

/** Runs one command; throws a FataError with its stderr unless `allowFail`. */
export type Runner = (argv: readonly string[], opts?: { input?: string; allowFail?: boolean }) => { status: number; out: string };

/** The Debian package each tool Fata runs comes in, for the error when one is missing. */
const PACKAGES: Readonly<Record<string, string>> = { ip: 'iproute2', nft: 'nftables', sysctl: 'procps' };

export const run: Runner = (argv, opts = {}) => {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', input: opts.input, timeout: 30_000 });
  const status = r.status ?? 1;
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' && !opts.allowFail) {
    const pkg = PACKAGES[argv[0]!];
    throw new FataError(
      'FATA_NET_KERNEL',
      `cannot run '${argv[0]}': it is not installed (or not in PATH); ${pkg ? `install ${pkg} (apt-get install ${pkg})` : 'install it'} and run the command again`,
    );
  }
  if (status !== 0 && !opts.allowFail) {
    throw new FataError('FATA_NET_KERNEL', `'${argv.join(' ')}' failed: ${(r.stderr || r.error?.message || '').trim()}`);
  }
  return { status, out: r.stdout ?? '' };
};

/** The subnet of a network: its address (host bits zero) and prefix. */
export function subnetOf(cidr: string): { net: number; prefixLen: number; host: number } | undefined {
  const c = parseIpv4Cidr(cidr);
  if (!c) return undefined;
  const mask = prefixMask(c.prefixLen);
  return { net: (c.address & mask) >>> 0, prefixLen: c.prefixLen, host: c.address };
}

export const subnetText = (cidr: string): string => {
  const s = subnetOf(cidr)!;
  return `${formatIpv4Address(s.net)}/${s.prefixLen}`;
};

/** Why `cidr` cannot be a network's host address, or undefined. */
export function cidrProblem(cidr: string): string | undefined {
  const s = subnetOf(cidr);
  if (!s) return `--cidr=${cidr} is not an address with a prefix; write the host's address on the network, like --cidr=10.0.0.1/24`;
  if (s.prefixLen < 8 || s.prefixLen > 30) return `--cidr=${cidr}: the prefix must be from /8 to /30`;
  const bcast = (s.net | ~prefixMask(s.prefixLen)) >>> 0;
  if (s.host === s.net || s.host === bcast)
    return `--cidr=${cidr}: that is the subnet's ${s.host === s.net ? 'network' : 'broadcast'} address; give the host's own address in it, like ${formatIpv4Address(s.net + 1)}/${s.prefixLen}`;
  return undefined;
}

/** Whether two subnets share any address. */
export function overlaps(a: string, b: string): boolean {
  const x = subnetOf(a)!,
    y = subnetOf(b)!;
  const p = Math.min(x.prefixLen, y.prefixLen);
  const m = prefixMask(p);
  return (x.net & m) >>> 0 === (y.net & m) >>> 0;
}

/** Whether `addr` lies inside the network's subnet (and is neither its network nor its broadcast address). */
export function inSubnet(cidr: string, addr: number): boolean {
  const s = subnetOf(cidr)!;
  const bcast = (s.net | ~prefixMask(s.prefixLen)) >>> 0;
  return (addr & prefixMask(s.prefixLen)) >>> 0 === s.net && addr !== s.net && addr !== bcast;
}

/** `--dhcp` alone: .100-.199 of the subnet when it is a /24 or wider, else its second half; the server takes the last address. */
export function dhcpPlan(cidr: string, range: string | undefined): HostNetwork['dhcp'] | { error: string } {
  const s = subnetOf(cidr)!;
  const bcast = (s.net | ~prefixMask(s.prefixLen)) >>> 0;
  const server = bcast - 1;
  let first: number, last: number;
  if (range) {
    const m = /^([\d.]+)-([\d.]+)$/.exec(range);
    const a = m ? parseIpv4Address(m[1]!) : undefined,
      b = m ? parseIpv4Address(m[2]!) : undefined;
    if (a === undefined || b === undefined) return { error: `--dhcp=${range}: write the range like --dhcp=10.0.0.100-10.0.0.199` };
    [first, last] = [a, b];
  } else if (s.prefixLen <= 24) {
    [first, last] = [s.net + 100, s.net + 199];
  } else {
    [first, last] = [s.net + Math.floor((bcast - s.net) / 2), bcast - 2];
  }
  if (!inSubnet(cidr, first) || !inSubnet(cidr, last) || last < first)
    return {
      error: `--dhcp: the range ${formatIpv4Address(first)}-${formatIpv4Address(last)} must lie inside ${subnetText(cidr)}, first to last`,
    };
  const host = s.host;
  if ((host >= first && host <= last) || (server >= first && server <= last))
    return {
      error: `--dhcp: the range must not hold the host's address ${formatIpv4Address(host)} or the DHCP server's ${formatIpv4Address(server)} (the subnet's last)`,
    };
  return { first: formatIpv4Address(first), last: formatIpv4Address(last), server: formatIpv4Address(server) };
}

/** The nftables table of one network, whole: NAT out of the host, forwarding for the bridge, and DNAT for each forward. */
export function nftTable(n: HostNetwork): string {
  const t = `fata-${n.name}`;
  const subnet = subnetText(n.cidr);
  const lines = [`table ip ${t} {`];
  lines.push('  chain forward {', '    type filter hook forward priority filter; policy accept;');
  if (n.nat) lines.push(`    iifname "${n.name}" accept`, `    oifname "${n.name}" ct state established,related accept`);
  for (const f of n.forwards) lines.push(`    oifname "${n.name}" ip daddr ${f.guest} ${f.proto} dport ${f.guestPort} accept`);
  lines.push('  }');
  if (n.nat) {
    lines.push('  chain postrouting {', '    type nat hook postrouting priority srcnat; policy accept;');
    lines.push(`    ip saddr ${subnet} oifname != "${n.name}" masquerade`, '  }');
  }
  if (n.forwards.length > 0) {
    const dnat = n.forwards.map((f) => `    fib daddr type local ${f.proto} dport ${f.hostPort} dnat to ${f.guest}:${f.guestPort}`);
    lines.push('  chain prerouting {', '    type nat hook prerouting priority dstnat; policy accept;', ...dnat, '  }');
    lines.push('  chain output {', '    type nat hook output priority -100; policy accept;', ...dnat, '  }');
    // Host-originated connections to a forward leave through the bridge with the host's own source.
    if (!n.nat)
      lines.push(
        '  chain postrouting {',
        '    type nat hook postrouting priority srcnat; policy accept;',
        `    oifname "${n.name}" masquerade`,
        '  }',
      );
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** Where networks are kept. */
export function stateDir(flag: string | undefined): string {
  return flag ?? process.env.FATA_STATE_DIR ?? '/var/lib/fata';
}

const netDir = (state: string): string => join(state, 'net');

export function loadNetworks(state: string): HostNetwork[] {
  const dir = netDir(state);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as HostNetwork);
}

export function saveNetwork(state: string, n: HostNetwork): void {
  mkdirSync(netDir(state), { recursive: true, mode: 0o755 });
  const file = join(netDir(state), `${n.name}.json`);
  // Crash-safe: the whole file or the old one, on disk before the host is changed.
  const fd = openSync(`${file}.tmp`, 'w');
  try {
    writeFileSync(fd, `${JSON.stringify(n, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(`${file}.tmp`, file);
  const dir = openSync(netDir(state), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

export function forgetNetwork(state: string, name: string): void {
  rmSync(join(netDir(state), `${name}.json`), { force: true });
}

/** The files a network's DHCP server keeps: its lease disk and the pid of its keeper. */
export const dhcpFiles = (state: string, name: string): { leases: string; pid: string; log: string } => ({
  leases: join(netDir(state), `${name}.leases`),
  pid: join(netDir(state), `${name}.dhcp.pid`),
  log: join(netDir(state), `${name}.dhcp.log`),
});
