/**
 * An authoritative DNS server: the zones built into the image, answered
 * over UDP (with TC when an answer does not fit) and TCP (pipelined, AXFR
 * when `--axfr`, or when signed with a `--tsig` key). A zone with an error
 * stops the boot with the line at fault, before any query is answered.
 * With `--primary` and `--zone` it is also a secondary for those zones
 * (SOA timers, IXFR/AXFR, NOTIFY); with `--notify` it tells its own
 * secondaries when a zone is loaded or changes. With `--allow-update`,
 * UPDATEs (RFC 2136) signed with those keys change the image's zones; each
 * change is written to the `journal` block device before it is served (a
 * write that fails is SERVFAIL and changes nothing) and replayed at boot.
 */
import { createHmac } from 'node:crypto';
import {
  Authority,
  DnsTcpSessions,
  parseTsigKey,
  replayJournal,
  Secondary,
  sendNotify,
  sleepTimer,
  UpdateJournal,
  Updates,
  Zone,
  type Hmac,
  type TsigKey,
} from 'fata/dns';
import { AppendLog } from 'fata/storage';
import type { Assets, BlockDevice, Context, Main } from 'fata';
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
  /** Names of the keys whose signed UPDATEs are applied. */
  readonly updateKeys: Set<string>;
}

/** The parameters about keys, primary and secondaries, checked; or the one at fault and what to write instead. */
function options(params: {
  tsig: string;
  primary: string;
  zone: string;
  notify: string;
  'allow-update': string;
}): Options | { parameter: string; error: string } {
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
  const updateKeys = new Set<string>();
  for (const n of list(params['allow-update'])) {
    const name = (n.endsWith('.') ? n : `${n}.`).toLowerCase();
    if (!keys.some((k) => k.name === name))
      return {
        parameter: '--allow-update',
        error: `'${n}' is not the name of a --tsig key; give the key too, e.g. --tsig=hmac-sha256:${n}:BASE64SECRET --allow-update=${n}`,
      };
    updateKeys.add(name);
  }
  return { keys, primary, secondaryZones, notifyTargets, updateKeys };
}

/** The image's zone files, but those transferred instead; undefined when one has an error (each logged with its line), or when there are none and nothing to transfer. */
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
  if (zones.length === 0 && skip.length === 0) {
    log.error('no-zones', {
      hint: 'put NAME.zone master files in the zones/ folder and rebuild, or transfer them with --primary and --zone',
    });
    return undefined;
  }
  return broken ? undefined : zones;
}

/**
 * The image's zones with the updates made since the image was built replayed
 * onto them (each version served in turn, so that IXFR has them), and the
 * journal that keeps the next ones; undefined, logged, when the journal
 * device cannot be used.
 */
function restore(dev: BlockDevice, zones: Zone[], log: Context['log']): { authority: Authority; journal: UpdateJournal } | undefined {
  const store = new AppendLog(dev);
  const entries = store.load();
  if (store.state === 'corrupt') {
    log.error('journal-corrupt', {
      fix: 'the journal device holds something else; attach a zeroed file (truncate -s 1M journal.img) or the right one',
    });
    return undefined;
  }
  const replayed = replayJournal(zones, entries);
  if ('error' in replayed) {
    log.error('journal-stale', {
      error: replayed.error,
      fix: 'boot the image the updates were made to, or keep them (AXFR the zone into its zone file and rebuild) and attach a zeroed journal device',
    });
    return undefined;
  }
  const authority = new Authority(zones);
  for (const z of replayed.versions) authority.setZone(z);
  log.info('journal-replayed', { entries: entries.length, used: store.used, capacity: store.capacity });
  return { authority, journal: new UpdateJournal(store, zones, replayed.versions) };
}

/** UPDATE (RFC 2136) by the source address: only to the image's zones (a secondary's change at its primary), and only signed with a key --allow-update names; each change journaled before it is served, then NOTIFY. */
function updateHandler(
  authority: Authority,
  journal: UpdateJournal,
  o: Options,
  applied: (z: Zone) => void,
  log: Context['log'],
): (src: string) => (m: Parameters<Updates['handle']>[0], key: TsigKey | undefined) => number {
  const updates = new Updates(authority, {
    allowed: (apex, key) => key !== undefined && o.updateKeys.has(key.name) && !o.secondaryZones.includes(apex),
    commit: (z, diff) => journal.record(z, diff),
    applied,
    log: (level, event, fields) => log[level](event, fields),
  });
  return (src) => (m, key) => updates.handle(m, key, src);
}

export const main: Main<typeof config> = async (devices, params, ctx) => {
  const o = options(params);
  if ('error' in o) {
    ctx.log.error('bad-parameter', { parameter: o.parameter, error: o.error });
    return 1;
  }
  const { keys, primary, secondaryZones, notifyTargets, updateKeys } = o;
  const wallSec = (): number => Number(ctx.clock.wallNs() / 1_000_000_000n);
  const nowMs = (): number => Number(ctx.clock.monotonicNs() / 1_000_000n);
  const tsig = () => ({ keys, hmac, now: wallSec() });
  // The first key signs what this server asks of others: transfers from its primary, its NOTIFYs.
  const ownKey = keys[0] ? { key: keys[0], hmac } : undefined;
  const zones = imageZones(devices.zones, secondaryZones, ctx.log);
  if (!zones) return 1;
  const restored = restore(devices.journal, zones, ctx.log);
  if (!restored) return 1;
  const { authority, journal } = restored;
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
  const update = updateHandler(authority, journal, o, notifyAll, ctx.log);
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
  /** What answers depend on besides the message: the keys and the time, and the NOTIFY and UPDATE handlers for the source address. */
  const handlers = (src: string) => ({ tsig: tsig(), notify: notify?.(src), update: update(src) });
  const sessions = new DnsTcpSessions({ idleMs: params['tcp-idle'] * 1000, now: nowMs });
  try {
    const udp = await net.udpBind(params.port, (m) => {
      for (const r of authority.answer(m.data, { transport: 'udp', ...handlers(m.src) })) udp.send(m.src, m.srcPort, r);
    });
    await net.tcpListen(params.port, (s) => {
      sessions.open(s, (msg) => authority.answer(msg, { transport: 'tcp', allowAxfr: params.axfr, ...handlers(s.remote) }));
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
    'allow-update': [...updateKeys].join(','),
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
