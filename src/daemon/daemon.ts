/** `fata daemon`: its flags, the root check, and the foreground life of the server until SIGTERM or SIGINT. */
import { resolve } from 'node:path';
import { FataError } from '../host/errors.ts';
import { bad, parseSize } from './commands.ts';
import type { Limits } from './create.ts';
import { IFNAME } from './host-net.ts';
import { DEFAULT_STATE_DIR, socketPath } from './protocol.ts';
import { Daemon } from './server.ts';
import { loadToken, parseListen, startWeb } from './web.ts';
import { loadPolicy, type Policy } from './owners.ts';
import type { Trust } from './unikernel.ts';
import { readCertificates } from '../build/trust.ts';
import type { AddressInfo } from 'node:net';
import { type TlsEndpoint, tlsOptions } from './remote.ts';

export interface DaemonFlags {
  readonly stateDir: string;
  readonly socket: string;
  readonly limits: Limits;
  readonly consoleBytes: number | undefined;
  readonly backoffMs: number | undefined;
  readonly socketGroup: string | undefined;
  readonly startWait: boolean;
  /** --trust=CA.pem [--crl=CRL.pem]: only signed images (docs/trust.md). */
  readonly trust: Trust | undefined;
  /** Owners and their limits (--policy=FILE). */
  readonly policy: Policy | undefined;
  /** The web console's address (--http=HOST:PORT). */
  readonly http: { host: string; port: number } | undefined;
  /** Remote management over mutual TLS (--tls=HOST:PORT --ca --cert --key [--tls-crl]). */
  readonly tls: TlsEndpoint | undefined;
}

