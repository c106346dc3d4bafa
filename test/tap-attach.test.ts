/**
 * Attaching a net device: only an existing tap, unless the run asks for one
 * to be made. A typo (`tpa0`) used to create a tap that was down and had no
 * address while the unikernel reported `serving` into nothing; `lo`, a
 * bridge or a tun got advice that did not fit them. Each case on both
 * targets, and on spt through both tenders (bin/fata's native one and the
 * CLI's), inside a namespace this test makes.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsSkipReason, waitForLine, withTapNamespace, type TapNamespace } from './netns.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const CLI = join(ROOT, 'bin/fata.mjs');
const NATIVE = join(ROOT, 'bin/fata');
const skip = netnsSkipReason(['ping']);

const tmp = mkdtempSync(join(tmpdir(), 'fata-tap-attach-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const images: Record<string, string> = {};
/** ping-serve built with direct networking for `target`, copied aside (both targets build to the same dist path). */
function image(target: 'node' | 'spt'): string {
  if (!images[target]) {
    const dir = join(ROOT, 'examples/ping-serve');
    const r = spawnSync(process.execPath, [CLI, 'build', '-t', target, '--net=direct', dir], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    images[target] = join(tmp, `ping-serve-${target}.fata`);
    copyFileSync(join(dir, 'dist/ping-serve.fata'), images[target]);
    chmodSync(tmp, 0o755);
  }
  return images[target];
}

/** The ways `fata run` is started: the CLI on each target, and bin/fata (the native tender) on spt. */
const launchers: [string, 'node' | 'spt', (ns: TapNamespace) => string[]][] = [
  ['node target', 'node', () => [process.execPath, CLI, 'run']],
  ['spt, CLI tender', 'spt', () => [process.execPath, CLI, 'run']],
  ['spt, native tender', 'spt', () => [NATIVE, 'run']],
];

const links = (ns: TapNamespace): string => ns.run(['ip', '-o', 'link', 'show']).stdout;

for (const [label, target, argv] of launchers) {
  test(`${label}: a tap that does not exist is refused, not created, with how to make it`, { skip }, async () => {
    await withTapNamespace('10.0.0.1/24', async (ns) => {
      const r = ns.run([...argv(ns), '--net:service=tpa0', image(target), '--ipv4=10.0.0.2/24'], { timeoutMs: 60_000 });
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /FATA_TAP_ATTACH.*there is no interface 'tpa0'.*ip tuntap add dev tpa0 mode tap.*,create/);
      assert.doesNotMatch(r.stdout, /event=serving/);
      assert.doesNotMatch(links(ns), /tpa0/, 'no tap was left behind');
    });
  });

  test(`${label}: lo, a bridge and a tun are refused with advice that fits each`, { skip }, async () => {
    await withTapNamespace('10.0.0.1/24', async (ns) => {
      assert.equal(ns.run(['ip', 'link', 'add', 'br9', 'type', 'bridge']).status, 0);
      assert.equal(ns.run(['ip', 'tuntap', 'add', 'dev', 'tun9', 'mode', 'tun']).status, 0);
      const cases: [string, RegExp][] = [
        ['lo', /'lo' is the loopback interface.*--net=socket/],
        ['br9', /'br9' is a bridge.*ip link set fata0 master br9/],
        ['tun9', /'tun9' is a tun device.*mode tap/],
      ];
      for (const [iface, advice] of cases) {
        const r = ns.run([...argv(ns), `--net:service=${iface}`, image(target), '--ipv4=10.0.0.2/24'], { timeoutMs: 60_000 });
        assert.equal(r.status, 1, `${iface}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, advice, iface);
        assert.doesNotMatch(r.stderr, /ip tuntap add dev lo\b/);
      }
      ns.run(['ip', 'tuntap', 'del', 'dev', 'tun9', 'mode', 'tun']);
    });
  });

  test(`${label}: ',create' makes the tap for the run, up, and it goes when the run ends`, { skip }, async () => {
    await withTapNamespace('10.0.0.1/24', async (ns) => {
      const child = ns.start([...argv(ns), '--net:service=fata9,create', image(target), '--ipv4=10.9.0.2/24']);
      await waitForLine(child, /event=serving/);
      const link = links(ns);
      assert.match(link, /fata9: <[^>]*\bUP\b/, link);
      // The host side is the operator's: with an address on it, the unikernel answers.
      assert.equal(ns.run(['ip', 'addr', 'add', '10.9.0.1/24', 'dev', 'fata9']).status, 0);
      const ping = ns.run(['ping', '-c', '3', '-i', '0.2', '-W', '2', '10.9.0.2']);
      assert.match(ping.stdout, /3 received/, ping.stdout + ping.stderr);
      const exited = waitForLine(child, /event=exit code=0/);
      child.kill('SIGTERM');
      await exited;
      await new Promise((r) => setTimeout(r, 200)); // The descriptor closes as the tender exits.
      assert.doesNotMatch(links(ns), /fata9/);
    });
  });
}

test("a --net flag with an option other than ',create' is a flag error", { skip }, async () => {
  await withTapNamespace('10.0.0.1/24', async (ns) => {
    const r = ns.run([process.execPath, CLI, 'run', '--net:service=tap0,persist', image('node')], { timeoutMs: 60_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /the only option after the interface is ',create'/);
  });
});
