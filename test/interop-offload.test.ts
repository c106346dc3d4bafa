/**
 * What a wire carries when Fata sends with segmentation offload: the kernel
 * as a peer that announces MSS 536, behind tap → bridge → veth with every
 * offload off (there the kernel cuts and checksums exactly the packets
 * marked for offload, and passes everything else on as it is), and a raw
 * observer on the peer's veth. Every TCP segment Fata sends must fit the
 * peer's MSS and carry a valid checksum. Two namespaces of the test's own,
 * removed afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsSkipReason, stopAll, waitForLine } from './netns.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const FATA = join(ROOT, 'bin/fata.mjs');
const skip = netnsSkipReason(['nc', 'ethtool', 'tshark']) ?? (process.arch === 'x64' ? false : 'the spt target is x86_64 only');

function sh(argv: string[], timeoutMs = 60_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
function must(argv: string[]): void {
  const r = sh(argv);
  if (r.status !== 0) throw new Error(`'${argv.join(' ')}' failed (${r.status}): ${r.stderr.trim()}`);
}

/** tap0 and veth0 in a bridge in `host`, veth1 in `peer` with 10.0.0.1/24 and MSS 536; every offload off. */
function makeTopology(host: string, peer: string): void {
  const inHost = (argv: string[]): string[] => ['ip', 'netns', 'exec', host, ...argv];
  const inPeer = (argv: string[]): string[] => ['ip', 'netns', 'exec', peer, ...argv];
  for (const cmd of [
    ['ip', 'link', 'set', 'lo', 'up'],
    ['ip', 'tuntap', 'add', 'dev', 'tap0', 'mode', 'tap'],
    ['ip', 'link', 'add', 'br0', 'type', 'bridge'],
    ['ip', 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1'],
    ['ip', 'link', 'set', 'veth1', 'netns', peer],
    ['ip', 'link', 'set', 'tap0', 'master', 'br0'],
    ['ip', 'link', 'set', 'veth0', 'master', 'br0'],
    ['ethtool', '-K', 'veth0', 'tso', 'off', 'gso', 'off', 'gro', 'off', 'tx', 'off', 'rx', 'off'],
    ['ethtool', '-K', 'br0', 'tso', 'off', 'gso', 'off', 'tx', 'off'],
    ['ip', 'link', 'set', 'tap0', 'up'],
    ['ip', 'link', 'set', 'veth0', 'up'],
    ['ip', 'link', 'set', 'br0', 'up'],
  ])
    must(inHost(cmd));
  for (const cmd of [
    ['ip', 'link', 'set', 'lo', 'up'],
    ['ip', 'addr', 'add', '10.0.0.1/24', 'dev', 'veth1'],
    ['ethtool', '-K', 'veth1', 'tso', 'off', 'gso', 'off', 'gro', 'off', 'tx', 'off', 'rx', 'off'],
    ['ip', 'link', 'set', 'veth1', 'up'],
    // The peer announces MSS 536 on its connections through this route.
    ['ip', 'route', 'replace', '10.0.0.0/24', 'dev', 'veth1', 'advmss', '536'],
  ])
    must(inPeer(cmd));
}

test('offload on the tap, a peer with MSS 536 behind a bridge and a veth without offloads: every segment on the wire fits and checksums', {
  skip,
}, async () => {
  const built = sh([process.execPath, FATA, 'build', '-t', 'spt', 'examples/echo']);
  assert.equal(built.status, 0, built.stderr);
  const host = `fata-off-${process.pid}`,
    peer = `fata-peer-${process.pid}`;
  const inHost = (argv: string[]): string[] => ['ip', 'netns', 'exec', host, ...argv];
  const inPeer = (argv: string[]): string[] => ['ip', 'netns', 'exec', peer, ...argv];
  const dir = mkdtempSync(join(tmpdir(), 'fata-offload-'));
  const children: ChildProcess[] = [];
  must(['ip', 'netns', 'add', host]);
  must(['ip', 'netns', 'add', peer]);
  try {
    makeTopology(host, peer);

    const start = (argv: string[]): ChildProcess => {
      const c = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(c);
      return c;
    };
    const fata = start(
      inHost([process.execPath, FATA, 'run', '--net:service=tap0', join(ROOT, 'examples/echo/dist/echo.fata'), '--ipv4=10.0.0.2/24']),
    );
    await waitForLine(fata, /event=serving/, 60_000);
    const pcap = join(dir, 'wire.pcap');
    const observer = start(inPeer(['tshark', '-q', '-i', 'veth1', '-f', 'tcp and src host 10.0.0.2', '-w', pcap]));
    // tshark says on stderr when the capture is open.
    await new Promise<void>((resolve, reject) => {
      let err = '';
      const t = setTimeout(() => reject(new Error(`tshark did not start capturing: ${err}`)), 30_000);
      observer.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        if (/Capturing on/.test(err)) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    const n = 4_000_000;
    const got = sh(inPeer(['sh', '-c', `nc 10.0.0.2 19 | head -c ${n} | wc -c`]), 120_000);
    assert.equal(got.stdout.trim(), String(n), `chargen through the bridge: ${got.stderr}`);
    observer.kill('SIGINT');
    await once(observer, 'exit');
    const fields = sh([
      'tshark',
      '-r',
      pcap,
      '-o',
      'tcp.check_checksum:TRUE',
      '-T',
      'fields',
      '-e',
      'tcp.len',
      '-e',
      'tcp.checksum.status',
    ]);
    const rows = fields.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t'));
    assert.ok(rows.length > 1000, `the observer saw ${rows.length} segments from Fata`);
    const biggest = Math.max(...rows.map((r) => Number(r[0])));
    const bad = rows.filter((r) => r[1] === '0' || r[1] === 'Bad').length;
    assert.ok(biggest <= 536, `a ${biggest}-byte segment crossed the wire; the peer announced MSS 536`);
    assert.equal(bad, 0, `${bad} segments with a bad checksum`);
  } finally {
    await stopAll(children);
    sh(['ip', 'netns', 'del', peer]);
    sh(['ip', 'netns', 'del', host]);
    rmSync(dir, { recursive: true, force: true });
  }
});
