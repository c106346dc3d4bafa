/**
 * `fata daemon` end to end, as root, inside a network namespace this test
 * creates (bridge br0 in it): ping-serve created on the bridge answers ping
 * with the MAC it was given, sealed like `fata run`'s engine; two stats
 * subscribers at once; console lines and follow; its engine killed → the
 * restart policy starts it again; a boot loop's backoff grows and destroy
 * ends it at once; destroy removes the tap; bad input refused with the state
 * file unchanged; a console flood stays within the ring's bound; the daemon
 * killed with SIGKILL and started again brings back what was declared and
 * not what was destroyed, and leaves no tap behind. Without root, `fata
 * daemon` says what it needs and exits 1.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIES_WITH_US, netnsSkipReason, stopAll, type TapNamespace, withTapNamespace } from './netns.ts';
import { running } from './procs.ts';
import { runnableCheckout } from './unprivileged.ts';
import { chromiumSkipReason, launchChromiumIn } from './browser.ts';
import type { Page } from 'puppeteer-core';
import { Pki } from './pki.ts';
import { sweepStaleCgroups } from '../src/tender/cgroup.ts';
import { call } from '../src/daemon/client.ts';
import { TaskDriver } from '../src/daemon/driver.ts';
import { buildImage, until } from './images.ts';

after(() => sweepStaleCgroups());

const ROOT = new URL('..', import.meta.url).pathname;
const FATA = join(ROOT, 'bin/fata.mjs');
const build = (dir: string): string => buildImage(dir, 'spt');
const skip = process.arch !== 'x64' ? `the spt allow-list is for x86_64; this is ${process.arch}` : netnsSkipReason(['ping']);

interface Info {
  name: string;
  state: string;
  restarts: number;
  enginePid?: number;
  tenderPid?: number;
  startedAt?: number;
  uptimeMs?: number;
  lastExit?: { code: number | null; reason: string };
  nets: { dev: string; bridge: string; mac: string; tap: string }[];
}

/** What every step shares: the daemon's files, its namespace, the CLI bound to its socket. */
class Ctx {
  readonly dir = mkdtempSync(join(tmpdir(), 'fata-daemon-'));
  readonly stateDir = join(this.dir, 'state');
  readonly sock = join(this.dir, 'fata.sock');
  readonly daemons: ChildProcess[] = [];
  readonly ns: TapNamespace;
  readonly images: {
    pingServe: string;
    abort: string;
    biglog: string;
    netAbort: string;
    echo: string;
    tcpClient: string;
    blockTest: string;
  };
  readonly mac = '02:00:00:00:77:02';

  constructor(ns: TapNamespace, images: Ctx['images']) {
    this.ns = ns;
    this.images = images;
  }

  fata(args: string[]): { status: number | null; out: string; err: string } {
    const env = { ...process.env, FATA_SOCKET: this.sock };
    const r = spawnSync(process.execPath, [FATA, ...args], { cwd: ROOT, encoding: 'utf8', env, timeout: 60_000 });
    return { status: r.status, out: r.stdout, err: r.stderr };
  }

  json<T>(args: string[]): T {
    const r = this.fata([...args, '--json']);
    assert.equal(r.status, 0, `fata ${args.join(' ')}: ${r.err}`);
    return JSON.parse(r.out) as T;
  }

  info(name: string): Info {
    return this.json<Info>(['info', name]);
  }

  consoleText(name: string): string {
    return this.json<{ lines: { text: string }[] }>(['console', name])
      .lines.map((l) => l.text)
      .join('\n');
  }

  ping(ip = '10.77.0.2'): string {
    return this.ns.run(['ping', '-c', '3', '-i', '0.2', '-W', '2', ip]).stdout;
  }

  /** The daemon's taps in the namespace. */
  taps(): string[] {
    return this.ns
      .run(['ip', '-o', 'link', 'show'])
      .stdout.split('\n')
      .map((l) => /^\d+: (fk[^:@]+)/.exec(l)?.[1])
      .filter((t): t is string => !!t);
  }

  /** `fata … --follow` clients, stopped with the test. */
  readonly clients: ChildProcess[] = [];

  /** Starts `fata ARGS` (a follow) and collects its stdout lines. */
  follow(args: string[]): { lines: string[]; child: ChildProcess } {
    const child = spawn(process.execPath, [FATA, ...args], {
      cwd: ROOT,
      env: { ...process.env, FATA_SOCKET: this.sock },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.clients.push(child);
    const lines: string[] = [];
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      const parts = (buf + d.toString()).split('\n');
      buf = parts.pop() ?? '';
      lines.push(...parts);
    });
    return { lines, child };
  }

  /** What the last daemon started said on stderr. */
  log = '';

  async startDaemon(failpoint = '', extra: string[] = []): Promise<ChildProcess> {
    const flags = [
      `--state-dir=${this.stateDir}`,
      '--socket',
      this.sock,
      '--backoff-ms=200',
      '--max-memory=1600',
      '--console-bytes=65536',
      ...extra,
    ];
    // A daemon does not die with whatever started it (it is a daemon); this one dies with the test.
    const d = spawn(
      DIES_WITH_US[0]!,
      [...DIES_WITH_US.slice(1), 'ip', 'netns', 'exec', this.ns.name, process.execPath, FATA, 'daemon', ...flags],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, FATA_DAEMON_FAILPOINT: failpoint },
      },
    );
    this.daemons.push(d);
    this.log = '';
    d.stderr!.on('data', (b: Buffer) => {
      this.log += b.toString();
    });
    await until(`the daemon listens (${this.log})`, () => /listening on/.test(this.log) || (d.exitCode !== null && assert.fail(this.log)));
    return d;
  }
}

const imageOf = (c: Ctx, name: string): string => c.json<{ image: { sha256: string } }>(['info', name]).image.sha256;

/** The code cache entries (src/tender/code-cache.ts) engines wrote for the image with this SHA-256: file → inode and mtime. */
function codeCache(c: Ctx, sha256: string): Map<string, string> {
  const dir = join(c.stateDir, 'images', '.v8-cache', sha256);
  let files: string[] = [];
  try {
    files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(dir, f)).isFile());
  } catch {
    /* no folder: no entries */
  }
  return new Map(files.map((f) => [f, `${statSync(join(dir, f)).ino}:${statSync(join(dir, f)).mtimeMs}`]));
}

