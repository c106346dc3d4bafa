/**
 * The spt target: the sealed engine. A service that tries to open a file,
 * read /proc/self, connect, listen and spawn is denied each time (and the
 * same service unsealed succeeds each time, so the test can fail);
 * block-test passes on a 4 MiB file; ping-serve answers the kernel's ping
 * on a tap inside a namespace this test creates.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsSkipReason, waitForLine, withTapNamespace } from './netns.ts';
import { sweepStaleCgroups } from '../src/tender/cgroup.ts';
import { descendants, running } from './procs.ts';

// Supervisors killed with SIGKILL here could not remove their memory cgroups: nothing is left behind.
after(() => sweepStaleCgroups());

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
    assert.deepEqual(
      open,
      { open: 'allowed', proc: 'allowed', spawn: 'allowed', connect: 'allowed', listen: 'allowed' },
      'the unsealed control must succeed, or the sealed run proves nothing',
    );
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

test("ping-serve under spt answers the kernel's ping on a tap, and stops on SIGTERM", { skip: nsSkip }, async () => {
  fata(['build', '-t', 'spt', 'examples/ping-serve']);
  await withTapNamespace('10.0.0.1/24', async (ns) => {
    const child = ns.start([
      process.execPath,
      FATA,
      'run',
      `--net:service=${ns.tap}`,
      '--net-mac:service=02:00:00:00:00:02',
      join(ROOT, 'examples/ping-serve/dist/ping-serve.fata'),
      '--ipv4=10.0.0.2/24',
    ]);
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

// The native tender (src/tender/spt-tender.c) behind bin/fata: one engine start, the same seal.
const NATIVE_BIN = new URL('../bin/fata', import.meta.url).pathname;
const TENDER = join(ROOT, 'node_modules/.cache/fata/spt-tender');
function nativeSkip(): string | false {
  if (sptSkip) return sptSkip;
  const r = fata(['build', '-t', 'spt', 'test/fixtures/escape']); // Also builds the tender and the bootstrap bundle.
  if (r.status !== 0) return `build failed: ${r.err}`;
  if (!existsSync(TENDER)) return `the native tender was not built (${/note: (.*)/.exec(r.out)?.[1] ?? 'no reason given'})`;
  return false;
}

test('native tender: every way out is denied', { skip: nativeSkip() }, async () => {
  const srv = createServer((s) => s.end());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  const child = spawn(NATIVE_BIN, ['run', 'test/fixtures/escape/dist/escape.fata', `--port=${port}`], { cwd: ROOT });
  try {
    const line = await waitForLine(child, /event=attempts/, 60_000);
    const got: Record<string, string> = {};
    for (const m of line.matchAll(/ (open|proc|spawn|connect|listen)=(\S+)/g)) got[m[1]!] = m[2]!;
    assert.deepEqual(Object.keys(got).sort(), ['connect', 'listen', 'open', 'proc', 'spawn']);
    for (const [what, result] of Object.entries(got)) assert.match(result, /^denied:/, `${what} was ${result}`);
  } finally {
    child.kill('SIGKILL');
    srv.close();
  }
});

test("native tender: device errors are the CLI's; --help and folders go to the CLI", { skip: nativeSkip() }, () => {
  const run = (args: string[]): { status: number | null; out: string } => {
    const r = spawnSync(NATIVE_BIN, ['run', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, out: r.stdout + r.stderr };
  };
  const undeclared = run(['--block:disk=/dev/null', 'test/fixtures/escape/dist/escape.fata']);
  assert.equal(undeclared.status, 1, undeclared.out);
  assert.match(undeclared.out, /--block:disk attaches a device the image does not declare/);
  const help = run(['test/fixtures/escape/dist/escape.fata', '--help']);
  assert.equal(help.status, 0, help.out);
  assert.match(help.out, /--port/);
  const badFlag = run(['--frobnicate', 'test/fixtures/escape/dist/escape.fata']);
  assert.equal(badFlag.status, 1);
  assert.match(badFlag.out, /usage: fata run/);
});

test("native tender: ping-serve on a tap answers the kernel's ping from one sealed engine with no host environment", {
  skip: nsSkip || nativeSkip(),
}, async () => {
  fata(['build', '-t', 'spt', 'examples/ping-serve']);
  await withTapNamespace('10.0.0.1/24', async (ns) => {
    const child = ns.start([
      NATIVE_BIN,
      'run',
      `--net:service=${ns.tap}`,
      join(ROOT, 'examples/ping-serve/dist/ping-serve.fata'),
      '--ipv4=10.0.0.2/24',
    ]);
    await waitForLine(child, /event=serving/);
    // ns.start runs `ip netns exec`, which execs bin/fata, which execs the tender: it stays as the supervisor
    // (console relay, signals, exit reason), and its one child is the sealed engine.
    assert.match(readFileSync(`/proc/${child.pid}/cmdline`, 'utf8'), /^[^\0]*spt-tender\0/, 'the process started is now the supervisor');
    const kids = spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n')
      .filter(Boolean);
    assert.equal(kids.length, 1, 'one engine, no second one');
    const engine = kids[0]!;
    assert.match(readFileSync(`/proc/${engine}/cmdline`, 'utf8'), /bootstrap\.cjs/);
    const status = readFileSync(`/proc/${engine}/status`, 'utf8');
    assert.match(status, /Seccomp:\s+2/);
    assert.match(status, /^NSpid:\s+\d+\s+1$/m, 'pid 1 of a PID namespace of its own');
    const env = readFileSync(`/proc/${engine}/environ`, 'utf8').split('\0').filter(Boolean).sort();
    assert.deepEqual(env, ['TZ=UTC', 'UV_USE_IO_URING=0'], 'nothing of the host environment');
    assert.match(readFileSync(`/proc/${engine}/fdinfo/3`, 'utf8'), /iff:\s+tap0/, 'fd 3 is the tap');
    assert.equal(readlinkSync(`/proc/${engine}/fd/0`), '/dev/null', 'no input from the caller');
    const r = ns.run(['ping', '-c', '10', '-i', '0.05', '-W', '2', '-s', '1400', '10.0.0.2']);
    assert.match(r.stdout, /10 packets transmitted, 10 received, 0% packet loss/, r.stdout + r.stderr);
    const exited = waitForLine(child, /event=exit code=0/);
    child.kill('SIGTERM');
    await exited;
  });
});

test('native tender: when the supervisor is killed, the sealed engine dies with it', { skip: nativeSkip() }, async () => {
  const child = spawn(NATIVE_BIN, ['run', 'test/fixtures/escape/dist/escape.fata', '--port=1', '--linger=60000'], { cwd: ROOT });
  try {
    await waitForLine(child, /event=attempts/, 60_000);
    const engine = Number(spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).stdout.trim());
    assert.ok(engine > 0, 'the engine runs below the supervisor');
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;
    for (let i = 0; i < 100 && running(engine); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(!running(engine), `engine ${engine} outlived its supervisor`);
  } finally {
    child.kill('SIGKILL');
  }
});

/** The children of every thread of `pid` whose command line names the bootstrap: its engine, once exec'd. */
function engineOf(pid: number): number | undefined {
  return descendants(pid).find((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('bootstrap.cjs');
    } catch {
      return false;
    }
  });
}

