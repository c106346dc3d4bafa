/**
 * examples/dns-server's zones from git without a network: GitZones over a
 * fetch the test scripts, and the zone-file parsing it shares with the
 * image. A removed file, a fetch that fails, an unchanged commit, triggers
 * during a fetch, two files for one zone, a secondary's zone in the tree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Authority, type Zone } from 'fata/dns';
import type { GitTree } from 'fata/git';
import type { Logger } from 'fata';
import { GitZones } from '../examples/dns-server/git-zones.ts';
import { apexOf, parseZoneFiles } from '../examples/dns-server/zone-files.ts';

const zone = (apex: string, serial: number, www = '192.0.2.1'): Uint8Array =>
  new TextEncoder().encode(
    `$ORIGIN ${apex}.\n$TTL 300\n@ SOA ns1 hm ${serial} 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.53\nwww A ${www}\n`,
  );
const tree = (commit: string, files: Record<string, Uint8Array>): GitTree => ({
  commit,
  committedMs: 0,
  files: new Map(Object.entries(files)),
  bytes: 0,
});

function logger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at =
    (level: string) =>
    (event: string, fields?: Record<string, unknown>): void => {
      lines.push(`${level} ${event} ${JSON.stringify(fields ?? {})}`);
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as Logger & { lines: string[] };
}

const www = (a: Authority, apex: string): string | undefined => {
  const rr = a.zone(apex)?.get(`www.${apex}`, 1)?.[0];
  return rr?.data.kind === 'A' ? rr.data.address : undefined;
};

test('zone files: NAME.zone at any depth, lines as numbers, two files for one zone an error of both, skipped zones left out', () => {
  assert.equal(apexOf('/a/b/Example.Test.zone'), 'example.test.');
  assert.equal(apexOf('/README.md'), undefined);
  assert.equal(apexOf('/.zone'), undefined);
  const bad = new TextEncoder().encode('$ORIGIN x.test.\n@ 300 SOA ns1 hm 1 1 1 1 1\n@ 300 NS ns1\nwww 300 A 1.2.3\n');
  const r = parseZoneFiles(
    [
      ['/deep/er/a.test.zone', zone('a.test', 1)],
      ['/x.test.zone', bad],
      ['/d.test.zone', zone('d.test', 1)],
      ['/again/d.test.zone', zone('d.test', 2)],
      ['/s.test.zone', zone('s.test', 1)],
      ['/notes.txt', new Uint8Array([1, 2])],
    ],
    ['s.test.'],
  );
  assert.deepEqual([...r.zones.keys()], ['a.test.']);
  assert.equal(r.zones.get('a.test.')!.file, 'deep/er/a.test.zone');
  assert.deepEqual(
    r.errors.map((e) => [e.zone, e.file, e.line]),
    [
      ['x.test.', 'x.test.zone', 4],
      ['d.test.', 'd.test.zone', undefined],
      ['d.test.', 'again/d.test.zone', undefined],
    ],
  );
});

test('GitZones: unchanged, failed and removed; a trigger during a fetch makes one more fetch, not one each', async () => {
  const log = logger();
  const authority = new Authority([]);
  const changed: Zone[] = [];
  let next: GitTree | 'unchanged' | Error = tree('c1', { '/a.test.zone': zone('a.test', 1), '/b.test.zone': zone('b.test', 1) });
  let fetches = 0;
  let gate: Promise<void> = Promise.resolve();
  const git = new GitZones({
    fetch: async () => {
      fetches++;
      await gate;
      if (next instanceof Error) throw next;
      return next;
    },
    authority,
    skip: [],
    changed: (z) => changed.push(z),
    log,
  });
  const zones = await git.boot();
  assert.equal(zones?.length, 2);
  for (const z of zones!) authority.setZone(z);
  assert.ok(git.holds('a.test.') && git.holds('b.test.'));

  next = 'unchanged';
  git.request('timer');
  await git.idle;
  assert.equal(changed.length, 0);

  next = new Error('connection refused');
  git.request('timer');
  await git.idle;
  assert.match(log.lines.at(-1)!, /^warn zones-fetch-failed .*connection refused.*"serving":"c1"/);
  assert.equal(www(authority, 'a.test.'), '192.0.2.1');

  // b.test's file is gone, a.test changed; three triggers while the fetch waits: two fetches in all.
  let open = (): void => {};
  gate = new Promise((r) => {
    open = r;
  });
  next = tree('c2', { '/a.test.zone': zone('a.test', 2, '192.0.2.2') });
  const before = fetches;
  git.request('notify');
  git.request('notify');
  git.request('timer');
  open();
  await git.idle;
  assert.equal(fetches - before, 2);
  assert.equal(www(authority, 'a.test.'), '192.0.2.2');
  assert.equal(authority.zone('b.test.'), undefined, 'a zone whose file is gone is no longer served');
  assert.ok(!git.holds('b.test.'));
  assert.deepEqual(
    changed.map((z) => z.apex),
    ['a.test.'],
    'NOTIFY for the changed zone, once: the second fetch found it unchanged',
  );
  assert.ok(log.lines.some((l) => /^warn zone-removed .*"zone":"b.test."/.test(l)));
});

test('GitZones at boot: a broken zone, an empty tree and a failed fetch each stop the boot; a secondary zone in the tree is left out', async () => {
  const boot = async (t: GitTree | Error, skip: string[] = []): Promise<{ zones: Zone[] | undefined; lines: string[] }> => {
    const log = logger();
    const git = new GitZones({
      fetch: async () => {
        if (t instanceof Error) throw t;
        return t;
      },
      authority: new Authority([]),
      skip,
      changed: () => {},
      log,
    });
    return { zones: await git.boot(), lines: log.lines };
  };
  const broken = await boot(tree('c', { '/a.test.zone': zone('a.test', 1, '192.0.2.300') }));
  assert.equal(broken.zones, undefined);
  assert.match(broken.lines.join('\n'), /error zone-error \{"zone":"a.test.","file":"a.test.zone","line":6,/);
  assert.equal((await boot(tree('c', { '/README': new Uint8Array() }))).zones, undefined);
  assert.equal((await boot(new Error('no route'))).zones, undefined);
  const skipped = await boot(tree('c', { '/a.test.zone': zone('a.test', 1), '/s.test.zone': zone('s.test', 1) }), ['s.test.']);
  assert.deepEqual(
    skipped.zones?.map((z) => z.apex),
    ['a.test.'],
  );
});
