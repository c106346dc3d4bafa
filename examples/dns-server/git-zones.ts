/**
 * A primary whose zones live in a git repository (`--zones-remote`, as
 * robur's dns-primary-git): every `NAME.zone` file of the branch's tree is
 * zone `NAME.`. Fetched at boot (a fetch that fails, or a zone with an error,
 * stops the boot), then again on request (a timer, a signed NOTIFY): each
 * zone is taken or kept on its own. A zone whose file changed is served at
 * once and its secondaries notified, when its serial is newer (RFC 1982);
 * a zone with an error, or changed without a newer serial, keeps being
 * served as it was, and the error is logged with its file and line; a zone
 * whose file is gone is no longer served. Git is the only source of these
 * zones: UPDATE does not change them (the caller refuses it).
 */
import { serialNewer, zoneDiff, type Authority, type Zone } from 'fata/dns';
import type { GitTree } from 'fata/git';
import type { Logger } from 'fata';
import { parseZoneFiles, serialOf, type ZoneFileError } from './zone-files.ts';

export interface GitZonesOptions {
  /** Fetches the branch: its tree, or 'unchanged' when it is still at `known`; rejects with why it cannot. */
  readonly fetch: (known: string | undefined) => Promise<GitTree | 'unchanged'>;
  readonly authority: Authority;
  /** Zones this server is a secondary of: files of theirs in the tree are not served. */
  readonly skip: readonly string[];
  /** A zone was loaded or changed: tell its secondaries. */
  readonly changed: (z: Zone) => void;
  readonly log: Logger;
}

const logError = (log: Logger, e: ZoneFileError, commit: string): void =>
  log.error('zone-error', { zone: e.zone, file: e.file, ...(e.line === undefined ? {} : { line: e.line }), error: e.error, commit });

/** True when two versions of a zone hold the same records and SOA. */
function same(a: Zone, b: Zone): boolean {
  const d = zoneDiff(a, b);
  return d.added.length === 0 && d.deleted.length === 0 && JSON.stringify(a.soa.data) === JSON.stringify(b.soa.data);
}

export class GitZones {
  private readonly o: GitZonesOptions;
  /** The commit served, and the file each zone from git came from. */
  private commit: string | undefined;
  private readonly files = new Map<string, string>();
  private running = false;
  private pending: string | undefined;
  /** Resolves when the fetches asked for so far are done (tests, shutdown). */
  idle: Promise<void> = Promise.resolve();

  constructor(o: GitZonesOptions) {
    this.o = o;
  }

  /** Whether `apex` is one of the zones from git now. */
  holds(apex: string): boolean {
    return this.files.has(apex);
  }

  /** The first fetch: the zones to serve, or undefined (logged) when the fetch fails, a zone has an error, or there are none. */
  async boot(): Promise<Zone[] | undefined> {
    let tree: GitTree;
    try {
      const t = await this.o.fetch(undefined);
      if (t === 'unchanged') throw new Error('the first fetch cannot be unchanged');
      tree = t;
    } catch (e) {
      this.o.log.error('zones-fetch-failed', { trigger: 'boot', error: (e as Error).message });
      return undefined;
    }
    const { zones, errors } = parseZoneFiles(tree.files, this.o.skip);
    for (const e of errors) logError(this.o.log, e, tree.commit);
    if (errors.length) return undefined;
    if (zones.size === 0) {
      this.o.log.error('no-zones', { commit: tree.commit, hint: 'commit one NAME.zone master file per zone to the branch' });
      return undefined;
    }
    this.commit = tree.commit;
    for (const [apex, { zone, file }] of zones) {
      this.files.set(apex, file);
      this.o.log.info('zone-loaded', { zone: apex, file, serial: serialOf(zone), records: zone.records.length, commit: tree.commit });
    }
    this.o.log.info('zones-fetched', { trigger: 'boot', commit: tree.commit, zones: zones.size });
    return [...zones.values()].map((z) => z.zone);
  }

  /** Fetches again, after the fetch running now if there is one (requests during it make one more fetch, not one each). */
  request(trigger: string): void {
    if (this.running) {
      this.pending = trigger;
      return;
    }
    this.running = true;
    this.idle = (async () => {
      for (let t: string | undefined = trigger; t !== undefined; t = this.pending) {
        this.pending = undefined;
        await this.refresh(t);
      }
      this.running = false;
    })();
  }

  private async refresh(trigger: string): Promise<void> {
    const { log, authority } = this.o;
    let t: GitTree | 'unchanged';
    try {
      t = await this.o.fetch(this.commit);
    } catch (e) {
      log.warn('zones-fetch-failed', { trigger, error: (e as Error).message, serving: this.commit ?? 'none' });
      return;
    }
    if (t === 'unchanged') {
      log.debug('zones-unchanged', { trigger, commit: this.commit ?? 'none' });
      return;
    }
    const tree = t;
    const { zones, errors } = parseZoneFiles(tree.files, this.o.skip);
    for (const e of errors) logError(log, e, tree.commit);
    const count = { loaded: 0, unchanged: 0, kept: 0, removed: 0 };
    const broken = new Set(errors.map((e) => e.zone));
    for (const apex of broken) {
      const old = authority.zone(apex);
      if (old && this.files.has(apex)) {
        count.kept++;
        log.warn('zone-kept', { zone: apex, serial: serialOf(old), reason: 'the new version has errors', commit: tree.commit });
      }
    }
    for (const [apex, { zone, file }] of zones) {
      const old = this.files.has(apex) ? authority.zone(apex) : undefined;
      if (old && same(old, zone)) {
        count.unchanged++;
        this.files.set(apex, file);
        continue;
      }
      if (old && !serialNewer(serialOf(zone), serialOf(old))) {
        count.kept++;
        log.error('zone-error', {
          zone: apex,
          file,
          error: `the zone changed but its serial ${serialOf(zone)} is not newer than the served ${serialOf(old)}: raise the SOA serial`,
          commit: tree.commit,
        });
        continue;
      }
      authority.setZone(zone);
      this.files.set(apex, file);
      count.loaded++;
      log.info('zone-loaded', { zone: apex, file, serial: serialOf(zone), records: zone.records.length, commit: tree.commit, trigger });
      this.o.changed(zone);
    }
    for (const apex of [...this.files.keys()]) {
      if (zones.has(apex) || broken.has(apex)) continue;
      authority.removeZone(apex);
      this.files.delete(apex);
      count.removed++;
      log.warn('zone-removed', { zone: apex, reason: 'no file for it in the tree', commit: tree.commit });
    }
    this.commit = tree.commit;
    log.info('zones-fetched', { trigger, commit: tree.commit, ...count, errors: errors.length });
  }
}
