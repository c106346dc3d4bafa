/**
 * The spt target: the sealed engine. A service that tries to open a file,
 * read /proc/self, connect, listen and spawn is denied each time (and the
 * same service unsealed succeeds each time, so the test can fail);
 * block-test passes on a 4 MiB file; ping-serve answers the kernel's ping
 * on a tap inside a namespace this test creates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsSkipReason, waitForLine, withTapNamespace } from './netns.ts';

const FATA = new URL('../bin/fata.mjs', import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;
const sptSkip = process.arch !== 'x64' ? `the spt allow-list is for x86_64; this is ${process.arch}` : false;

function fata(args: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [FATA, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

async function escapeAttempts(target: 'node' | 'spt', port: number): Promise<Record<string, string>> {
  // The listener lives in this process; the service runs in another, so a sync run would deadlock.
  const child = spawn(process.execPath, [FATA, 'run', '-t', target, 'test/fixtures/escape', `--port=${port}`], { cwd: ROOT });
  const line = await waitForLine(child, /event=attempts/, 60_000);
  const out: Record<string, string> = {};
  for (const m of line.matchAll(/ (open|proc|spawn|connect|listen)=(\S+)/g)) out[m[1]!] = m[2]!;
  return out;
}

test('sealed, every way out is denied; unsealed, the same service gets out', { skip: sptSkip }, async () => {
  const srv = createServer((s) => s.end());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  try {
    const open = await escapeAttempts('node', port);
    assert.deepEqual(open, { open: 'allowed', proc: 'allowed', spawn: 'allowed', connect: 'allowed', listen: 'allowed' },
      'the unsealed control must succeed, or the sealed run proves nothing');
    const sealed = await escapeAttempts('spt', port);
    assert.deepEqual(Object.keys(sealed).sort(), ['connect', 'listen', 'open', 'proc', 'spawn']);
    for (const [what, result] of Object.entries(sealed)) assert.match(result, /^denied:/, `${what} was ${result}`);
  } finally {
    srv.close();
  }
});

test('block-test passes on a 4 MiB file under spt, and its writes reach the file', { skip: sptSkip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fata-block-'));
  try {
    const disk = join(dir, 'disk.img');
    writeFileSync(disk, '');
    truncateSync(disk, 4 << 20);
    const r = fata(['run', '-t', 'spt', '--block:storage=' + disk, 'examples/block-test']);
    assert.equal(r.status, 0, r.err + r.out);
    assert.match(r.out, /event=block-test-ok blocks=8192 bytes=4194304/);
    assert.match(r.out, /event=boot target=spt/);
    const written = spawnSync('od', ['-An', '-tx1', '-N4', disk], { encoding: 'utf8' }).stdout.trim();
    assert.notEqual(written, '00 00 00 00', 'the pattern is on the host file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const nsSkip = sptSkip || netnsSkipReason(['ping']);

test('ping-serve under spt answers the kernel\'s ping on a tap, and stops on SIGTERM', { skip: nsSkip }, async () => {
  fata(['build', '-t', 'spt', 'examples/ping-serve']);
  await withTapNamespace('10.0.0.1/24', async (ns) => {
    const child = ns.start([process.execPath, FATA, 'run', `--net:service=${ns.tap}`, '--net-mac:service=02:00:00:00:00:02',
      join(ROOT, 'examples/ping-serve/dist/ping-serve.fata'), '--ipv4=10.0.0.2/24']);
    await waitForLine(child, /event=serving/);
    for (const size of ['56', '4000']) {
      const r = ns.run(['ping', '-c', '10', '-i', '0.05', '-W', '2', '-s', size, '10.0.0.2']);
      assert.match(r.stdout, /10 packets transmitted, 10 received, 0% packet loss/, r.stdout + r.stderr);
    }
    const neigh = ns.run(['ip', 'neigh', 'show', '10.0.0.2']).stdout;
    assert.match(neigh, /02:00:00:00:00:02/, 'the kernel learnt the MAC given with --net-mac');
    const exited = waitForLine(child, /event=exit code=0/);
    child.kill('SIGTERM');
    await exited;
  });
});