/** Created on the bridge, it answers ping with the MAC it was given, and runs sealed as `fata run` seals it. */
async function createAndPing(c: Ctx): Promise<Info> {
  assert.equal(statSync(c.sock).mode & 0o777, 0o660, 'the socket is mode 0660');
  const r = c.fata(['create', 'web', c.images.pingServe, `--net:service=br0@${c.mac}`, '--restart-on-fail', '--', '--ipv4=10.77.0.2/24']);
  assert.equal(r.status, 0, r.err);
  await until('web serves', () => c.consoleText('web').includes('event=serving'));
  assert.match(c.ping(), /3 received/);
  assert.match(c.ns.run(['ip', 'neigh', 'show', '10.77.0.2']).stdout, new RegExp(c.mac));
  const first = c.info('web');
  assert.equal(first.state, 'running');
  assert.equal(first.nets[0]!.mac, c.mac);
  assert.deepEqual(c.taps(), [first.nets[0]!.tap]);
  const status = readFileSync(`/proc/${first.enginePid}/status`, 'utf8');
  assert.match(status, /^Seccomp:\s+2$/m, 'the engine is sealed as fata run seals it');
  assert.match(status, /^NoNewPrivs:\s+1$/m);
  assert.doesNotMatch(status, /^Uid:\s+0\b/m);
  assert.ok(typeof first.startedAt === 'number' && typeof first.uptimeMs === 'number');
  assert.equal(codeCache(c, imageOf(c, 'web')).size, 1, 'the engine left the code cache of its bundle in the state dir');
  return first;
}

/** Two stats subscribers at once; a console follower; the engine killed → restarted by the policy. */
async function statsAndRestart(c: Ctx, first: Info): Promise<Info> {
  // One subscriber through the protocol, one through the command line, at once.
  const seen: { nets: { receivedPackets: number }[] }[] = [];
  const sub = call(c.sock, { op: 'stats', name: 'web', follow: true, intervalMs: 200 }, (e) => seen.push(e as never));
  await sub.result;
  const cli = c.follow(['stats', 'web', '--follow', '--json', '--interval=200']);
  c.ping();
  const last = (): { nets: { receivedPackets: number }[] } | undefined => {
    const l = cli.lines.at(-1);
    return l ? JSON.parse(l) : undefined;
  };
  await until(
    'both subscribers get three updates and see the pings',
    () =>
      seen.length >= 3 &&
      cli.lines.length >= 3 &&
      (seen.at(-1)?.nets[0]?.receivedPackets ?? 0) >= 3 &&
      (last()?.nets[0]?.receivedPackets ?? 0) >= 3,
    10_000,
  );
  sub.close();
  const stopped = once(cli.child, 'exit');
  cli.child.kill('SIGINT');
  assert.deepEqual(await stopped, [0, null], 'stats --follow ends cleanly on ^C');
  const followed = c.follow(['console', 'web', '--follow']).lines;
  await until('the console follower has the history', () => followed.some((l) => /event=serving/.test(l)));
  const cached = codeCache(c, imageOf(c, 'web'));
  process.kill(first.enginePid!, 'SIGKILL');
  const again = await until('web restarted', () => {
    const i = c.info('web');
    return i.restarts === 1 && i.state === 'running' && c.consoleText('web').split('event=serving').length === 3 && i;
  });
  assert.match(again.lastExit!.reason, /FATA_KILLED.*SIGKILL/);
  assert.deepEqual(codeCache(c, imageOf(c, 'web')), cached, 'the restarted engine used the code cache (a rejected one is written again)');
  assert.equal(again.lastExit!.code, 255);
  assert.notEqual(again.enginePid, first.enginePid);
  assert.match(c.ping(), /3 received/);
  await until(
    'the follower saw the restart',
    () => followed.some((l) => /\[fata\] restarting in 200 ms/.test(l)) && followed.filter((l) => /event=serving/.test(l)).length === 2,
  );
  return again;
}

