/**
 * Certificates through DNS, the role of robur's dns-letsencrypt-secondary:
 * a secondary of the primary's zones (TSIG-signed IXFR/AXFR, SOA timers,
 * NOTIFY) that finds certificate requests in them, answers ACME's DNS-01
 * challenge by signed UPDATEs to the primary, and publishes the issued
 * certificate back into the zone by UPDATE, where services fetch it.
 *
 * The records, robur's convention (ocaml-dns certify/dns_certify.ml), all
 * at `_letsencrypt._tcp.NAME`:
 * - `TLSA 3 255 0 <CSR, DER>` — a request (usage 3 DANE-EE, selector 255
 *   private use, matching 0 full data): one per name, put there by whoever
 *   holds the private key;
 * - `TLSA 3 0 0 <certificate, DER>` — the end-entity certificate issued
 *   for that CSR (written here);
 * - `TLSA 0 0 0 <certificate, DER>` — the CA certificates that chain it to
 *   the ACME server's root (written here).
 * A request is served when it parses, its signature verifies, it names
 * NAME, and every name it holds is in a zone this unikernel watches. It is
 * ordered when no published certificate has its key and names, or when
 * the one that has is two thirds through its lifetime; a failed order is
 * tried again after 1 s, doubling to an hour.
 */
import { createHmac, createPrivateKey } from 'node:crypto';
import { Authority, DnsQuerier, parseTsigKey, Secondary, sleepTimer, type Hmac, type PrimaryLink, type TsigKey } from 'fata/dns';
import { canonicalName } from 'fata/wire';
import type { Context, Main } from 'fata';
import type config from './config.ts';
import { AcmeClient } from '../website/acme.ts';
import { Certifier } from './certifier.ts';

const hmac: Hmac = (hash, key, data) => createHmac(hash, key).update(data).digest();
const NOERROR = 0,
  REFUSED = 5,
  NOTAUTH = 9;

const list = (s: string): string[] =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');

/** `IP` or `IP:port` → address and port (53 when left out), or undefined. */
function hostPort(s: string): { address: string; port: number } | undefined {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?$/.exec(s.trim());
  const port = m?.[2] === undefined ? 53 : Number(m[2]);
  if (!m || m[1]!.split('.').some((o) => Number(o) > 255) || port < 1 || port > 65535) return undefined;
  return { address: m[1]!, port };
}

interface Options {
  readonly primary: { address: string; port: number };
  readonly waitFor: { address: string; port: number }[];
  readonly zones: string[];
  readonly key: TsigKey;
  readonly accountKeyPem: string;
}