test('js tender: killed before its engine has armed the parent-death signal, the engine ends itself rather than run on orphaned', {
  skip: sptSkip,
}, async () => {
  // The JavaScript tender cannot arm the engine's PR_SET_PDEATHSIG before exec (the native one does): the
  // bootstrap arms it as its first act, and a tender that dies before then leaves the signal to nobody. The
  // engine is caught stopped between exec and that arming (koffi, which the arming calls through, not yet
  // loaded), its tender killed, and it is let go: it must see the tender is gone and end.
  const built = fata(['build', '-t', 'spt', 'test/fixtures/escape']);
  assert.equal(built.status, 0, built.err);
  let engine: number | undefined;
  let caught = false;
  try {
    for (let attempt = 0; attempt < 5 && !caught; attempt++) {
      const tender = spawn(process.execPath, [FATA, 'run', 'test/fixtures/escape/dist/escape.fata', '--port=1', '--linger=120000'], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise((r) => tender.on('exit', r));
      try {
        engine = undefined;
        const deadline = Date.now() + 120_000; // The CLI and the bootstrap may be bundled first.
        while (engine === undefined && tender.exitCode === null && Date.now() < deadline) {
          engine = engineOf(tender.pid!);
          if (engine === undefined) await new Promise((r) => setImmediate(r));
        }
        assert.ok(engine !== undefined, 'the tender started no engine');
        process.kill(engine, 'SIGSTOP');
        caught = !readFileSync(`/proc/${engine}/maps`, 'utf8').includes('koffi');
        if (!caught) {
          process.kill(engine, 'SIGKILL'); // Too late to catch it before the arming: try again.
          continue;
        }
      } finally {
        tender.kill('SIGKILL');
        await exited;
      }
      process.kill(engine, 'SIGCONT');
      for (let i = 0; i < 400 && running(engine); i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(
        !running(engine),
        `engine ${engine} outlived its tender by 20 s (parent ${/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${engine}/status`, 'utf8'))?.[1]})`,
      );
    }
    assert.ok(caught, 'in 5 tries the engine was never caught before it armed the signal');
  } finally {
    if (engine !== undefined && running(engine)) process.kill(engine, 'SIGKILL');
  }
});

for (const tender of ['native', 'js'] as const) {
  test(`${tender} tender: a unikernel dies with whatever started it, even a parent that does not pass SIGTERM on (npx)`, {
    skip: tender === 'native' ? nativeSkip() : sptSkip,
  }, async () => {
    // An intermediary that, like npx, starts `fata run` and ignores what becomes of it.
    const env = tender === 'js' ? { ...process.env, FATA_SPT_SPAWN: '1' } : { ...process.env };
    const npx = spawn(
      process.execPath,
      [
        '-e',
        `require('child_process').spawn(${JSON.stringify(NATIVE_BIN)}, ['run', 'test/fixtures/escape/dist/escape.fata', '--port=1', '--linger=60000'], { stdio: 'inherit' }); setInterval(() => {}, 1000);`,
      ],
      { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      await waitForLine(npx, /event=attempts/, 60_000);
      const below = descendants(npx.pid!);
      assert.ok(below.length >= 2, 'a tender and an engine run below the intermediary');
      npx.kill('SIGTERM');
      for (let i = 0; i < 200 && below.some(running); i++) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(below.filter(running), [], 'the tender and the engine outlived what started them');
    } finally {
      npx.kill('SIGKILL');
    }
  });
}
