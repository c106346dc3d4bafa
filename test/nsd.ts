/** Test and bench helper: NSD as a reference authoritative server inside a namespace. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { TapNamespace } from './netns.ts';

/** A TSIG key as nsd.conf declares it (`algorithm` as NSD names it, e.g. hmac-sha256). */
export interface NsdKey {
  readonly name: string;
  readonly algorithm: string;
  readonly secret: string;
}

/**
 * Starts NSD on `address` serving `zone` from `text` (RRL off, no privileges
 * dropped, all files in `dir`); with `provideXfr`, zone transfers to anyone.
 * `keys` are declared for `zoneOptions` (lines added to the zone, such as
 * `notify: 10.0.0.2 KEY`) and for `secondaries`: zones NSD transfers in
 * itself, each with its own option lines (`request-xfr: …`, `allow-notify: …`).
 * `verbosity` raises NSD's log level (its log is `dir/nsd.log`).
 */
export function startNsd(
  ns: Pick<TapNamespace, 'start'>,
  dir: string,
  address: string,
  zone: string,
  text: string,
  o: {
    readonly provideXfr?: boolean;
    readonly keys?: readonly NsdKey[];
    readonly zoneOptions?: readonly string[];
    readonly secondaries?: readonly { readonly name: string; readonly options: readonly string[] }[];
    readonly verbosity?: number;
  } = {},
): ChildProcess {
  writeFileSync(join(dir, 'zone'), text);
  const keys = (o.keys ?? []).map((k) => `key:\n  name: "${k.name}"\n  algorithm: ${k.algorithm}\n  secret: "${k.secret}"\n`).join('');
  const lines = (l: readonly string[] | undefined): string => (l ?? []).map((x) => `  ${x}\n`).join('');
  const secondaries = (o.secondaries ?? [])
    .map((z) => `zone:\n  name: "${z.name}"\n  zonefile: "${z.name}.zone"\n${lines(z.options)}`)
    .join('');
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
${o.verbosity === undefined ? '' : `  verbosity: ${o.verbosity}\n`}remote-control:
  control-enable: no
${keys}zone:
  name: "${zone}"
  zonefile: "zone"
${o.provideXfr ? '  provide-xfr: 0.0.0.0/0 NOKEY\n' : ''}${lines(o.zoneOptions)}${secondaries}`,
  );
  return ns.start(['nsd', '-d', '-c', join(dir, 'nsd.conf')]);
}
