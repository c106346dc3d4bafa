/**
 * `fata run`'s user-mode links (`--net:NAME=user,…`): for each, a
 * socketpair whose one end the engine gets in place of a tap and whose other
 * end a gateway (src/usernet) serves in this process, with the forwarded
 * host ports listening before the engine starts. Everything here ends with
 * the run: `closeUserLinks` stops the gateways and their host sockets.
 */
import { closeSync, openSync } from 'node:fs';
import { FataError } from '../host/errors.ts';
import { FRAME_SOCKET_MTU, openFramePair } from '../targets/node/frame-socket.ts';
import { describeErrno, libc } from '../targets/node/libc.ts';
import { UserNetGateway } from '../usernet/gateway.ts';
import type { UserNetOptions } from '../usernet/options.ts';

export interface UserLink {
  readonly name: string;
  /** The engine's end: hand it over (spt) or adopt it (node), then close it here. */
  readonly engineFd: number;
  readonly mtu: number;
  readonly gateway: UserNetGateway;
}

/** Opens every user-mode link and starts its gateway; on a failure, closes what it opened and throws a FataError. */
export async function openUserLinks(
  usernets: ReadonlyMap<string, UserNetOptions>,
  say: (s: string) => void,
  impaired: ReadonlySet<string> = new Set(),
): Promise<UserLink[]> {
  const links: UserLink[] = [];
  try {
    for (const [name, o] of usernets) {
      const [engineFd, gatewayFd] = openFramePair();
      const gateway = new UserNetGateway({
        ...o,
        fd: gatewayFd,
        mtu: FRAME_SOCKET_MTU,
        verifyChecksums: impaired.has(name),
        say: (l) => say(`fata run: ${name}: ${l}`),
      });
      links.push({ name, engineFd, mtu: FRAME_SOCKET_MTU, gateway });
      const e = await gateway.start();
      if (e) throw new FataError('FATA_HOSTFWD', `--net:${name}=user: ${e.error}`);
    }
  } catch (e) {
    await closeUserLinks(links, true);
    throw e;
  }
  return links;
}

/** Stops the gateways (and, with `engineEnds`, closes the engine's ends still held here). */
export async function closeUserLinks(links: readonly UserLink[], engineEnds = false): Promise<void> {
  for (const l of links) {
    if (engineEnds)
      try {
        closeSync(l.engineFd);
      } catch {
        /* already handed over and closed */
      }
    await l.gateway.close();
  }
}

/**
 * The JavaScript tender moves its own thread into the engine's new network namespace before it spawns
 * the engine (run.ts); a gateway's host sockets must stay in this one. Call before that move; the
 * returned function brings the thread back after the spawn.
 */
export function holdNetNamespace(): () => void {
  const fd = openSync('/proc/self/ns/net', 'r');
  return () => {
    const r = libc.setns(fd, 0) as number;
    const why = r < 0 ? describeErrno() : '';
    closeSync(fd);
    if (r < 0) throw new FataError('FATA_NETNS', `cannot return to the host's network namespace for user-mode networking: ${why}`);
  };
}