/** Bad input: refused with a code and what to do, exit 1, the state file byte for byte as it was, no tap left. */
function badInput(c: Ctx, taps: string[]): void {
  const before = readFileSync(join(c.stateDir, 'state.json'));
  const bad = join(c.dir, 'bad.fata');
  const bytes = readFileSync(c.images.pingServe);
  bytes[bytes.length - 10]! ^= 0xff;
  writeFileSync(bad, bytes);
  const ps = c.images.pingServe;
  for (const [args, re] of [
    [['create', 'web', ps, '--net:service=br0'], /FATA_EXISTS/],
    [['create', 'w2', ps, '--net:service=nobr'], /FATA_NO_BRIDGE.*ip link add nobr type bridge/],
    [['create', 'w2', ps, '--net:service=br0', '--block:disk=v'], /FATA_UNDECLARED/],
    [['create', 'w2', ps], /FATA_NOT_ATTACHED/],
    [['create', 'w2', bad, '--net:service=br0'], /FATA_BAD_IMAGE/],
    [['create', 'w2', join(c.dir, 'none.fata'), '--net:service=br0'], /FATA_NO_IMAGE/],
    [['create', 'w2', ps, '--net:service=br0', '--mem=1200'], /FATA_QUOTA.*memory 1712 MB/],
    [['create', 'w2', ps, '--net:service=br0', '--', '--ipv4=nonsense'], /FATA_BAD_ARGS/],
    [['destroy', 'nobody-here'], /FATA_NO_UNIKERNEL/],
  ] as [string[], RegExp][]) {
    const b = c.fata(args);
    assert.equal(b.status, 1, `${args.join(' ')}: ${b.out}`);
    assert.match(b.err, re);
    assert.deepEqual(readFileSync(join(c.stateDir, 'state.json')), before, `${args.join(' ')} changed the state`);
  }
  assert.deepEqual(c.taps(), taps, 'no tap left by a refused create');
  // A second daemon on a socket that answers is refused; a client with no daemon says how to start or find one.
  const second = spawnSync(
    'ip',
    ['netns', 'exec', c.ns.name, process.execPath, FATA, 'daemon', `--state-dir=${join(c.dir, 'other')}`, `--socket=${c.sock}`],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(second.status, 1);
  assert.match(second.stderr, /FATA_DAEMON_RUNNING: a daemon already answers on/);
  const same = spawnSync(process.execPath, [FATA, 'daemon', `--state-dir=${c.stateDir}`, `--socket=${join(c.dir, 'other.sock')}`], {
    encoding: 'utf8',
  });
  assert.equal(same.status, 1);
  assert.match(same.stderr, /FATA_DAEMON_RUNNING: daemon \d+ already keeps/);
  assert.equal(c.info('web').state, 'running', 'the refused daemon swept nothing');
  const none = spawnSync(process.execPath, [FATA, 'list', `--socket=${join(c.dir, 'nothing.sock')}`], { encoding: 'utf8' });
  assert.equal(none.status, 1);
  assert.match(
    none.stderr,
    /FATA_NO_DAEMON: cannot reach the daemon at .*nothing\.sock \(no daemon answers there\); start it with 'fata daemon'/,
  );
}

/** The protocol itself, as another program speaks it: hello says the version; another version is refused, its id kept. */
async function protocol(c: Ctx): Promise<void> {
  const hello = (await call(c.sock, { op: 'hello' }).result) as { protocol: number; daemon: string };
  assert.deepEqual([hello.protocol, hello.daemon], [1, 'fata']);
  const raw = createConnection(c.sock);
  raw.write('{"v":2,"id":41,"op":"list"}\nnot json\n');
  let got = '';
  raw.on('data', (d: Buffer) => {
    got += d.toString();
  });
  await until('two answers', () => got.split('\n').length > 2);
  raw.destroy();
  const [a, b] = got.split('\n').map((l) => (l ? JSON.parse(l) : undefined)) as {
    id: number;
    ok: boolean;
    error: { code: string; message: string };
  }[];
  assert.equal(a!.id, 41);
  assert.equal(a!.error.code, 'FATA_PROTOCOL');
  assert.match(a!.error.message, /version 2 is not spoken here; this daemon speaks v1/);
  assert.match(b!.error.message, /one JSON object per line/);
}

/** A boot loop's backoff grows and destroy ends it at once; a second unikernel's destroy removes its tap and tender. */
async function loopAndDestroy(c: Ctx): Promise<void> {
  let r = c.fata(['create', 'loop', c.images.abort, '--restart-on-fail', '--mem=64', '--', '--how=throw']);
  assert.equal(r.status, 0, r.err);
  await until('three restarts', () => c.info('loop').restarts >= 3, 30_000);
  const delays = [...c.consoleText('loop').matchAll(/restarting in (\d+) ms/g)].map((m) => Number(m[1]));
  assert.deepEqual(delays.slice(0, 3), [200, 400, 800]);
  const t0 = Date.now();
  assert.equal(c.fata(['destroy', 'loop']).status, 0);
  assert.ok(Date.now() - t0 < 5000, `destroy took ${Date.now() - t0} ms`);
  assert.match(c.fata(['info', 'loop']).err, /FATA_NO_UNIKERNEL/);
  // Exit 1 is a failure the service chose: not restarted by default, restarted when its code is named.
  assert.equal(c.fata(['create', 'fails', c.images.abort, '--restart-on-fail', '--mem=64', '--', '--how=fail']).status, 0);
  const failed = await until('fails stopped', () => {
    const i = c.info('fails');
    return i.state === 'stopped' && i;
  });
  assert.equal(failed.lastExit?.code, 1);
  assert.equal(failed.restarts, 0);
  assert.equal(c.fata(['destroy', 'fails']).status, 0);
  assert.equal(
    c.fata(['create', 'fails', c.images.abort, '--restart-on-fail=1', '--max-restarts=2', '--mem=64', '--', '--how=fail']).status,
    0,
  );
  await until('fails restarted twice, then failed', () => {
    const i = c.info('fails');
    return i.state === 'failed' && i.restarts === 2;
  });
  const abortSha = imageOf(c, 'fails');
  assert.equal(codeCache(c, abortSha).size, 1);
  assert.equal(c.fata(['destroy', 'fails']).status, 0);
  assert.equal(codeCache(c, abortSha).size, 0, "the code cache goes with the image's last unikernel");
  r = c.fata(['create', 'web2', c.images.pingServe, '--net:service=br0', '--', '--ipv4=10.77.0.3/24']);
  assert.equal(r.status, 0, r.err);
  const tap2 = c.info('web2').nets[0]!.tap;
  await until('web2 serves', () => c.consoleText('web2').includes('event=serving'));
  assert.match(c.ping('10.77.0.3'), /3 received/);
  const pid2 = c.info('web2').tenderPid!;
  assert.equal(JSON.parse(c.fata(['destroy', 'web2', '--json']).out).destroyed, true);
  assert.ok(!c.taps().includes(tap2), 'the tap is gone');
  assert.ok(!running(pid2), 'the tender is gone');
}

/** A console flood (112 MiB) stays within the ring's bound (--console-bytes=65536) and the daemon's memory bounded; what follows it is kept. */
async function flood(c: Ctx): Promise<void> {
  // 7 runs of a 16 MiB line (restart always, at most 6 in a row): 112 MiB through a 64 KiB ring.
  const r = c.fata(['create', 'flood', c.images.biglog, '--mem=128', '--restart=always', '--max-restarts=6', '--', '--kib=16384']);
  assert.equal(r.status, 0, r.err);
  const daemonPid = c.daemons.at(-1)!.pid!;
  let peakKb = 0;
  await until(
    'flood ran 7 times',
    () => {
      peakKb = Math.max(peakKb, Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${daemonPid}/status`, 'utf8'))?.[1]));
      return c.info('flood').state === 'failed';
    },
    120_000,
  );
  assert.equal(c.info('flood').restarts, 6);
  assert.ok(peakKb < 256 * 1024, `the daemon stayed under 256 MiB resident (peak ${peakKb} kB)`);
  const kept = c.json<{ lines: { text: string }[] }>(['console', 'flood']).lines;
  assert.ok(kept.reduce((s, l) => s + l.text.length, 0) <= 65536, 'the ring holds at most its bound');
  assert.ok(kept.some((l) => l.text.includes('event=after-big')));
  const later = new Date(Date.now() + 60_000).toISOString();
  assert.equal(c.json<{ lines: unknown[] }>(['console', 'flood', `--since=${later}`]).lines.length, 0, '--since filters by time');
  assert.ok(c.json<{ lines: unknown[] }>(['console', 'flood', '--since=10m']).lines.length > 0);
  assert.equal(c.fata(['destroy', 'flood']).status, 0);
}

/** Killed with SIGKILL and started again: what was declared comes back (same MAC, same tap), what was destroyed does not; after a reboot too. */
async function daemonRestart(c: Ctx, daemon: ChildProcess, again: Info): Promise<void> {
  const exited = once(daemon, 'exit');
  daemon.kill('SIGKILL');
  await exited;
  await until('the old engine stopped', () => !running(again.enginePid!), 10_000);
  const next = await c.startDaemon();
  assert.deepEqual(
    c.json<Info[]>(['list']).map((u) => u.name),
    ['web'],
  );
  const back = await until('web is back', () => {
    const i = c.info('web');
    return i.state === 'running' && c.consoleText('web').includes('starting it again') && i;
  });
  assert.equal(back.nets[0]!.mac, c.mac, 'the MAC stays across daemon restarts');
  assert.deepEqual(c.taps(), [back.nets[0]!.tap], 'only the declared tap exists');
  await until('web answers again', () => /3 received/.test(c.ping()), 20_000);
  // Stopped with SIGTERM: the engines stop, the declaration stays.
  const stopped = once(next, 'exit');
  next.kill('SIGTERM');
  assert.deepEqual(await stopped, [0, null]);
  assert.ok(!running(back.enginePid!));
  assert.equal(JSON.parse(readFileSync(join(c.stateDir, 'state.json'), 'utf8')).unikernels.length, 1);
  // A host reboot: no daemon, no engine, no tap — only the state dir. The next daemon makes the tap again, same MAC.
  for (const tap of c.taps()) assert.equal(c.ns.run(['ip', 'link', 'del', tap]).status, 0);
  const rebooted = await c.startDaemon();
  const up = await until('web is back after the reboot', () => {
    const i = c.info('web');
    return i.state === 'running' && i;
  });
  assert.deepEqual(c.taps(), [up.nets[0]!.tap], 'its tap is made again');
  assert.equal(up.nets[0]!.mac, c.mac);
  await until('web answers after the reboot', () => /3 received/.test(c.ping()), 20_000);
  const down = once(rebooted, 'exit');
  rebooted.kill('SIGTERM');
  await down;
}

function buildImages(): Ctx['images'] {
  return {
    pingServe: build('examples/ping-serve'),
    abort: build('test/fixtures/abort'),
    biglog: build('test/fixtures/biglog'),
    netAbort: build('test/fixtures/net-abort'),
    echo: build('examples/echo'),
    tcpClient: build('test/fixtures/tcp-client'),
    blockTest: build('examples/block-test'),
  };
}

/** Runs `steps` against a fresh daemon dir in a namespace with bridge br0 (10.77.0.1/24); everything started dies with it. */
async function inNamespace(steps: (c: Ctx) => Promise<void>): Promise<void> {
  const images = buildImages();
  let dir: string | undefined;
  try {
    await withTapNamespace('10.78.0.1/24', async (ns) => {
      for (const cmd of [
        ['ip', 'link', 'add', 'br0', 'type', 'bridge'],
        ['ip', 'link', 'set', 'br0', 'up'],
        ['ip', 'addr', 'add', '10.77.0.1/24', 'dev', 'br0'],
      ])
        assert.equal(ns.run(cmd).status, 0, cmd.join(' '));
      const c = new Ctx(ns, images);
      dir = c.dir;
      try {
        await steps(c);
      } finally {
        await stopAll([...c.clients, ...c.daemons]); // Before the namespace goes: a daemon stopped with SIGTERM stops its engines.
      }
    });
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

test('fata daemon: create, ping, stats, console, restart policy, destroy, bad input, daemon restart', { skip, timeout: 300_000 }, () =>
  inNamespace(async (c) => {
    const daemon = await c.startDaemon();
    const first = await createAndPing(c);
    const again = await statsAndRestart(c, first);
    badInput(c, c.taps());
    await protocol(c);
    await loopAndDestroy(c);
    await flood(c);
    await daemonRestart(c, daemon, again);
  }),
);

/** The daemon kills itself (SIGKILL, a test failpoint) and the client is told; then it is started again with `next`. */
async function crashAt(c: Ctx, daemon: ChildProcess, args: string[], next: string): Promise<ChildProcess> {
  const exited = once(daemon, 'exit');
  const r = c.fata(args);
  assert.equal(r.status, 1, r.out);
  assert.match(r.err, /FATA_NO_DAEMON/);
  assert.equal((await exited)[1], 'SIGKILL');
  return c.startDaemon(next);
}

const names = (c: Ctx): string[] => c.json<Info[]>(['list']).map((u) => u.name);

/** Processes running an image copy of the daemon's state dir (its tenders, and the shell of bin/fata before them). */
function tendersOf(c: Ctx): number[] {
  const images = `${join(c.stateDir, 'images')}/`;
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .filter((p) => {
      try {
        return (
          readFileSync(`/proc/${p}/cmdline`, 'utf8')
            .split('\0')
            .some((a) => a.startsWith(images)) && running(p)
        );
      } catch {
        return false;
      }
    });
}

/** Each crash point of create and destroy: after a restart, the unikernel exists exactly when its state was written. */
async function crashCreateDestroy(c: Ctx, create: string[]): Promise<ChildProcess> {
  let d = await c.startDaemon('create-after-taps');
  d = await crashAt(c, d, create, 'create-after-start');
  // The tap made before the crash is swept; the create never happened.
  assert.deepEqual(names(c), []);
  assert.deepEqual(c.taps(), []);
  d = await crashAt(c, d, create, 'create-after-save');
  // Its tender was started before its state was written: it died with the daemon (or by the next one's sweep), its tap
  // is swept, and it does not come back.
  assert.deepEqual(names(c), []);
  assert.deepEqual(c.taps(), []);
  await until('no tender of the state dir is left', () => tendersOf(c).length === 0, 10_000);
  d = await crashAt(c, d, create, 'destroy-after-save');
  // Written before the crash: it is declared, so it runs.
  assert.deepEqual(names(c), ['a']);
  await until('a serves', () => c.consoleText('a').includes('event=serving'));
  assert.match(c.ping(), /3 received/);
  assert.equal(tendersOf(c).length, 1, "a running unikernel's tender is what tendersOf finds");
  d = await crashAt(c, d, ['destroy', 'a'], 'update-after-save');
  assert.deepEqual(names(c), []);
  assert.deepEqual(c.taps(), [], 'the destroyed one left no tap');
  return d;
}

test(
  'fata daemon killed with SIGKILL during create, destroy and update: no ghost, no lost unikernel, no leaked tap; update rolls back',
  { skip, timeout: 300_000 },
  () =>
    inNamespace(async (c) => {
      const create = ['create', 'a', c.images.pingServe, '--net:service=br0', '--restart-on-fail', '--', '--ipv4=10.77.0.2/24'];
      let d = await crashCreateDestroy(c, create);
      assert.equal(c.fata(create).status, 0);
      const sha = imageOf(c, 'a');
      d = await crashAt(c, d, ['update', 'a', c.images.netAbort], '');
      await until('a runs again', () => c.info('a').state === 'running');
      assert.equal(imageOf(c, 'a'), sha, 'an update cut short by a crash is rolled back');
      // A live update that does not stay up is rolled back; one that does is kept.
      const failed = c.fata(['update', 'a', c.images.netAbort, '--trial=1500']);
      assert.equal(failed.status, 1);
      assert.match(failed.err, /FATA_UPDATE_FAILED: a: the new image did not stay up for 1500 ms.*rolled back to ping-serve/);
      await until('a serves again', () => c.consoleText('a').split('event=serving').length >= 3);
      assert.equal(imageOf(c, 'a'), sha);
      assert.match(c.ping(), /3 received/);
      assert.equal(c.fata(['update', 'a', c.images.pingServe, '--trial=500']).status, 0);
      assert.match(c.fata(['update', 'a', c.images.abort]).err, /FATA_NOT_ATTACHED|FATA_UNDECLARED/);
      assert.deepEqual(
        readdirSync(join(c.stateDir, 'images')).sort(),
        ['.v8-cache', `${imageOf(c, 'a')}.fata`],
        'only the running image is kept',
      );
      assert.deepEqual(readdirSync(join(c.stateDir, 'images', '.v8-cache')), [imageOf(c, 'a')], 'and its code cache only');
      // --start=wait: a scheduler's host keeps what was declared stopped until the driver says.
      const exited = once(d, 'exit');
      d.kill('SIGKILL');
      await exited;
      d = await c.startDaemon('', ['--start=wait']);
      const waiting = c.info('a');
      assert.equal(waiting.state, 'stopped');
      assert.equal(waiting.tenderPid, undefined);
      assert.match(c.consoleText('a'), /waiting \(--start=wait\)/);
      assert.equal(c.fata(['restart', 'a']).status, 0);
      await until('a serves once started', () => c.consoleText('a').includes('started (tender'));
      assert.equal(c.info('a').state, 'running');
    }),
);

test('two unikernels on one bridge reach each other (ping and TCP); a third on another bridge cannot', { skip, timeout: 300_000 }, () =>
  inNamespace(async (c) => {
    for (const cmd of [
      ['ip', 'link', 'add', 'br1', 'type', 'bridge'],
      ['ip', 'link', 'set', 'br1', 'up'],
    ])
      assert.equal(c.ns.run(cmd).status, 0);
    await c.startDaemon();
    const create = (args: string[]): void => {
      const r = c.fata(['create', ...args]);
      assert.equal(r.status, 0, r.err);
    };
    create(['echo', c.images.echo, '--net:service=br0', '--', '--ipv4=10.77.0.10/24']);
    await until('echo serves', () => /event=(serving|listening)/.test(c.consoleText('echo')));
    const client = (name: string, bridge: string, ip: string): void =>
      create([
        name,
        c.images.tcpClient,
        `--net:service=${bridge}`,
        '--',
        `--ipv4=${ip}/24`,
        '--host=10.77.0.10',
        '--port=7',
        '--kib=64',
        '--pings=3',
      ]);
    client('near', 'br0', '10.77.0.11');
    client('far', 'br1', '10.77.0.12');
    // ICMP echo between the two on br0: near's pings are answered by echo's stack.
    await until('near is answered', () => (c.consoleText('near').match(/event=ping-reply from=10\.77\.0\.10/g) ?? []).length === 3, 30_000);
    const done = await until('near is echoed', () => /event=client-done .*/.exec(c.consoleText('near'))?.[0], 30_000);
    assert.match(done, /sent=65536 received=65536/);
    const sha = /sentSha=(\w+) gotSha=(\w+)/.exec(done)!;
    assert.equal(sha[1], sha[2], 'the echo came back whole');
    await until('near exits 0', () => c.info('near').lastExit?.code === 0);
    await new Promise((r) => setTimeout(r, 5000));
    assert.doesNotMatch(c.consoleText('far'), /client-done|ping-reply/, 'nothing crosses from br1 to br0');
    assert.match(c.consoleText('far'), /event=ping-failed to=10\.77\.0\.10 seq=1 code=ETIMEOUT/, 'far pinged and got no answer');
    assert.match(c.consoleText('far'), /event=net-up .*ipv4=10.77.0.12\/24/, 'far is up, on its own bridge');
    assert.deepEqual(c.json<{ nets: { receivedBytes: number }[] }>(['stats', 'echo']).nets.length, 1);
  }),
);

/** Volumes: made, attached as a block device, written by the unikernel, dumped, refused while attached, destroyed. */
async function volumes(c: Ctx): Promise<void> {
  assert.equal(c.fata(['volume', 'create', 'data', '4M']).status, 0);
  assert.match(c.fata(['volume', 'create', 'data', '4M']).err, /FATA_EXISTS/);
  assert.match(c.fata(['volume', 'create', 'odd', '1000']).err, /FATA_BAD_SIZE/);
  const r = c.fata(['create', 'disk', c.images.blockTest, '--block:storage=data', '--mem=128']);
  assert.equal(r.status, 0, r.err);
  await until('block-test ran', () => c.info('disk').state === 'stopped', 30_000);
  assert.match(c.consoleText('disk'), /event=block-test-ok blocks=8192 bytes=4194304/);
  // Counted by the kernel per descriptor, kept after the engine ended: each 512-byte block written once and read once.
  const stats = c.json<{ blocks: { dev: string; volume: string }[] }>(['stats', 'disk']);
  assert.deepEqual(stats.blocks, [
    { dev: 'storage', volume: 'data', reads: 8192, writes: 8192, readBytes: 4194304, writtenBytes: 4194304 },
  ]);
  assert.match(c.fata(['stats', 'disk']).out, /storage\(data\) read 8192x\/4194304B wrote 8192x\/4194304B/);
  assert.deepEqual(c.json<{ name: string; bytes: number; attachedTo?: string }[]>(['volume', 'list']), [
    { name: 'data', bytes: 4 << 20, createdAt: c.json<{ createdAt: number }[]>(['volume', 'list'])[0]!.createdAt, attachedTo: 'disk' },
  ]);
  const inUse = c.fata(['volume', 'destroy', 'data']);
  assert.equal(inUse.status, 1);
  assert.match(inUse.err, /FATA_VOLUME_IN_USE: volume 'data' is attached to 'disk'/);
  assert.match(c.fata(['create', 'disk2', c.images.blockTest, '--block:storage=data']).err, /FATA_VOLUME_IN_USE/);
  const dump = spawnSync(process.execPath, [FATA, 'volume', 'dump', 'data'], {
    env: { ...process.env, FATA_SOCKET: c.sock },
    maxBuffer: 16 << 20,
  });
  assert.equal(dump.status, 0, dump.stderr.toString());
  assert.equal(dump.stdout.length, 4 << 20);
  assert.deepEqual(dump.stdout, readFileSync(join(c.stateDir, 'volumes', 'data.img')), 'the dump is the volume');
  assert.ok(
    dump.stdout.some((b) => b !== 0),
    'block-test wrote to it',
  );
  assert.equal(c.fata(['destroy', 'disk']).status, 0);
  assert.equal(c.fata(['volume', 'destroy', 'data']).status, 0);
  assert.deepEqual(c.json<unknown[]>(['volume', 'list']), []);
  assert.deepEqual(readdirSync(join(c.stateDir, 'volumes')), []);
}

test('volumes: create, attach, written by the unikernel, dump, refused while attached, destroy', { skip, timeout: 300_000 }, () =>
  inNamespace(async (c) => {
    await c.startDaemon();
    await volumes(c);
  }),
);

/** The web console in a real browser: create → running → its console → live statistics → restart → destroy; block counts. */
async function webConsole(c: Ctx, page: Page, url: string): Promise<void> {
  // Generous: a guard against a hang, not a timing claim (a destroy on a loaded 2-core machine took over 20 s).
  const waitFor = async (expression: string, what: string): Promise<void> => {
    await page.waitForFunction(expression, { timeout: 90_000, polling: 100 }).catch((e: Error) => assert.fail(`${what}: ${e.message}`));
  };
  const text = (sel: string): Promise<string | undefined> => page.$eval(sel, (e) => e.textContent ?? undefined).catch(() => undefined);
  const screenshot = async (file: string): Promise<void> => {
    const png = Buffer.from(await page.screenshot({ type: 'png' }));
    assert.ok(png.subarray(1, 4).toString() === 'PNG' && png.length > 10_000, 'a screenshot');
    if (process.env.FATA_UPDATE_SCREENSHOTS === '1') writeFileSync(join(ROOT, 'docs', file), png);
  };
  await page.goto(url);
  await waitFor("document.querySelector('#status').textContent.startsWith('live')", 'the page is live');
  await page.type('input[name=name]', 'site');
  await page.type('input[name=image]', c.images.pingServe);
  await page.type('input[name=net]', 'service=br0');
  await page.type('input[name=mem]', '128');
  await page.type('input[name=args]', '--ipv4=10.77.0.2/24');
  await page.click('#create-button');
  const row = (sel: string): string => `document.querySelector('tr[data-name="site"] ${sel}')`;
  await waitFor(`${row('td.state')}?.textContent === 'running'`, 'site runs');
  await page.click('tr[data-name="site"] button[data-action="console"]');
  await waitFor("document.querySelector('#console').textContent.includes('event=serving')", 'its console shows it serving');
  assert.match(c.ping(), /3 received/);
  await waitFor(`Number(${row('td.packets')}?.textContent.split(' / ')[0]) >= 3`, 'the packets column counts the pings');
  assert.equal(await text('tr[data-name="site"] td.blocks'), '-', 'no block device, no block counts');
  await screenshot('daemon-console.png');
  await page.click('tr[data-name="site"] button[data-action="restart"]');
  await waitFor(`${row('td:nth-child(4)')}?.textContent === '1'`, 'one restart counted');
  await waitFor("document.querySelector('#console').textContent.split('event=serving').length >= 3", 'the console follows the restart');
  await page.click('tr[data-name="site"] button[data-action="destroy"]');
  await waitFor(`${row('button[data-action="destroy"]')}?.textContent === 'Really destroy?'`, 'destroy asks once more');
  assert.deepEqual(names(c), ['site'], 'one click destroys nothing');
  await page.click('tr[data-name="site"] button[data-action="destroy"]');
  await waitFor(`!document.querySelector('tr[data-name="site"]')`, 'the row is gone');
  await waitFor("document.querySelector('#console').textContent.includes('destroyed')", 'the console says so');
  assert.deepEqual(names(c), []);
  assert.deepEqual(c.taps(), []);
  // A block device, attached from the form: the table has the kernel's count of its reads and writes, as `fata stats`.
  assert.equal(c.fata(['volume', 'create', 'data', '4M']).status, 0);
  await page.evaluate("document.querySelector('#create').reset()");
  await page.type('input[name=name]', 'disk');
  await page.type('input[name=image]', c.images.blockTest);
  await page.type('input[name=block]', 'storage=data');
  await page.type('input[name=mem]', '128');
  await page.click('#create-button');
  await waitFor(
    `document.querySelector('tr[data-name="disk"] td.blocks')?.textContent === '8192 / 8192'`,
    'the block column has the 8192 reads and 8192 writes of block-test',
  );
  assert.match(c.consoleText('disk'), /event=block-test-ok blocks=8192/);
  await waitFor(`document.querySelector('tr[data-name="disk"] td.state')?.textContent === 'stopped'`, 'it ended and is not restarted');
  await screenshot('daemon-console-blocks.png');
  assert.equal(c.fata(['destroy', 'disk']).status, 0);
  assert.equal(c.fata(['volume', 'destroy', 'data']).status, 0);
}

test(
  'the web console in headless Chromium: create, see it running, read its console, restart, destroy',
  { skip: skip || chromiumSkipReason(), timeout: 300_000 },
  () =>
    inNamespace(async (c) => {
      await c.startDaemon('', ['--http=127.0.0.1:8090']);
      await until('the web console listens', () => c.log.includes('web console on'));
      const token = readFileSync(join(c.stateDir, 'http-token'), 'utf8').trim();
      const url = `http://127.0.0.1:8090/#token=${token}`;
      assert.ok(c.log.includes(`web console on ${url}`), c.log);
      const curl = (args: string[]): string => c.ns.run(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', ...args]).stdout;
      assert.equal(curl(['http://127.0.0.1:8090/api/overview']), '401', 'no token, no data');
      assert.equal(curl(['-H', 'authorization: Bearer 00', 'http://127.0.0.1:8090/api/overview']), '401');
      assert.equal(
        curl(['-H', `authorization: Bearer ${token}`, '-H', 'Host: rebound.example:8090', 'http://127.0.0.1:8090/api/overview']),
        '421',
      );
      assert.equal(curl(['-H', `authorization: Bearer ${token}`, 'http://127.0.0.1:8090/api/overview']), '200');
      const browser = await launchChromiumIn(c.ns.name);
      try {
        const [page] = await browser.pages();
        await webConsole(c, page ?? (await browser.newPage()), url);
      } finally {
        await browser.close();
      }
    }),
);

/** Owners: what a user mapped to `alice` (nobody, 65534) may do, through a copy of the checkout it can run. */
function owners(c: Ctx, asUser: (uid: number, args: string[]) => { status: number | null; out: string; err: string }): void {
  const alice = (args: string[]): { status: number | null; out: string; err: string } => asUser(65534, args);
  const ps = c.images.pingServe;
  let r = alice(['create', 'a1', ps, '--net:service=br0', '--mem=128', '--', '--ipv4=10.77.0.2/24']);
  assert.equal(r.status, 0, r.err);
  r = alice(['create', 'a2', ps, '--net:service=br1', '--mem=64', '--', '--ipv4=10.77.0.4/24']);
  assert.match(r.err, /FATA_QUOTA: owner 'alice': bridge 'br1' is not allowed \(allowed: br0\)/);
  r = alice(['create', 'a2', ps, '--net:service=br0', '--mem=64', '--', '--ipv4=10.77.0.4/24']);
  assert.match(r.err, /FATA_QUOTA: owner 'alice': over quota: unikernels 2 > 1 allowed/);
  // Root is the administrator: its own unikernel on br1, beyond alice's limits.
  r = c.fata(['create', 'r1', ps, '--net:service=br1', '--mem=128', '--', '--ipv4=10.77.0.3/24']);
  assert.equal(r.status, 0, r.err);
  const aliceSees = JSON.parse(alice(['list', '--json']).out) as { name: string; owner: string }[];
  assert.deepEqual(
    aliceSees.map((u) => [u.name, u.owner]),
    [['a1', 'alice']],
  );
  assert.match(alice(['info', 'r1']).err, /FATA_NO_UNIKERNEL/);
  assert.match(alice(['destroy', 'r1']).err, /FATA_NO_UNIKERNEL/);
  assert.deepEqual(
    c.json<{ name: string; owner: string }[]>(['list']).map((u) => [u.name, u.owner]),
    [
      ['a1', 'alice'],
      ['r1', 'root'],
    ],
  );
  assert.match(
    alice(['volume', 'create', 'big', '16M']).err,
    /FATA_QUOTA: owner 'alice': over quota: volume storage 16777216 bytes > 8388608/,
  );
  assert.equal(alice(['volume', 'create', 'v', '4M']).status, 0);
  assert.equal(c.fata(['volume', 'create', 'rv', '4M']).status, 0);
  assert.deepEqual(
    (JSON.parse(alice(['volume', 'list', '--json']).out) as { name: string }[]).map((v) => v.name),
    ['v'],
  );
  assert.match(alice(['volume', 'destroy', 'rv']).err, /FATA_NO_VOLUME/);
  // A user the policy does not map is refused whatever it asks.
  r = asUser(65533, ['list']);
  assert.equal(r.status, 1);
  assert.match(r.err, /FATA_NO_OWNER: uid 65533 is no owner here/);
  assert.equal(alice(['destroy', 'a1']).status, 0);
  assert.deepEqual(
    c.json<{ name: string }[]>(['list']).map((u) => u.name),
    ['r1'],
  );
}

test(
  'owners: local users map to owners with their own limits and see only their own; root sees all; others are refused',
  { skip, timeout: 300_000 },
  () =>
    inNamespace(async (c) => {
      for (const cmd of [
        ['ip', 'link', 'add', 'br1', 'type', 'bridge'],
        ['ip', 'link', 'set', 'br1', 'up'],
      ])
        assert.equal(c.ns.run(cmd).status, 0);
      const policy = join(c.dir, 'policy.json');
      writeFileSync(
        policy,
        JSON.stringify({
          owners: { alice: { users: [65534], maxUnikernels: 1, maxMemoryMb: 256, bridges: ['br0'], maxVolumeBytes: 8 << 20 } },
        }),
      );
      chmodSync(c.dir, 0o755); // The socket is in it: its group (nogroup here) must reach it.
      await c.startDaemon('', [`--policy=${policy}`, '--socket-group=nogroup']);
      const copy = runnableCheckout(65534);
      try {
        owners(c, (uid, args) => {
          const r = spawnSync(copy.fata, args, {
            uid,
            gid: 65534,
            encoding: 'utf8',
            env: { ...process.env, FATA_SOCKET: c.sock },
            cwd: copy.root,
          });
          return { status: r.status, out: r.stdout, err: r.stderr };
        });
      } finally {
        copy.remove();
      }
    }),
);

test(
  '--trust: only signed images are created, every start checks again, and a revoked signer stops a restart',
  { skip, timeout: 300_000 },
  () =>
    inNamespace(async (c) => {
      const pki = new Pki(join(c.dir, 'pki'));
      const root = pki.root('Daemon Test Root');
      const inter = pki.issue(root, 'Daemon Test Intermediate', 'inter', { to: 3000 });
      const signer = pki.issue(inter, 'Daemon Signer', 'signer');
      const crl = pki.crl(inter);
      const signed = join(c.dir, 'signed.fata'),
        unsigned = join(c.dir, 'unsigned.fata');
      copyFileSync(c.images.pingServe, signed);
      copyFileSync(c.images.pingServe, unsigned);
      pki.opensslSign(signed, signer, [inter.cert]);
      await c.startDaemon('', [`--trust=${root.cert}`, `--crl=${crl}`]);
      const before = readFileSync(join(c.stateDir, 'state.json'));
      const refused = c.fata(['create', 'u', unsigned, '--net:service=br0']);
      assert.equal(refused.status, 1);
      assert.match(refused.err, /FATA_UNSIGNED/);
      assert.deepEqual(readFileSync(join(c.stateDir, 'state.json')), before);
      const r = c.fata(['create', 's', signed, '--net:service=br0', '--', '--ipv4=10.77.0.2/24']);
      assert.equal(r.status, 0, r.err);
      await until('s serves', () => c.consoleText('s').includes('event=serving'));
      assert.match(c.consoleText('s'), /signed by .*Daemon Signer/, 'the tender checked it at start');
      assert.match(c.ping(), /3 received/);
      pki.revoke(inter, signer);
      pki.crl(inter); // The same file, now listing the signer.
      assert.equal(c.fata(['restart', 's']).status, 0);
      const stopped = await until('the restart is refused', () => {
        const i = c.info('s');
        return i.state === 'stopped' && i;
      });
      assert.match(stopped.lastExit!.reason + c.consoleText('s'), /FATA_SIGNER_REVOKED/);
    }),
);

/** The prototype task driver (src/daemon/driver.ts, docs/scale-out.md): a scheduler's calls, each safe to retry. */
async function driver(c: Ctx): Promise<void> {
  const d = new TaskDriver(c.sock);
  const web = {
    name: 'nomad-1-web',
    image: c.images.pingServe,
    nets: [{ dev: 'service', bridge: 'br0' }],
    memMb: 128,
    bootArgs: ['--ipv4=10.77.0.2/24'],
  };
  const first = await d.start(web);
  assert.deepEqual([first.existed, first.state], [false, 'running']);
  const again = await d.start(web);
  assert.deepEqual([again.existed, again.sha256], [true, first.sha256], 'a retried start finds what the first made');
  await assert.rejects(d.start({ ...web, image: c.images.echo }), {
    code: 'FATA_TASK_CONFLICT',
    message: /^'nomad-1-web' exists with image/,
  });
  await until('web serves', () => c.consoleText('nomad-1-web').includes('event=serving'));
  assert.match(c.ping(), /3 received/);
  assert.equal(c.info('nomad-1-web').restarts, 0);
  // The scheduler restarts, not the daemon: a task that fails stays stopped, and wait reports how it ended.
  await d.start({ name: 'nomad-2-fail', image: c.images.abort, memMb: 64, bootArgs: ['--how=fail'] });
  const ended = await d.wait('nomad-2-fail');
  assert.deepEqual([ended?.state, ended?.exit?.code], ['stopped', 1]);
  assert.equal(c.info('nomad-2-fail').restarts, 0);
  // One still running when waited on (16 MiB of console first): its end comes through the console's exit note.
  await d.start({ name: 'nomad-3-log', image: c.images.biglog, memMb: 128, bootArgs: ['--kib=16384'] });
  const logged = await d.wait('nomad-3-log');
  assert.deepEqual([logged?.state, logged?.exit?.code], ['stopped', 0]);
  assert.match(c.consoleText('nomad-3-log'), /event=after-big/);
  assert.deepEqual(await d.stop('nomad-3-log'), { existed: true });
  // A wait on a running task ends when the task is stopped; stopping twice is fine.
  const waiting = d.wait('nomad-1-web');
  assert.deepEqual(await d.stop('nomad-1-web'), { existed: true });
  assert.equal(await waiting, undefined, 'destroyed while waited on');
  assert.deepEqual(await d.stop('nomad-1-web'), { existed: false });
  assert.equal(await d.inspect('nomad-1-web'), undefined);
  assert.deepEqual(await d.stop('nomad-2-fail'), { existed: true });
  assert.deepEqual(names(c), []);
  assert.deepEqual(c.taps(), []);
}

test(
  'a task driver (prototype): start idempotent by name and image, a conflict refused, wait, stop twice',
  { skip, timeout: 300_000 },
  () =>
    inNamespace(async (c) => {
      await c.startDaemon();
      await driver(c);
    }),
);

test('fata daemon without root says what it needs and exits 1', {
  skip: process.getuid?.() !== 0 && 'run as root to try it as nobody',
}, () => {
  const copy = runnableCheckout(65534);
  try {
    const r = spawnSync(copy.fata, ['daemon', '--socket', join(tmpdir(), 'never.sock')], { uid: 65534, gid: 65534, encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /FATA_NEEDS_ROOT: fata daemon runs as root/);
  } finally {
    copy.remove();
  }
});
