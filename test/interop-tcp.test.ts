/**
 * Fata's TCP against the Linux kernel's, inside a namespace this test makes:
 * examples/echo sealed on the spt target (on the node target where spt
 * cannot run), driven by the kernel's nc. Discard and chargen move 100 MB
 * and echo 10 MB byte-exact on a clean link, and through Fata's fault
 * injector around the tap (1% loss, 20 ms delay, reordering; this kernel has
 * no netem) the same with FATA_FULL=1, smaller amounts without. A closed port refuses at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { chargenBlock } from '../examples/echo/main.ts';
import { parseMac } from '../src/devices/index.ts';
import { emitEthernet, emitIpv4, emitTcp, ETHERTYPE_IPV4, PROTO_TCP, SYN } from '../src/wire/index.ts';
import { netnsSkipReason, waitForLine, withTapNamespace, type TapNamespace } from './netns.ts';

const FATA = new URL('../bin/fata.mjs', import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;
const SENDER = new URL('./fixtures/send-frames.py', import.meta.url).pathname;
const FATA_MAC = '02:00:00:00:00:02';
const skip = netnsSkipReason(['nc', 'python3']);
const target = process.arch === 'x64' ? 'spt' : 'node';
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The first `n` bytes of the RFC 864 stream examples/echo sends. */
function chargenPrefixSha(n: number): string {
  const block = chargenBlock(95);
  const h = createHash('sha256');
  for (let left = n; left > 0; left -= block.length) h.update(block.subarray(0, Math.min(left, block.length)));
  return h.digest('hex');
}

