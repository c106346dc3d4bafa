/**
 * User-mode networking's options as `fata run` takes them, in QEMU's
 * `-netdev user` shapes: `--net:NAME=user[,hostfwd=tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]…[,restrict=on|off]`.
 * Pure: parsing only; a string says what is wrong and how to write it.
 */
import { parseIpv4Address } from '../wire/ipv4.ts';

/**
 * One host port forwarded in: for TCP, a host listener whose connections become TCP connections to the
 * guest; for UDP, a host datagram socket whose datagrams go to the guest, each host peer from a gateway port
 * of its own, so that the guest's answers go back to that peer from HOSTPORT.
 */
export interface HostForward {
  readonly proto: 'tcp' | 'udp';
  /** The host address to listen on; '' for all of them (as QEMU's empty HOSTADDR). */
  readonly hostAddr: string;
  readonly hostPort: number;
  /** The guest address to connect to; undefined for the address it leased. */
  readonly guestAddr: number | undefined;
  readonly guestPort: number;
}

export interface UserNetOptions {
  /** `restrict=on`: nothing goes out (no proxied TCP or UDP, no DNS); only DHCP, ping of the gateway and the forwards. */
  readonly restrict: boolean;
  readonly forwards: readonly HostForward[];
}

const port = (text: string): number | undefined => {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
};

const HOSTFWD_SHAPE =
  'write hostfwd=tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, like hostfwd=tcp:127.0.0.1:8080-:80 or hostfwd=udp:127.0.0.1:5353-:53';

/** `tcp:127.0.0.1:8080-:80` or `udp::5353-:53` (what follows `hostfwd=`; no protocol is TCP, as in QEMU). */
export function parseHostForward(text: string): HostForward | string {
  const m = /^(tcp|udp)?:([^:]*):([^-]*)-([^:]*):(.*)$/.exec(text);
  if (!m) return `hostfwd=${text}: ${HOSTFWD_SHAPE}`;
  const proto = m[1] === 'udp' ? 'udp' : 'tcp';
  const hostAddr = m[2]!;
  if (hostAddr !== '' && parseIpv4Address(hostAddr) === undefined)
    return `hostfwd=${text}: '${hostAddr}' is not an IPv4 address of this host (leave it empty for all of them)`;
  const hostPort = port(m[3]!);
  const guestPort = port(m[5]!);
  if (hostPort === undefined || guestPort === undefined) return `hostfwd=${text}: ports are numbers from 1 to 65535; ${HOSTFWD_SHAPE}`;
  let guestAddr: number | undefined;
  if (m[4] !== '') {
    guestAddr = parseIpv4Address(m[4]!);
    if (guestAddr === undefined) return `hostfwd=${text}: '${m[4]}' is not an IPv4 address (leave it empty for the guest's own)`;
  }
  return { proto, hostAddr, hostPort, guestAddr, guestPort };
}

/** The options after `user` in `--net:NAME=user,…` (without the leading `user`). */
export function parseUserNetOptions(parts: readonly string[]): UserNetOptions | string {
  let restrict = false;
  const forwards: HostForward[] = [];
  for (const p of parts) {
    if (p.startsWith('hostfwd=')) {
      const f = parseHostForward(p.slice(8));
      if (typeof f === 'string') return f;
      if (forwards.some((g) => g.proto === f.proto && g.hostPort === f.hostPort && g.hostAddr === f.hostAddr))
        return `hostfwd=${p.slice(8)}: host ${f.proto.toUpperCase()} port ${f.hostPort} is forwarded twice`;
      forwards.push(f);
    } else if (p === 'restrict=on' || p === 'restrict=yes') restrict = true;
    else if (p === 'restrict=off' || p === 'restrict=no') restrict = false;
    else
      return `'${p}' is not an option of user-mode networking; the options are hostfwd=tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT and restrict=on|off`;
  }
  return { restrict, forwards };
}
