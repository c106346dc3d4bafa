/**
 * examples/website with its optional `store` block device attached, against Debian's pebble in a namespace
 * this test makes. The first boot orders a certificate and stores it with the account key; a restart on the
 * same block file serves the same certificate with no new order at pebble (pebble's own log counts the
 * orders); a store written over with garbage is reported, and the website orders anew and serves; a
 * new name is a new order from the stored account (pebble's count of accounts stays). With 30 s
 * certificates: a stored one past two thirds of its life at boot is ordered anew and the new one served,
 * and the renewal the running website makes is stored and loaded by the next boot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { netnsSkipReason, waitForLine, withTapNamespace, type TapNamespace } from './netns.ts';
import { handshakeCert, pebble } from './pebble.ts';
import { readableTempDir } from './unprivileged.ts';
import { buildImage } from './images.ts';

const FATA = new URL('../bin/fata.mjs', import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;
const target = process.arch === 'x64' ? 'spt' : 'node';
const skip = netnsSkipReason(['openssl', 'pebble', 'pebble-challtestsrv']);

/** Boots the website on `disk` until it serves (and, with `until`, until its log matches that too); returns its log so far and stops it. */
async function boot(ns: TapNamespace, dir: string, disk: string, domains = 'site.test', until?: RegExp): Promise<string> {
  const child: ChildProcess = ns.start([
    process.execPath,
    FATA,
    'run',
    `--net:service=${ns.tap}`,
    `--block:store=${disk}`,
    join(ROOT, 'examples/website/dist/website.fata'),
    '--ipv4=10.0.0.2/24',
    '--http-port=80',
    '--https-port=443',
    '--acme-directory=https://10.0.0.1:14000/dir',
    '--acme-email=admin@site.test',
    `--domain=${domains}`,
    `--acme-ca=${join(dir, 'pebble-cert.pem')}`,
  ]);
  let text = '';
  child.stdout!.on('data', (d: Buffer) => {
    text += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    text += d.toString();
  });
  try {
    await waitForLine(child, /event=serving/, 90_000);
    const served = handshakeCert(ns).serial;
    for (let i = 0; until && i < 600 && !until.test(text); i++) await new Promise((r) => setTimeout(r, 100));
    return `${text}\nserved=${served}`;
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = once(child, 'exit');
      child.kill('SIGTERM');
      await gone;
    }
  }
}

/** What a test gets from withStore: the namespace, its files, and pebble's counts from its log. */
interface StoreRun {
  readonly ns: TapNamespace;
  readonly dir: string;
  /** A zeroed 1 MiB block file for --block:store. */
  readonly disk: string;
  /** Orders pebble has taken, and accounts it has made (it logs the count each time it makes one). */
  orders(): number;
  accounts(): number;
  log(): string;
}