function num(flag: string, v: string | undefined): number {
  const n = Number(v);
  if (v === undefined || !/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw bad(`fata daemon: ${flag} takes a whole number`);
  return n;
}

export function parseDaemonFlags(argv: readonly string[]): DaemonFlags {
  const limits: { -readonly [K in keyof Limits]: Limits[K] } = {};
  let stateDir = DEFAULT_STATE_DIR,
    socket: string | undefined,
    consoleBytes: number | undefined,
    backoffMs: number | undefined,
    http: DaemonFlags['http'],
    policy: Policy | undefined,
    socketGroup: string | undefined,
    trust: string | undefined,
    crl: string | undefined,
    startWait = false;
  const tls: { listen?: { host: string; port: number }; ca?: string; cert?: string; key?: string; crl?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const [flag, value] =
      eq > 0
        ? [a.slice(0, eq), a.slice(eq + 1)]
        : [
            a,
            [
              '--state-dir',
              '--socket',
              '--http',
              '--policy',
              '--socket-group',
              '--trust',
              '--crl',
              '--tls',
              '--ca',
              '--cert',
              '--key',
              '--tls-crl',
            ].includes(a)
              ? argv[++i]
              : undefined,
          ];
    if (flag === '--state-dir' && value) stateDir = resolve(value);
    else if (flag === '--socket' && value) socket = resolve(value);
    else if (flag === '--policy' && value) policy = loadPolicy(resolve(value));
    else if (flag === '--socket-group' && value) socketGroup = value;
    else if (flag === '--start' && (value === 'all' || value === 'wait')) startWait = value === 'wait';
    else if (flag === '--trust' && value) trust = resolve(value);
    else if (flag === '--crl' && value) crl = resolve(value);
    else if (flag === '--tls') {
      tls.listen = value === undefined ? undefined : parseListen(value);
      if (!tls.listen) throw bad(`fata daemon: --tls=${value ?? ''}: write it like 0.0.0.0:1025 or [::1]:1025`);
    } else if ((flag === '--ca' || flag === '--cert' || flag === '--key' || flag === '--tls-crl') && value)
      tls[flag === '--tls-crl' ? 'crl' : (flag.slice(2) as 'ca' | 'cert' | 'key')] = resolve(value);
    else if (flag === '--http') {
      http = value === undefined ? undefined : parseListen(value);
      if (!http) throw bad(`fata daemon: --http=${value ?? ''}: write it like 127.0.0.1:8090`);
    } else if (flag === '--max-unikernels') limits.maxUnikernels = num(flag, value);
    else if (flag === '--max-memory') limits.maxMemoryMb = num(flag, value);
    else if (flag === '--console-bytes') consoleBytes = Math.max(4096, num(flag, value));
    else if (flag === '--backoff-ms') backoffMs = Math.max(10, num(flag, value));
    else if (flag === '--max-volume-storage') {
      const b = value === undefined ? undefined : parseSize(value);
      if (b === undefined) throw bad(`fata daemon: --max-volume-storage=${value ?? ''} is not a size; write it like 10G`);
      limits.maxVolumeBytes = b;
    } else if (flag === '--bridges' && value !== undefined) {
      limits.bridges = value.split(',').filter(Boolean);
      const wrong = limits.bridges.find((b) => !IFNAME.test(b));
      if (wrong) throw bad(`fata daemon: --bridges: '${wrong}' is not an interface name`);
    } else throw bad(`fata daemon: unknown flag '${a}'`);
  }
  return {
    stateDir,
    socket: socketPath(socket),
    limits,
    consoleBytes,
    backoffMs,
    http,
    policy,
    socketGroup,
    startWait,
    trust: trustOf(trust, crl),
    tls: tlsOf(tls),
  };
}

function tlsOf(t: {
  listen?: { host: string; port: number };
  ca?: string;
  cert?: string;
  key?: string;
  crl?: string;
}): TlsEndpoint | undefined {
  const given = [t.ca && '--ca', t.cert && '--cert', t.key && '--key', t.crl && '--tls-crl'].filter(Boolean);
  if (!t.listen) {
    if (given.length) throw bad(`fata daemon: ${given.join(', ')} go with --tls=HOST:PORT`);
    return undefined;
  }
  if (!t.ca || !t.cert || !t.key)
    throw bad("fata daemon: --tls needs --ca=CA.pem (who may delegate), --cert=CERT.pem and --key=KEY.pem (the daemon's own)");
  const endpoint = { ...t.listen, ca: t.ca, cert: t.cert, key: t.key, ...(t.crl ? { crl: t.crl } : {}) };
  tlsOptions(endpoint); // Wrong files are said now, not at the first client.
  return endpoint;
}

function trustOf(trust: string | undefined, crl: string | undefined): Trust | undefined {
  if (crl && !trust) throw bad('fata daemon: --crl goes with --trust=CA.pem');
  if (trust) readCertificates(trust, 'trust file', 'FATA_BAD_TRUST'); // A wrong file is said now, not at the first create.
  return trust ? { trust, ...(crl ? { crl } : {}) } : undefined;
}

/** Runs the daemon in the foreground; resolves with its exit code once a signal stopped it. */
export async function daemonCommand(argv: readonly string[], say: (s: string) => void): Promise<number> {
  const flags = parseDaemonFlags(argv);
  if (process.geteuid?.() !== 0)
    throw new FataError(
      'FATA_NEEDS_ROOT',
      'fata daemon runs as root: it makes taps, attaches them to bridges and starts sealed engines that drop to an unprivileged account; run it with sudo or as the systemd unit (contrib/fata.service, docs/daemon.md)',
    );
  const d = new Daemon({ ...flags, say });
  await d.start();
  const web = flags.http ? await startWeb(d, flags.http, loadToken(flags.stateDir)) : undefined;
  if (web) {
    const a = web.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    say(`fata daemon: web console on http://${host}:${a.port}/#token=${loadToken(flags.stateDir)}`);
  }
  const signal = await new Promise<NodeJS.Signals>((r) => {
    process.once('SIGTERM', () => r('SIGTERM'));
    process.once('SIGINT', () => r('SIGINT'));
  });
  say(`fata daemon: ${signal}: stopping the engines (they stay declared and start again with the daemon)`);
  web?.closeAllConnections();
  web?.close();
  await d.stop();
  return 0;
}
