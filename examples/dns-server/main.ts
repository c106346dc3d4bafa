/**
 * An authoritative DNS server: the zones built into the image, answered
 * over UDP (with TC when an answer does not fit) and TCP (pipelined, AXFR
 * when `--axfr`, or when signed with a `--tsig` key). A zone with an error
 * stops the boot with the line at fault, before any query is answered.
 * With `--primary` and `--zone` it is also a secondary for those zones
 * (SOA timers, IXFR/AXFR, NOTIFY); with `--notify` it tells its own
 * secondaries when a zone is loaded or changes.
 */
import { createHmac } from 'node:crypto';
import { Authority, DnsTcpSessions, parseTsigKey, Secondary, sendNotify, sleepTimer, Zone, type Hmac, type TsigKey } from 'fata/dns';
import type { Assets, Context, Main } from 'fata';
import type config from './config.ts';

const hmac: Hmac = (hash, key, data) => createHmac(hash, key).update(data).digest();
const NOERROR = 0,
  REFUSED = 5,
  NOTAUTH = 9;

/** `IP` or `IP:port` → address and port, or undefined. */
function hostPort(s: string): { address: string; port: number } | undefined {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?$/.exec(s.trim());
  if (!m || m[1]!.split('.').some((o) => Number(o) > 255)) return undefined;
  const port = m[2] === undefined ? 53 : Number(m[2]);
  return port >= 1 && port <= 65535 ? { address: m[1]!, port } : undefined;
}

const list = (s: string): string[] =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');

interface Options {
  readonly keys: TsigKey[];
  readonly primary: { address: string; port: number } | undefined;
  readonly secondaryZones: string[];
  readonly notifyTargets: { address: string; port: number }[];
}

/** The parameters about keys, primary and secondaries, checked; or the one at fault and what to write instead. */
function options(params: { tsig: string; primary: string; zone: string; notify: string }): Options | { parameter: string; error: string } {
  const keys: TsigKey[] = [];
  for (const spec of list(params.tsig)) {
    const k = parseTsigKey(spec);
    if ('error' in k) return { parameter: '--tsig', error: k.error };
    keys.push(k);
  }
  const primary = params.primary === '' ? undefined : hostPort(params.primary);
  if (params.primary !== '' && !primary)
    return { parameter: '--primary', error: `'${params.primary}' is not IP or IP:PORT, e.g. --primary=10.0.0.1:53` };
  const secondaryZones = list(params.zone).map((z) => (z.endsWith('.') ? z : `${z}.`).toLowerCase());
  if (primary && secondaryZones.length === 0)
    return { parameter: '--zone', error: 'a secondary needs the zones to transfer: --zone=example.test' };
  if (!primary && secondaryZones.length > 0) return { parameter: '--primary', error: 'a secondary needs its primary: --primary=IP[:PORT]' };
  const notifyTargets: { address: string; port: number }[] = [];
  for (const t of list(params.notify)) {
    const hp = hostPort(t);
    if (!hp) return { parameter: '--notify', error: `'${t}' is not IP or IP:PORT, e.g. --notify=10.0.0.3,10.0.0.4:5353` };
    notifyTargets.push(hp);
  }
  return { keys, primary, secondaryZones, notifyTargets };
}

/** The image's zone files, but those transferred instead; undefined when one has an error (each logged with its line). */
function imageZones(files: Assets, skip: readonly string[], log: Context['log']): Zone[] | undefined {
  const zones: Zone[] = [];
  let broken = 0;
  for (const path of files.list()) {
    if (!path.endsWith('.zone')) continue;
    const apex = path.slice(path.lastIndexOf('/') + 1, -'.zone'.length) + '.';
    if (skip.includes(apex.toLowerCase())) continue;
    const z = Zone.parse(apex, new TextDecoder().decode(files.get(path)!));
    if ('errors' in z) {
      for (const e of z.errors) log.error('zone-error', { zone: apex, file: path, error: e });
      broken++;
      continue;
    }
    zones.push(z);
    log.info('zone-loaded', { zone: apex, records: z.records.length, serial: z.soa.data.kind === 'SOA' ? z.soa.data.serial : 0 });
  }
  return broken ? undefined : zones;
}

