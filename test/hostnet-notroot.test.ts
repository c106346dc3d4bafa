/**
 * `fata net` run by an account that is not root: every command that would
 * change the host (create, destroy, forward, unforward) is refused with
 * FATA_NET_ROOT and what to do, before it reads or writes its state or runs
 * `ip` or `nft`; `list` works. Run as nobody (from a copy of the checkout it
 * can reach) under root, or as this account otherwise. No namespace is
 * needed: nothing is made, and the test checks that nothing was.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runnableCheckout } from './unprivileged.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const asRoot = process.getuid?.() === 0;
const copy = asRoot ? runnableCheckout(65534) : undefined;
const CHECKOUT = copy?.root ?? ROOT;
const UID = asRoot ? 65534 : undefined;
// A state folder the account may write to: a refusal that came after the state was written would show here.
const state = mkdtempSync(join(tmpdir(), 'fata-net-notroot-'));
chmodSync(state, 0o777);
after(() => {
  copy?.remove();
  rmSync(state, { recursive: true, force: true });
});

function fata(...args: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(join(CHECKOUT, 'bin', 'fata'), ['net', ...args, `--state-dir=${state}`], {
    cwd: CHECKOUT,
    uid: UID,
    gid: UID,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
}

test('fata net as an account that is not root: each changing command says to run it as root and changes nothing; list works', () => {
  const name = `nr${process.pid % 100_000}`;
  const commands = [
    ['create', name, '--cidr=10.79.0.1/24'],
    ['create', name, '--cidr=10.79.0.1/24', '--nat', '--dhcp'],
    // A network that does not exist: the answer is still about root, not about the network (nothing is read first).
    ['destroy', name],
    ['destroy', name, '--force'],
    ['forward', name, 'tcp', '8080', '10.79.0.2:80'],
    ['unforward', name, 'udp', '5353'],
  ];
  for (const args of commands) {
    const r = fata(...args);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.out}${r.err}`);
    assert.match(
      r.err,
      /FATA_NET_ROOT: fata net changes the host's interfaces and firewall: run it as root \(sudo fata net …\)/,
      args.join(' '),
    );
    assert.deepEqual(readdirSync(state), [], `${args.join(' ')}: the state folder was written to`);
  }
  assert.notEqual(spawnSync('ip', ['link', 'show', name]).status, 0, `an interface ${name} was made`);
  const list = fata('list', '--json');
  assert.equal(list.status, 0, list.err);
  assert.deepEqual(JSON.parse(list.out), []);
});