async function withEcho(
  impair: string | undefined,
  fn: (ns: TapNamespace, dir: string, log: () => string) => Promise<void>,
): Promise<void> {
  const built = spawnSync(
    process.execPath,
    [FATA, 'build', '-t', target, ...(target === 'node' ? ['--net=direct'] : []), 'examples/echo'],
    { cwd: ROOT, encoding: 'utf8' },
  );
  assert.equal(built.status, 0, built.stderr);
  const dir = mkdtempSync(join(tmpdir(), 'fata-tcp-'));
  try {
    await withTapNamespace('10.0.0.1/24', async (ns) => {
      const child = ns.start([
        process.execPath,
        FATA,
        'run',
        `--net:service=${ns.tap}`,
        `--net-mac:service=${FATA_MAC}`,
        ...(impair ? [`--net-impair:service=${impair}`] : []),
        join(ROOT, 'examples/echo/dist/echo.fata'),
        '--ipv4=10.0.0.2/24',
      ]);
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
      });
      await waitForLine(child, /event=serving/);
      await fn(ns, dir, () => out);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function transfers(
  ns: TapNamespace,
  dir: string,
  log: () => string,
  mb: { discard: number; chargen: number; echo: number },
): Promise<void> {
  const input = randomBytes(mb.discard * 1_000_000);
  const file = join(dir, 'in.bin');
  writeFileSync(file, input);
  const d = ns.run(['sh', '-c', `nc -N 10.0.0.2 9 < ${file}`], { timeoutMs: 900_000 });
  assert.equal(d.status, 0, d.stderr);
  const deadline = Date.now() + 10_000;
  while (!log().includes('event=discarded') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.match(log(), new RegExp(`event=discarded remote=10\\.0\\.0\\.1:\\d+ bytes=${input.length} sha256=${sha(input)}`));

  const n = mb.chargen * 1_000_000;
  const c = ns.run(['sh', '-c', `nc 10.0.0.2 19 | head -c ${n} | sha256sum`], { timeoutMs: 900_000 });
  assert.equal(c.stdout.slice(0, 64), chargenPrefixSha(n), 'chargen stream byte-exact');

  const echoIn = input.subarray(0, mb.echo * 1_000_000);
  writeFileSync(file, echoIn);
  const e = ns.run(['sh', '-c', `nc -N 10.0.0.2 7 < ${file}`], { timeoutMs: 900_000 });
  assert.equal(e.out.length, echoIn.length, 'echo length');
  assert.equal(sha(e.out), sha(echoIn), 'echo byte-exact');
}

test(`kernel ↔ Fata TCP on a clean tap (${target}): discard and chargen 100 MB, echo 10 MB, byte-exact`, { skip }, async () => {
  await withEcho(undefined, async (ns, dir, log) => {
    await transfers(ns, dir, log, { discard: 100, chargen: 100, echo: 10 });
    // A closed port answers RST: the kernel reports "refused" at once, not a timeout.
    const r = ns.run([
      'python3',
      '-c',
      'import socket\ntry:\n socket.create_connection(("10.0.0.2", 1234), timeout=5)\nexcept ConnectionRefusedError:\n print("refused")',
    ]);
    assert.equal(r.stdout.trim(), 'refused', r.stderr);
  });
});

// The full sizes take minutes through a lossy 40 ms path, so the test command moves a bounded amount;
// `npm run test:full` (FATA_FULL=1) moves the 100/100/10 MB.
const IMPAIRED = process.env.FATA_FULL === '1' ? { discard: 100, chargen: 100, echo: 10 } : { discard: 4, chargen: 2, echo: 1 };

test(`kernel ↔ Fata TCP through Fata's fault injector (1% loss, 20 ms delay, 5% reordering): discard ${IMPAIRED.discard} MB, chargen ${IMPAIRED.chargen} MB, echo ${IMPAIRED.echo} MB, byte-exact`, {
  skip,
}, async () => {
  await withEcho('loss=0.01,delay=20,reorder=0.05,seed=3', async (ns, dir, log) => {
    await transfers(ns, dir, log, IMPAIRED);
  });
});

test('a bounded SYN flood from the kernel side (2000 spoofed SYNs) leaves echo answering', { skip }, async () => {
  await withEcho(undefined, async (ns) => {
    const hostMac = parseMac(ns.run(['cat', `/sys/class/net/${ns.tap}/address`]).stdout.trim())!;
    const fata = parseMac(FATA_MAC)!;
    const lines: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const f = new Uint8Array(14 + 20 + 24);
      emitEthernet({ dst: fata, src: hostMac, ethertype: ETHERTYPE_IPV4 }, f);
      const src = ((10 << 24) | (0 << 16) | (0 << 8) | (100 + (i % 150))) >>> 0; // 10.0.0.100-249: silent, nobody answers ARP
      emitTcp({ srcPort: 20000 + i, dstPort: 7, seq: i * 104729, ack: 0, flags: SYN, window: 1000, mss: 1460 }, src, 0x0a000002, f, 34, 0);
      emitIpv4({ src, dst: 0x0a000002, protocol: PROTO_TCP, ttl: 64, payloadLen: 24 }, f, 14);
      lines.push(Buffer.from(f).toString('hex'));
    }
    const sent = ns.run(['python3', SENDER, ns.tap], { input: Buffer.from(lines.join('\n') + '\n') });
    assert.match(sent.stdout, /sent 2000/, sent.stderr);
    const text = Buffer.from('still answering after the flood\n');
    const r = ns.run(['nc', '-N', '-w', '5', '10.0.0.2', '7'], { input: text, timeoutMs: 30_000 });
    assert.ok(r.out.equals(text), `echo after the flood: ${JSON.stringify(r.stdout)}`);
  });
});

test("a connection opened from the Fata side: the kernel's echo server returns 4 MiB byte-exact", {
  skip: skip || netnsSkipReason(['socat']),
}, async () => {
  const built = spawnSync(
    process.execPath,
    [FATA, 'build', '-t', target, ...(target === 'node' ? ['--net=direct'] : []), 'test/fixtures/tcp-client'],
    { cwd: ROOT, encoding: 'utf8' },
  );
  assert.equal(built.status, 0, built.stderr);
  await withTapNamespace('10.0.0.1/24', async (ns) => {
    ns.start(['socat', 'TCP-LISTEN:7000,reuseaddr,bind=10.0.0.1', 'EXEC:cat']);
    await ns.listening(7000);
    const child = ns.start([
      process.execPath,
      FATA,
      'run',
      `--net:service=${ns.tap}`,
      join(ROOT, 'test/fixtures/tcp-client/dist/tcp-client.fata'),
      '--ipv4=10.0.0.2/24',
      '--host=10.0.0.1',
      '--port=7000',
      '--kib=4096',
    ]);
    const line = await waitForLine(child, /event=client-done/, 60_000);
    const m = /sent=(\d+) received=(\d+) sentSha=(\w+) gotSha=(\w+)/.exec(line);
    assert.ok(m, line);
    assert.equal(m[1], String(4096 * 1024));
    assert.equal(m[2], m[1]);
    assert.equal(m[4], m[3], 'what came back is what went out');
  });
});

test("node:http over the TCP Duplex adapter, sealed, serves the kernel's curl", { skip: skip || netnsSkipReason(['curl']) }, async () => {
  const built = spawnSync(
    process.execPath,
    [FATA, 'build', '-t', target, ...(target === 'node' ? ['--net=direct'] : []), 'test/fixtures/http-hello'],
    { cwd: ROOT, encoding: 'utf8' },
  );
  assert.equal(built.status, 0, built.stderr);
  await withTapNamespace('10.0.0.1/24', async (ns) => {
    const child = ns.start([
      process.execPath,
      FATA,
      'run',
      `--net:service=${ns.tap}`,
      join(ROOT, 'test/fixtures/http-hello/dist/http-hello.fata'),
      '--ipv4=10.0.0.2/24',
    ]);
    await waitForLine(child, /event=serving/);
    const r = ns.run(['curl', '-sS', '--max-time', '20', 'http://10.0.0.2/']);
    assert.equal(r.stdout, 'hello from node:http over Fata TCP\n', r.stderr);
    const big = ns.run(['sh', '-c', 'curl -sS --max-time 30 http://10.0.0.2/big | sha256sum'], { timeoutMs: 40_000 });
    const want = createHash('sha256')
      .update(new Uint8Array(2 * 1024 * 1024).map((_, i) => (i * 13) & 0xff))
      .digest('hex');
    assert.equal(big.stdout.slice(0, 64), want, '2 MiB body byte-exact');
    const keepAlive = ns.run(['curl', '-sS', '--max-time', '20', 'http://10.0.0.2/a', 'http://10.0.0.2/b']);
    assert.equal(keepAlive.stdout, 'hello from node:http over Fata TCP\n'.repeat(2), 'two requests on one kept-alive connection');
  });
});