/** Builds the website, makes the store file, and runs pebble with certificates of `lifetimeS` in a new namespace. */
async function withStore(prefix: string, lifetimeS: number, f: (r: StoreRun) => Promise<void>): Promise<void> {
  const dir = readableTempDir(prefix);
  try {
    buildImage('examples/website', target);
    const disk = join(dir, 'store.img');
    writeFileSync(disk, '');
    truncateSync(disk, 1 << 20);
    await withTapNamespace('10.0.0.1/24', async (ns) => {
      const server = await pebble(ns, dir, lifetimeS);
      let text = '';
      server.stdout!.on('data', (d: Buffer) => {
        text += d.toString();
      });
      server.stderr!.on('data', (d: Buffer) => {
        text += d.toString();
      });
      await f({
        ns,
        dir,
        disk,
        orders: () => text.match(/Added order /g)?.length ?? 0,
        accounts: () => Number([...text.matchAll(/There are now (\d+) accounts/g)].at(-1)?.[1] ?? 0),
        log: () => text,
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test(`website --block:store (${target}): the ACME certificate and account key outlive a restart; a damaged store orders anew`, {
  skip,
  timeout: 300_000,
}, async () => {
  // An hour's certificates: not due for renewal (at two thirds) during the test.
  await withStore('fata-acme-store-', 3600, async ({ ns, dir, disk, orders, accounts, log }) => {
    const first = await boot(ns, dir, disk);
    const issued = /event=certificate-issued .*serial=(\w+)/.exec(first)?.[1];
    assert.ok(issued, first);
    assert.match(first, new RegExp(`event=certificate-stored serial=${issued}`), first);
    assert.equal(/served=(\w*)/.exec(first)?.[1]?.toLowerCase(), issued.toLowerCase(), 'serves what pebble issued');
    assert.equal(orders(), 1, log());
    assert.equal(accounts(), 1, log());

    const second = await boot(ns, dir, disk);
    assert.match(second, new RegExp(`event=certificate-loaded .*serial=${issued}`), second);
    assert.doesNotMatch(second, /event=certificate-issued/, 'no new certificate on a restart');
    assert.equal(/served=(\w*)/.exec(second)?.[1]?.toLowerCase(), issued.toLowerCase(), 'the same certificate served');
    assert.equal(orders(), 1, `no new order at pebble: ${log()}`);

    // Garbage over the whole store: reported, a new order, and the website serves.
    writeFileSync(disk, randomBytes(1 << 20));
    const third = await boot(ns, dir, disk);
    assert.match(third, /level=warn .*event=acme-store-unreadable/, third);
    const again = /event=certificate-issued .*serial=(\w+)/.exec(third)?.[1];
    assert.ok(again, third);
    assert.notEqual(again, issued);
    assert.equal(/served=(\w*)/.exec(third)?.[1]?.toLowerCase(), again.toLowerCase());
    assert.equal(orders(), 2, log());
    assert.equal(accounts(), 2, 'the account key was in the damaged store too');

    // And that new certificate is what the next boot loads.
    const fourth = await boot(ns, dir, disk);
    assert.match(fourth, new RegExp(`event=certificate-loaded .*serial=${again}`), fourth);
    assert.equal(orders(), 2, log());

    // Another name: the stored certificate does not cover it, so a new order, from the stored account.
    const fifth = await boot(ns, dir, disk, 'site.test,www.site.test');
    assert.match(fifth, /event=acme-store-other-domains/, fifth);
    const wider = /event=certificate-issued .*serial=(\w+)/.exec(fifth)?.[1];
    assert.ok(wider, fifth);
    assert.equal(orders(), 3, log());
    assert.equal(accounts(), 2, `the stored account key, no new account: ${log()}`);
  });
});

test(`website --block:store (${target}): a stored certificate past two thirds of its life at boot is renewed, and a running renewal is stored`, {
  skip,
  timeout: 300_000,
}, async () => {
  // 30 s certificates: due for renewal 20 s after issuance.
  await withStore('fata-acme-due-', 30, async ({ ns, dir, disk, orders, log }) => {
    const first = await boot(ns, dir, disk);
    const issued = /event=certificate-issued .*serial=(\w+) expires=(\S+)/.exec(first);
    assert.ok(issued, first);
    assert.match(first, new RegExp(`event=certificate-stored serial=${issued[1]}`), first);
    assert.equal(orders(), 1, log());

    // Wait, stopped, until two thirds of the stored certificate's life have passed (pebble's 30 s are 29 s from
    // notBefore to notAfter: due 9.7 s before it expires; 8 s leaves a margin).
    const dueAt = Date.parse(issued[2]!) - 8_000;
    while (Date.now() < dueAt) await new Promise((r) => setTimeout(r, 250));

    // A boot now finds it due: a new order at pebble, the new certificate served and stored; kept running until its
    // own renewal (20 s on), which must reach the store too.
    const second = await boot(
      ns,
      dir,
      disk,
      'site.test',
      /event=certificate-stored serial=\w+[\s\S]*event=certificate-renewed[\s\S]*event=certificate-stored/,
    );
    assert.match(second, new RegExp(`event=certificate-due serial=${issued[1]} `), second);
    assert.doesNotMatch(second, /event=certificate-loaded/, 'a due certificate is not served again');
    const renewedAtBoot = /event=certificate-issued .*serial=(\w+)/.exec(second)?.[1];
    assert.ok(renewedAtBoot, second);
    assert.notEqual(renewedAtBoot, issued[1]);
    assert.equal(/served=(\w*)/.exec(second)?.[1]?.toLowerCase(), renewedAtBoot.toLowerCase(), 'the new certificate is served');
    const renewedRunning = /event=certificate-renewed serial=(\w+)/.exec(second)?.[1];
    assert.ok(renewedRunning, `renewed while running: ${second}`);
    assert.match(second, new RegExp(`event=certificate-stored serial=${renewedRunning}`), second);
    assert.equal(orders(), 3, log());

    // And the next boot loads the one the running website renewed, with no order.
    const third = await boot(ns, dir, disk);
    assert.match(third, new RegExp(`event=certificate-loaded .*serial=${renewedRunning}`), third);
    assert.equal(/served=(\w*)/.exec(third)?.[1]?.toLowerCase(), renewedRunning.toLowerCase());
    assert.equal(orders(), 3, log());
  });
});