export const main: Main<typeof config> = async (devices, params, ctx) => {
  const o = options(params);
  if ('error' in o) {
    ctx.log.error('bad-parameter', { parameter: o.parameter, error: o.error });
    return 1;
  }
  const { keys, primary, secondaryZones, notifyTargets } = o;
  const wallSec = (): number => Number(ctx.clock.wallNs() / 1_000_000_000n);
  const nowMs = (): number => Number(ctx.clock.monotonicNs() / 1_000_000n);
  const tsig = () => ({ keys, hmac, now: wallSec() });
  // The first key signs what this server asks of others: transfers from its primary, its NOTIFYs.
  const ownKey = keys[0] ? { key: keys[0], hmac } : undefined;
  const zones = imageZones(devices.zones, secondaryZones, ctx.log);
  if (!zones) return 1;
  if (zones.length === 0 && secondaryZones.length === 0) {
    ctx.log.error('no-zones', {
      hint: 'put NAME.zone master files in the zones/ folder and rebuild, or transfer them with --primary and --zone',
    });
    return 1;
  }
  const authority = new Authority(zones);
  const net = devices.service;
  const timer = sleepTimer(ctx.sleep);

  const notifyAll = (z: Zone): void => {
    for (const t of notifyTargets) {
      void sendNotify({ net, random: ctx.random, timer, tsig: ownKey, wallSec }, t.address, t.port, z.soa).then((error) => {
        if (error) ctx.log.warn('notify-failed', { zone: z.apex, to: `${t.address}:${t.port}`, error });
        else ctx.log.info('notify-sent', { zone: z.apex, to: `${t.address}:${t.port}` });
      });
    }
  };

  const secondaries = new Map<string, Secondary>();
  for (const apex of secondaryZones) {
    authority.setUnavailable(apex);
    const link = { address: primary!.address, port: primary!.port, net, random: ctx.random, timer, tsig: ownKey, wallSec };
    const s = new Secondary(
      apex,
      link,
      {
        loaded: (z) => {
          authority.setZone(z);
          notifyAll(z);
        },
        expired: () => authority.setUnavailable(apex),
        log: (level, event, fields) => ctx.log[level](event, fields),
      },
      nowMs,
    );
    secondaries.set(apex, s);
  }
  /** RFC 1996 §3.10: NOTIFY only from the primary, and signed when we have keys. */
  const notify =
    secondaries.size === 0
      ? undefined
      : (src: string) =>
          (apex: string, serial: number | undefined, key: TsigKey | undefined): number => {
            const s = secondaries.get(apex);
            if (!s) return NOTAUTH;
            if (src !== primary!.address || (keys.length > 0 && !key)) {
              ctx.log.warn('notify-refused', { zone: apex, from: src, signed: key !== undefined });
              return REFUSED;
            }
            ctx.log.info('notify-received', { zone: apex, serial: serial ?? 'none', from: src });
            s.notify(serial);
            return NOERROR;
          };

  const sessions = new DnsTcpSessions({ idleMs: params['tcp-idle'] * 1000, now: nowMs });
  try {
    const udp = await net.udpBind(params.port, (m) => {
      for (const r of authority.answer(m.data, { transport: 'udp', tsig: tsig(), notify: notify?.(m.src) })) udp.send(m.src, m.srcPort, r);
    });
    await net.tcpListen(params.port, (s) => {
      sessions.open(s, (msg) =>
        authority.answer(msg, { transport: 'tcp', allowAxfr: params.axfr, tsig: tsig(), notify: notify?.(s.remote) }),
      );
    });
  } catch (e) {
    ctx.log.error('bind-failed', { error: e instanceof Error ? e.message : String(e) });
    return 1;
  }
  ctx.log.info('serving', {
    mode: net.mode,
    ipv4: net.ipv4 ?? 'host',
    port: params.port,
    zones: zones.length,
    axfr: params.axfr,
    tsig: keys.map((k) => k.name).join(','),
    ...(primary ? { primary: `${primary.address}:${primary.port}`, secondary: secondaryZones.join(',') } : {}),
  });
  for (const z of zones) notifyAll(z);
  for (const s of secondaries.values()) s.poll();
  for (;;) {
    await ctx.sleep(1000);
    sessions.sweep();
    for (const s of secondaries.values()) s.poll();
  }
};
