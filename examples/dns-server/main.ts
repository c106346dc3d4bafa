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
 * The journal is optional: without it the zones are served as built, and
 * --allow-update is refused at boot.
 * With `--zones-remote`, the zones come from a git branch instead of the
 * image (git-zones.ts): fetched at boot, on a timer and on a signed NOTIFY,
 * each changed zone served at once and notified; UPDATE is refused for them.
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
  type Zone,
  type Hmac,
  type TsigKey,
} from 'fata/dns';
import { AppendLog } from 'fata/storage';
import { fetchTree, parseRemote, remoteHead } from 'fata/git';
import type { Assets, BlockDevice, Context, DevicesOf, Main, NetStack } from 'fata';
import type config from './config.ts';
import { GitZones, type GitZonesOptions } from './git-zones.ts';
import { parseZoneFiles, serialOf } from './zone-files.ts';

const hmac: Hmac = (hash, key, data) => createHmac(hash, key).update(data).digest();
const NOERROR = 0,
  REFUSED = 5,
  NOTAUTH = 9;
/** What a --zones-remote branch may hold; a fetch of more is refused and the zones stay as they are. */
const ZONES_MAX_BYTES = 64 << 20;

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
  /** --zones-remote: the zones' git branch. */
  readonly remote: { url: string; branch: string | undefined } | undefined;
}

