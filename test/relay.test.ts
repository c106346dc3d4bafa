/**
 * `fata relay` between two namespaces: the relay runs in a third, makes its
 * two taps there and they are moved out (a tap keeps its reader when moved),
 * so every frame between the namespaces crosses it. Clean, 20 MB of the
 * kernel's TCP arrive byte-exact with every frame counted; at 5% loss they
 * still do, and the drop counts follow the probability; a website on the
 * far side answers curl through it.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsSkipReason, waitForLine } from './netns.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const FATA = join(ROOT, 'bin/fata.mjs');
const skip = netnsSkipReason(['socat', 'curl']);
const [R, A, B] = ['r', 'a', 'b'].map((x) => `fata-rl-${x}-${process.pid}`) as [string, string, string];
const dir = mkdtempSync(join(tmpdir(), 'fata-relay-'));
chmodSync(dir, 0o755);
const started: ChildProcess[] = [];
function cleanup(): void {
  for (const c of started.splice(0)) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const ns of [R, A, B]) spawnSync('ip', ['netns', 'del', ns]);
  rmSync(dir, { recursive: true, force: true });
}
after(cleanup);
process.on('exit', cleanup);

function sh(argv: string[]): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const start = (ns: string, argv: string[]): ChildProcess => {
  const c = spawn('ip', ['netns', 'exec', ns, ...argv], { detached: true });
  started.push(c);
  return c;
};

/** A relay in R between A (10.0.9.1) and B (10.0.9.2); resolves with its process once frames can flow. */
async function relayBetween(impair: string | undefined): Promise<{ relay: ChildProcess; out: () => string }> {
  for (const ns of [R, A, B]) {
    spawnSync('ip', ['netns', 'del', ns]);
    sh(['ip', 'netns', 'add', ns]);
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  }
  const relay = start(R, [process.execPath, FATA, 'relay', '--a=ra,create', '--b=rb,create', ...(impair ? [`--impair=${impair}`] : [])]);
  let out = '';
  relay.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await waitForLine(relay, /event=relaying/, 30_000);
  for (const [tap, ns, ip] of [
    ['ra', A, '10.0.9.1/24'],
    ['rb', B, '10.0.9.2/24'],
  ] as const) {
    sh(['ip', '-n', R, 'link', 'set', tap, 'netns', ns]);
    sh(['ip', '-n', ns, 'addr', 'add', ip, 'dev', tap]);
    sh(['ip', '-n', ns, 'link', 'set', tap, 'up']);
  }
  return { relay, out: () => out };
}

/** Sends `data` from A to B over the kernel's TCP; returns what B received. */
async function transfer(data: Buffer): Promise<Buffer> {
  const inFile = join(dir, 'in.bin'),
    outFile = join(dir, 'out.bin');
  writeFileSync(inFile, data);
  rmSync(outFile, { force: true });
  const server = start(B, ['socat', '-u', 'TCP-LISTEN:7001,reuseaddr', `OPEN:${outFile},creat,trunc`]);
  for (let i = 0; i < 50 && !sh(['ip', 'netns', 'exec', B, 'ss', '-ltn']).includes(':7001'); i++)
    await new Promise((r) => setTimeout(r, 100));
  sh(['ip', 'netns', 'exec', A, 'socat', '-u', `OPEN:${inFile}`, 'TCP:10.0.9.2:7001']);
  await new Promise((r) => server.once('exit', r));
  return readFileSync(outFile);
}

async function stopped(relay: ChildProcess, out: () => string): Promise<Record<string, Record<string, number>>> {
  relay.kill('SIGTERM');
  await new Promise((r) => relay.once('exit', r));
  const counts: Record<string, Record<string, number>> = {};
  for (const m of out().matchAll(/event=relay-stats dir=(\S+) (.*)/g)) {
    counts[m[1]!] = Object.fromEntries(m[2]!.split(' ').map((kv) => [kv.split('=')[0]!, Number(kv.split('=')[1])]));
  }
  return counts;
}

test('clean, the relay passes 20 MB of kernel TCP byte-exact and counts every frame', { skip }, async () => {
  const { relay, out } = await relayBetween(undefined);
  const data = randomBytes(20 << 20);
  assert.ok((await transfer(data)).equals(data), 'byte-exact');
  const c = await stopped(relay, out);
  assert.ok(c['a-b']!.frames! > (20 << 20) / 1500, `a-b frames ${c['a-b']!.frames}: MTU frames, not offloaded ones`);
  for (const k of ['dropped', 'duplicated', 'corrupted', 'reordered', 'overflow', 'queueDrops']) assert.equal(c['a-b']![k], 0, k);
});

test('at 5% loss each way, 20 MB of kernel TCP still arrive byte-exact, and about 5% of frames were dropped', { skip }, async () => {
  const { relay, out } = await relayBetween('loss=5%,seed=11');
  const data = randomBytes(20 << 20);
  assert.ok((await transfer(data)).equals(data), 'byte-exact');
  const c = await stopped(relay, out);
  const ab = c['a-b']!;
  const rate = ab.dropped! / ab.frames!;
  assert.ok(rate > 0.04 && rate < 0.06, `a-b dropped ${ab.dropped} of ${ab.frames}`);
});

test('with delay and a rate limit, the website on the far side answers curl through the relay', { skip }, async () => {
  const { relay, out } = await relayBetween('delay=20ms,rate=50mbit,queue=200');
  const image = join(dir, 'website.fata');
  sh([process.execPath, FATA, 'build', '-t', 'spt', join(ROOT, 'examples/website')]);
  writeFileSync(image, readFileSync(join(ROOT, 'examples/website/dist/website.fata')));
  // The unikernel sits behind B: a bridge in B holds the relay's tap and the unikernel's.
  sh(['ip', '-n', B, 'link', 'add', 'br0', 'type', 'bridge']);
  sh(['ip', '-n', B, 'addr', 'del', '10.0.9.2/24', 'dev', 'rb']);
  sh(['ip', '-n', B, 'link', 'set', 'rb', 'master', 'br0']);
  sh(['ip', '-n', B, 'link', 'set', 'br0', 'up']);
  sh(['ip', 'netns', 'exec', B, 'ip', 'tuntap', 'add', 'dev', 'w0', 'mode', 'tap']);
  sh(['ip', '-n', B, 'link', 'set', 'w0', 'master', 'br0', 'up']);
  const site = start(B, [
    process.execPath,
    FATA,
    'run',
    '--net:service=w0',
    image,
    '--ipv4=10.0.9.3/24',
    '--http-port=80',
    '--https-port=0',
  ]);
  await waitForLine(site, /event=serving/, 60_000);
  const page = sh(['ip', 'netns', 'exec', A, 'curl', '-s', '--max-time', '20', 'http://10.0.9.3/hello.txt']);
  assert.equal(page, readFileSync(join(ROOT, 'examples/website/htdocs/hello.txt'), 'utf8'));
  const ping = spawnSync('ip', ['netns', 'exec', A, 'ping', '-c', '3', '-i', '0.2', '10.0.9.3'], { encoding: 'utf8' }).stdout;
  const avg = Number(/= [\d.]+\/([\d.]+)\//.exec(ping)?.[1]);
  assert.ok(avg >= 40, `the round trip crosses the relay's 20 ms twice: ${ping}`);
  site.kill('SIGTERM');
  await stopped(relay, out);
});