/** The parameters checked; or the one at fault and what to write instead. */
function options(p: {
  primary: string;
  zone: string;
  tsig: string;
  'acme-directory': string;
  'account-key': string;
  'wait-for': string;
}): Options | { parameter: string; error: string } {
  const primary = hostPort(p.primary);
  if (!primary) return { parameter: '--primary', error: `'${p.primary}' is not IP or IP:PORT of the primary, e.g. --primary=10.0.0.2` };
  const waitFor: { address: string; port: number }[] = [];
  for (const w of list(p['wait-for'])) {
    const hp = hostPort(w);
    if (!hp) return { parameter: '--wait-for', error: `'${w}' is not IP or IP:PORT, e.g. --wait-for=10.0.0.4,10.0.0.5:5353` };
    waitFor.push(hp);
  }
  const zones = list(p.zone).map((z) => canonicalName(z.endsWith('.') ? z : `${z}.`));
  if (zones.length === 0) return { parameter: '--zone', error: 'name the zones to watch, e.g. --zone=example.test' };
  const key = parseTsigKey(p.tsig);
  if ('error' in key)
    return { parameter: '--tsig', error: `${key.error}; the primary must know the key and allow it to update (--allow-update)` };
  if (!/^https?:\/\//.test(p['acme-directory']))
    return {
      parameter: '--acme-directory',
      error: 'give the ACME directory URL, e.g. --acme-directory=https://acme-v02.api.letsencrypt.org/directory',
    };
  const make = 'make one with: openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out account.pem';
  if (p['account-key'] === '') return { parameter: '--account-key', error: `the ACME account key file is required (${make})` };
  try {
    const k = createPrivateKey(p['account-key']);
    if (k.asymmetricKeyType !== 'ec' || k.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new Error('not a P-256 key');
  } catch (e) {
    return { parameter: '--account-key', error: `${(e as Error).message}: give a P-256 private key in PEM (${make})` };
  }
  return { primary, waitFor, zones, key, accountKeyPem: p['account-key'] };
}

/** A scan whose failure (a bug: untrusted records are refused, not thrown on) is logged and does not stop the unikernel. */
async function scanSafely(certifier: Certifier, z: Parameters<Certifier['scan']>[0], ctx: Context): Promise<void> {
  try {
    await certifier.scan(z);
  } catch (e) {
    ctx.log.error('scan-failed', { zone: z.apex, error: e instanceof Error ? e.message : String(e) });
  }
}

/** The zones kept as a secondary keeps them (each new version scanned), and the NOTIFY handler for a source address. */
function secondaries(
  o: Options,
  link: PrimaryLink,
  certifier: Certifier,
  authority: Authority,
  ctx: Context,
): { all: Secondary[]; notify: (src: string) => (apex: string, serial: number | undefined, key: TsigKey | undefined) => number } {
  const byApex = new Map<string, Secondary>();
  const nowMs = (): number => Number(ctx.clock.monotonicNs() / 1_000_000n);
  for (const apex of o.zones) {
    authority.setUnavailable(apex);
    const events = {
      loaded: (z: Parameters<Certifier['scan']>[0]) => {
        authority.setZone(z);
        void scanSafely(certifier, z, ctx);
      },
      expired: () => authority.setUnavailable(apex),
      log: (level: 'info' | 'warn', event: string, fields: Record<string, unknown>) => ctx.log[level](event, fields),
    };
    byApex.set(apex, new Secondary(apex, link, events, nowMs));
  }
  // RFC 1996 §3.10: NOTIFY only from the primary, and signed with the key.
  const notify = (src: string) => (apex: string, serial: number | undefined, key: TsigKey | undefined) => {
    const s = byApex.get(apex);
    if (!s) return NOTAUTH;
    if (src !== o.primary.address || !key) {
      ctx.log.warn('notify-refused', { zone: apex, from: src, signed: key !== undefined });
      return REFUSED;
    }
    s.notify(serial);
    return NOERROR;
  };
  return { all: [...byApex.values()], notify };
}

export const main: Main<typeof config> = async (devices, params, ctx) => {
  const o = options(params);
  if ('error' in o) {
    ctx.log.error('bad-parameter', { parameter: o.parameter, error: o.error });
    return 1;
  }
  const net = devices.service;
  const wallSec = (): number => Number(ctx.clock.wallNs() / 1_000_000_000n);
  const timer = sleepTimer(ctx.sleep);
  const link: PrimaryLink = { ...o.primary, net, random: ctx.random, timer, tsig: { key: o.key, hmac }, wallSec };
  const acme = new AcmeClient({
    net,
    directory: params['acme-directory'],
    email: params['acme-email'],
    domains: [],
    ...(params['acme-ca'] ? { ca: params['acme-ca'] } : {}),
    accountKeyPem: o.accountKeyPem,
    sleep: ctx.sleep,
  });
  const certifier = new Certifier({
    zones: o.zones,
    link,
    querier: new DnsQuerier(net, ctx.random, timer),
    acme,
    challengeTtl: params['challenge-ttl'],
    waitFor: o.waitFor,
    log: ctx.log,
    sleep: ctx.sleep,
    wallMs: () => Number(ctx.clock.wallNs() / 1_000_000n),
  });
  const authority = new Authority([]);
  const zones = secondaries(o, link, certifier, authority, ctx);
  try {
    const udp = await net.udpBind(params.port, (m) => {
      const tsig = { keys: [o.key], hmac, now: wallSec() };
      for (const r of authority.answer(m.data, { transport: 'udp', tsig, notify: zones.notify(m.src) })) udp.send(m.src, m.srcPort, r);
    });
  } catch (e) {
    ctx.log.error('bind-failed', { error: e instanceof Error ? e.message : String(e) });
    return 1;
  }
  try {
    const account = await acme.account();
    ctx.log.info('acme-account', { url: account.url, created: account.created });
  } catch (e) {
    // Not fatal: each order makes or finds the account again, and a failed order is retried.
    ctx.log.warn('acme-account-failed', { reason: (e as Error).message });
  }
  ctx.log.info('serving', {
    mode: net.mode,
    ipv4: net.ipv4 ?? 'host',
    port: params.port,
    primary: `${o.primary.address}:${o.primary.port}`,
    zones: o.zones.join(','),
    key: o.key.name,
  });
  for (;;) {
    for (const s of zones.all) s.poll();
    await ctx.sleep(1000);
    if (Number(ctx.clock.wallNs() / 1_000_000n) < certifier.nextScanMs) continue;
    certifier.nextScanMs = Number.POSITIVE_INFINITY;
    for (const s of zones.all) if (s.zone) await scanSafely(certifier, s.zone, ctx);
  }
};