/** The parameters about keys, primary and secondaries, checked; or the one at fault and what to write instead. */
function options(params: {
  tsig: string;
  primary: string;
  zone: string;
  notify: string;
  'allow-update': string;
  'zones-remote': string;
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
  let remote: Options['remote'];
  if (params['zones-remote'] !== '') {
    try {
      remote = parseRemote(params['zones-remote'], '--zones-remote');
    } catch (e) {
      return { parameter: '--zones-remote', error: (e as Error).message };
    }
    if (updateKeys.size > 0)
      return {
        parameter: '--allow-update',
        error: 'zones from --zones-remote change by a push to their branch, not by UPDATE: leave out --allow-update (or --zones-remote)',
      };
  }
  return { keys, primary, secondaryZones, notifyTargets, updateKeys, remote };
}

/** The image's zone files, but those transferred instead; undefined when one has an error (each logged with its file and line), or when there are none and nothing to transfer. */
function imageZones(files: Assets, skip: readonly string[], log: Context['log']): Zone[] | undefined {
  const { zones, errors } = parseZoneFiles(
    files.list().map((p) => [p, files.get(p)!] as const),
    skip,
  );
  for (const e of errors)
    log.error('zone-error', { zone: e.zone, file: e.file, ...(e.line === undefined ? {} : { line: e.line }), error: e.error });
  for (const [apex, { zone }] of zones) log.info('zone-loaded', { zone: apex, records: zone.records.length, serial: serialOf(zone) });
  if (zones.size === 0 && errors.length === 0 && skip.length === 0) {
    log.error('no-zones', {
      hint: 'put NAME.zone master files in the zones/ folder and rebuild, or transfer them with --primary and --zone, or fetch them with --zones-remote',
    });
    return undefined;
  }
  return errors.length ? undefined : [...zones.values()].map((z) => z.zone);
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
  journal: UpdateJournal | undefined,
  o: Options,
  applied: (z: Zone) => void,
  log: Context['log'],
): (src: string) => (m: Parameters<Updates['handle']>[0], key: TsigKey | undefined) => number {
  const updates = new Updates(authority, {
    // Zones from git (no journal) change only by a push: every UPDATE to them is refused.
    allowed: (apex, key) => journal !== undefined && key !== undefined && o.updateKeys.has(key.name) && !o.secondaryZones.includes(apex),
    commit: (z, diff) => (journal ? journal.record(z, diff) : 'full'),
    applied,
    log: (level, event, fields) => log[level](event, fields),
  });
  return (src) => (m, key) => updates.handle(m, key, src);
}

/**
 * RFC 1996 §3.10: NOTIFY only from the primary, and signed when we have keys. For a zone from git, a NOTIFY signed
 * with any --tsig key (from any address) fetches the branch again: a push hook's way to say it changed.
 */
function notifyHandler(
  secondaries: ReadonlyMap<string, Secondary>,
  git: GitZones | undefined,
  o: Options,
  log: Context['log'],
): ((src: string) => (apex: string, serial: number | undefined, key: TsigKey | undefined) => number) | undefined {
  if (secondaries.size === 0 && !git) return undefined;
  return (src) => (apex, serial, key) => {
    if (git?.holds(apex)) {
      if (!key) {
        log.warn('notify-refused', {
          zone: apex,
          from: src,
          signed: false,
          hint: 'a NOTIFY that fetches --zones-remote must be signed with a --tsig key',
        });
        return REFUSED;
      }
      log.info('notify-received', { zone: apex, serial: serial ?? 'none', from: src, key: key.name });
      git.request('notify');
      return NOERROR;
    }
    const s = secondaries.get(apex);
    if (!s) return NOTAUTH;
    if (src !== o.primary!.address || (o.keys.length > 0 && !key)) {
      log.warn('notify-refused', { zone: apex, from: src, signed: key !== undefined });
      return REFUSED;
    }
    log.info('notify-received', { zone: apex, serial: serial ?? 'none', from: src });
    s.notify(serial);
    return NOERROR;
  };
}

/**
 * The zones to serve at boot: from --zones-remote (with the GitZones that fetches them again), or the image's with
 * the journal's updates; undefined (logged) when they cannot be had.
 */
async function loadZones(
  devices: DevicesOf<typeof config>,
  o: Options,
  ca: string,
  changed: (z: Zone) => void,
  log: Context['log'],
): Promise<{ authority: Authority; journal: UpdateJournal | undefined; git: GitZones | undefined; served: Zone[] } | undefined> {
  if (o.remote) {
    const authority = new Authority([]);
    const git = new GitZones({
      fetch: gitFetch(devices.service, o.remote, ca || undefined),
      authority,
      skip: o.secondaryZones,
      changed,
      log,
    });
    const zones = await git.boot();
    if (!zones) return undefined;
    for (const z of zones) authority.setZone(z);
    return { authority, journal: undefined, git, served: zones };
  }
  const zones = imageZones(devices.zones, o.secondaryZones, log);
  if (!zones) return undefined;
  if (!devices.journal) {
    // The journal is optional: without it the image's zones are served as built, and UPDATE is refused.
    if (o.updateKeys.size > 0) {
      log.error('bad-parameter', {
        parameter: '--allow-update',
        error: 'updates are journaled before they are served: attach the journal device, --block:journal=FILE (truncate -s 1M journal.img)',
      });
      return undefined;
    }
    return { authority: new Authority(zones), journal: undefined, git: undefined, served: zones };
  }
  const restored = restore(devices.journal, zones, log);
  return restored && { ...restored, git: undefined, served: zones };
}

/** How GitZones fetches --zones-remote: one ref advertisement when a commit is known (unchanged: nothing more), else a clone. */
function gitFetch(net: NetStack, remote: { url: string; branch: string | undefined }, ca: string | undefined): GitZonesOptions['fetch'] {
  return async (known) => {
    if (known !== undefined && (await remoteHead(net, remote.url, remote.branch, ca)) === known) return 'unchanged';
    return fetchTree(net, remote.url, remote.branch, { maxBytes: ZONES_MAX_BYTES, ca, limitName: 'what a zones branch may hold' });
  };
}

export const main: Main<typeof config> = async (devices, params, ctx) => {
  const o = options(params);
  if ('error' in o) {
    ctx.log.error('bad-parameter', { parameter: o.parameter, error: o.error });
    return 1;
  }
  const { keys, primary, secondaryZones, notifyTargets, updateKeys, remote } = o;
  const wallSec = (): number => Number(ctx.clock.wallNs() / 1_000_000_000n);
  const nowMs = (): number => Number(ctx.clock.monotonicNs() / 1_000_000n);
  const tsig = () => ({ keys, hmac, now: wallSec() });
  // The first key signs what this server asks of others: transfers from its primary, its NOTIFYs.
  const ownKey = keys[0] ? { key: keys[0], hmac } : undefined;
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
  const loaded = await loadZones(devices, o, params['zones-remote-ca'], notifyAll, ctx.log);
  if (!loaded) return 1;
  const { authority, journal, git, served } = loaded;
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
  const notify = notifyHandler(secondaries, git, o, ctx.log);
  /** What answers depend on besides the message: the keys and the time, and the NOTIFY and UPDATE handlers for the source address. */
  const handlers = (src: string) => ({ tsig: tsig(), notify: notify?.(src), update: update(src) });
  const sessions = new DnsTcpSessions({ idleMs: params['tcp-idle'] * 1000, now: nowMs });
  try {
    const udp = await net.udpBind(params.port, (m) => {
      // A plain query asked before is answered from the Authority's cache, without the handlers (TSIG, NOTIFY, UPDATE never are).
      const kept = authority.kept(m.data, 'udp');
      if (kept) udp.send(m.src, m.srcPort, kept);
      else for (const r of authority.answer(m.data, { transport: 'udp', ...handlers(m.src) })) udp.send(m.src, m.srcPort, r);
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
    zones: served.length,
    axfr: params.axfr,
    tsig: keys.map((k) => k.name).join(','),
    'allow-update': [...updateKeys].join(','),
    ...(primary ? { primary: `${primary.address}:${primary.port}`, secondary: secondaryZones.join(',') } : {}),
    ...(remote ? { 'zones-remote': params['zones-remote'], 'zones-refresh': params['zones-refresh'] } : {}),
  });
  for (const z of served) notifyAll(z);
  for (const s of secondaries.values()) s.poll();
  const refreshMs = params['zones-refresh'] * 1000;
  let nextFetchMs = nowMs() + refreshMs;
  for (;;) {
    await ctx.sleep(1000);
    sessions.sweep();
    for (const s of secondaries.values()) s.poll();
    if (git && refreshMs > 0 && nowMs() >= nextFetchMs) {
      nextFetchMs = nowMs() + refreshMs;
      git.request('timer');
    }
  }
};
