/** Test and bench helper: NSD as a reference authoritative server inside a namespace. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { TapNamespace } from './netns.ts';

/**
 * Starts NSD on `address` serving `zone` from `text` (RRL off, no privileges
 * dropped, all files in `dir`); with `provideXfr`, zone transfers to anyone.
 */
export function startNsd(
  ns: Pick<TapNamespace, 'start'>,
  dir: string,
  address: string,
  zone: string,
  text: string,
  o: { readonly provideXfr?: boolean } = {},
): ChildProcess {
  writeFileSync(join(dir, 'zone'), text);
  writeFileSync(
    join(dir, 'nsd.conf'),
    `server:
  ip-address: ${address}
  port: 53
  username: ""
  chroot: ""
  zonesdir: "${dir}"
  pidfile: "${dir}/nsd.pid"
  database: ""
  zonelistfile: "${dir}/zone.list"
  xfrdfile: "${dir}/xfrd.state"
  xfrdir: "${dir}"
  logfile: "${dir}/nsd.log"
  server-count: 1
  rrl-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: "${zone}"
  zonefile: "zone"
${o.provideXfr ? '  provide-xfr: 0.0.0.0/0 NOKEY\n' : ''}`,
  );
  return ns.start(['nsd', '-d', '-c', join(dir, 'nsd.conf')]);
}
