/**
 * `fata policy check|apply` against a real daemon (with --trust) inside a
 * network namespace this test creates: a valid file is checked, planned
 * (--dry-run changes nothing), applied — a Fata network made, a volume made,
 * three unikernels created and answering ping, what the file does not
 * declare destroyed — and applied again with nothing changed (the state
 * file byte for byte, the same engines). `fata info` reports the signer's
 * days left. Each kind of invalid file is refused with its line named and
 * nothing applied. A change in memory recreates one unikernel (its MAC
 * kept), a new image updates another. A `kill -9` of apply after its first
 * step, and of the daemon in the middle of a create that apply asked for,
 * leave a state that the next apply converges, and the one after changes
 * nothing.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsSkipReason, stopAll, type TapNamespace, withTapNamespace } from './netns.ts';
import { Pki } from './pki.ts';
import { sweepStaleCgroups } from '../src/tender/cgroup.ts';
import { buildImage, until } from './images.ts';

after(() => sweepStaleCgroups());

const ROOT = new URL('..', import.meta.url).pathname;
const FATA = join(ROOT, 'bin/fata.mjs');
const build = (dir: string): string => buildImage(dir, 'spt');
const skip = process.arch !== 'x64' ? `the spt allow-list is for x86_64; this is ${process.arch}` : netnsSkipReason(['ping', 'nft']);

interface Info {
  name: string;
  state: string;
  enginePid?: number;
  memMb: number;
  nets: { dev: string; bridge: string; mac: string; tap: string }[];
  image: { sha256: string; signer?: { subject: string; daysLeft: number } };
}

class Ctx {
  readonly dir = mkdtempSync(join(tmpdir(), 'fata-policy-'));
  readonly stateDir = join(this.dir, 'state');
  readonly netState = join(this.dir, 'net-state');
  readonly sock = join(this.dir, 'fata.sock');
  readonly policy = join(this.dir, 'host.json');
  readonly daemons: ChildProcess[] = [];
  readonly ns: TapNamespace;
  daemonFlags: string[] = [];

  constructor(ns: TapNamespace) {
    this.ns = ns;
  }

  /** `fata ARGS` inside the namespace (policy apply makes a bridge there and reads the bridges there). */
  fata(args: string[], env: Record<string, string> = {}): { status: number | null; signal: string | null; out: string; err: string } {
    const r = spawnSync('ip', ['netns', 'exec', this.ns.name, process.execPath, FATA, ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, FATA_SOCKET: this.sock, FATA_STATE_DIR: this.netState, ...env },
      timeout: 120_000,
    });
    return { status: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
  }

  must(args: string[]): string {
    const r = this.fata(args);
    assert.equal(r.status, 0, `fata ${args.join(' ')}: ${r.err}${r.out}`);
    return r.out;
  }

  json<T>(args: string[]): T {
    return JSON.parse(this.must([...args, '--json'])) as T;
  }

  info(name: string): Info {
    return this.json<Info>(['info', name]);
  }

  names(): string[] {
    return this.json<{ name: string }[]>(['list'])
      .map((u) => u.name)
      .sort();
  }

  state(): Buffer {
    return readFileSync(join(this.stateDir, 'state.json'));
  }

  ping(ip: string): boolean {
    return /3 received/.test(this.ns.run(['ping', '-c', '3', '-i', '0.2', '-W', '2', ip]).stdout);
  }

  write(doc: unknown): string {
    const text = `${JSON.stringify(doc, null, 2)}\n`;
    writeFileSync(this.policy, text);
    return text;
  }

  log = '';

  async startDaemon(failpoint = ''): Promise<ChildProcess> {
    const flags = [`--state-dir=${this.stateDir}`, `--socket=${this.sock}`, '--max-memory=1600', ...this.daemonFlags];
    const d = spawn('ip', ['netns', 'exec', this.ns.name, process.execPath, FATA, 'daemon', ...flags], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FATA_DAEMON_FAILPOINT: failpoint },
    });
    this.daemons.push(d);
    this.log = '';
    d.stderr!.on('data', (b: Buffer) => {
      this.log += b.toString();
    });
    await until(`the daemon listens (${this.log})`, () => /listening on/.test(this.log) || (d.exitCode !== null && assert.fail(this.log)));
    return d;
  }
}

/** The line of `text` holding `needle` (1-based), the `nth` such line. */
function lineOf(text: string, needle: string, nth = 1): number {
  let seen = 0;
  const lines = text.split('\n');
  for (const [i, l] of lines.entries()) if (l.includes(needle) && ++seen === nth) return i + 1;
  throw new Error(`'${needle}' is not in the file`);
}

type Doc = {
  version: number;
  trust?: { ca: string };
  networks: Record<string, Record<string, unknown>>;
  volumes: Record<string, { size: string | number }>;
  unikernels: Record<string, Record<string, unknown>>;
};

function validDoc(images: { ping: string; block: string }, ca: string): Doc {
  return {
    version: 1,
    trust: { ca },
    networks: { pn0: { cidr: '10.79.0.1/24' } },
    volumes: { data: { size: '4M' } },
    unikernels: {
      a: {
        image: images.ping,
        signer: 'CN=Policy Signer',
        memoryMb: 128,
        nets: { service: { bridge: 'pn0', mac: '02:00:00:00:79:02' } },
        bootArgs: ['--ipv4=10.79.0.2/24'],
        restart: 'on-failure',
      },
      b: {
        image: images.ping,
        signer: 'CN=Policy Signer',
        memoryMb: 128,
        nets: { service: { bridge: 'br0' } },
        bootArgs: ['--ipv4=10.77.0.3/24'],
      },
      disk: { image: images.block, signer: 'CN=Policy Signer', memoryMb: 128, blocks: { storage: { volume: 'data' } } },
    },
  };
}

/** Applying `c.policy` again changes nothing: "nothing to change", the state byte for byte, the same engines. */
function appliesNothing(c: Ctx): void {
  const before = c.state();
  const pids = c.names().map((n) => c.info(n).enginePid);
  const again = c.must(['policy', 'apply', c.policy]);
  assert.match(again, /nothing to change/);
  assert.deepEqual(c.state(), before, 'a second apply changes the state file');
  assert.deepEqual(
    c.names().map((n) => c.info(n).enginePid),
    pids,
    'a second apply restarts nothing',
  );
}

type Images = { ping: string; block: string; echo: string; unsigned: string; other: string };
type Case = [what: string, change: (d: Doc) => void, needle: string, nth: number, error: RegExp];

/** The kinds of invalid file about the file itself and the host: what to change, the text on the line the error must name (its nth such line), the error. */
function invalidCases(): Case[] {
  return [
    ['memory below the minimum', (d) => (d.unikernels.b!.memoryMb = 16), '"memoryMb": 16', 1, /must be at least 64/],
    ['an unknown key', (d) => (d.unikernels.b!.mem = 1), '"mem": 1', 1, /unknown key "mem"/],
    [
      'a MAC twice',
      (d) => (d.unikernels.b!.nets = { service: { bridge: 'br0', mac: '02:00:00:00:79:02' } }),
      '"mac": "02:00:00:00:79:02"',
      2,
      /MAC 02:00:00:00:79:02 is also a.service's/,
    ],
    ['an address twice', (d) => (d.unikernels.b!.bootArgs = ['--ipv4=10.79.0.2/24']), '"bootArgs"', 2, /address 10\.79\.0\.2 is also a's/],
    [
      'an address outside its network',
      (d) => (d.unikernels.a!.bootArgs = ['--ipv4=10.80.0.2/24']),
      '"bootArgs"',
      1,
      /not a guest address of network 'pn0'/,
    ],
    [
      'a bridge neither declared nor on the host',
      (d) => (d.unikernels.b!.nets = { service: { bridge: 'nobr' } }),
      '"bridge": "nobr"',
      1,
      /no network 'nobr' in this file and no bridge 'nobr' on the host/,
    ],
    [
      'memory over the daemon quota',
      (d) => (d.unikernels.b!.memoryMb = 1500),
      '"unikernels"',
      1,
      /the daemon's quota: memory totals 1756 MB > 1600 MB allowed/,
    ],
    [
      'a volume not declared',
      (d) => (d.unikernels.disk!.blocks = { storage: { volume: 'nothere' } }),
      '"volume": "nothere"',
      1,
      /no volume 'nothere' in this file/,
    ],
    [
      'a volume resized',
      (d) => (d.volumes.data!.size = '8M'),
      '"size": "8M"',
      1,
      /exists with 4194304 bytes, not 8388608; volumes are not resized/,
    ],
  ];
}

/** The kinds of invalid file that are about an image: missing, unsigned, signed by another, its devices, its arguments. */
function imageCases(c: Ctx, images: Images): Case[] {
  return [
    ['an image that is not there', (d) => (d.unikernels.b!.image = join(c.dir, 'none.fata')), 'none.fata', 1, /FATA_NO_IMAGE/],
    ['an unsigned image', (d) => (d.unikernels.b!.image = images.unsigned), 'unsigned.fata', 1, /FATA_UNSIGNED/],
    [
      'an unsigned image without a signer, for a daemon with --trust',
      (d) => {
        d.unikernels.b!.image = images.unsigned;
        delete d.unikernels.b!.signer;
      },
      'unsigned.fata',
      1,
      /the daemon runs only signed images \(--trust\) and there is no .*unsigned\.fata\.sig/,
    ],
    [
      'another signer',
      (d) => (d.unikernels.b!.signer = 'CN=Someone Else'),
      '"signer": "CN=Someone Else"',
      1,
      /is signed by CN=Policy Signer, not by CN=Someone Else/,
    ],
    ['a signer outside the trust', (d) => (d.unikernels.b!.image = images.other), 'other.fata', 1, /FATA_SIGNER_UNTRUSTED/],
    [
      'a device the image does not declare',
      (d) => (d.unikernels.b!.nets = { service: { bridge: 'br0' }, extra: { bridge: 'br0' } }),
      '"nets"',
      2,
      /FATA_UNDECLARED: net device extra attaches a device the image does not declare/,
    ],
    [
      'boot arguments the image refuses',
      (d) => (d.unikernels.b!.bootArgs = ['--no-such-param=1']),
      '"bootArgs"',
      2,
      /ping-serve refuses its boot arguments/,
    ],
    [
      'a network overlapping the host',
      (d) => (d.networks.pn1 = { cidr: '10.77.0.9/24' }),
      '"cidr": "10.77.0.9/24"',
      1,
      /overlaps the host's route to 10\.77\.0\.0\/24 on br0/,
    ],
  ];
}

/** Each kind of invalid file: refused with FILE:LINE:COLUMN naming the right line, and nothing applied. */
function invalidFiles(c: Ctx, good: Doc, images: Images): void {
  const before = c.state();
  const names = c.names();
  const clone = (): Doc => JSON.parse(JSON.stringify(good)) as Doc;
  for (const [what, change, needle, nth, re] of [...invalidCases(), ...imageCases(c, images)]) {
    const d = clone();
    change(d);
    const text = c.write(d);
    const line = lineOf(text, needle, nth);
    for (const sub of [['check'], ['apply']]) {
      const r = c.fata(['policy', ...sub, c.policy]);
      assert.equal(r.status, 1, `${what}: ${r.out}`);
      assert.match(
        r.err,
        new RegExp(`${c.policy.replace(/[.]/g, '\\.')}:${line}:\\d+: .*${re.source}`),
        `${what} (line ${line}): ${r.err}`,
      );
      assert.match(r.err, /FATA_POLICY: .*nothing was changed/);
    }
    assert.deepEqual(c.state(), before, `${what}: the state changed`);
  }
  // Syntax: a member without its comma, and a unikernel declared twice, each at its line.
  const text = c.write(good);
  const bLine = lineOf(text, '"b": {');
  writeFileSync(
    c.policy,
    text.replace(
      '"memoryMb": 128,\n      "nets": {\n        "service": {\n          "bridge": "br0"',
      '"memoryMb": 128\n      "nets": {\n        "service": {\n          "bridge": "br0"',
    ),
  );
  let r = c.fata(['policy', 'apply', c.policy]);
  assert.equal(r.status, 1);
  assert.match(r.err, new RegExp(`host\\.json:${bLine + 4}:7: expected ',' or '}' after a member`));
  writeFileSync(c.policy, text.replace('"b": {', '"a": {'));
  r = c.fata(['policy', 'check', c.policy]);
  assert.equal(r.status, 1);
  assert.match(r.err, new RegExp(`host\\.json:${bLine}:5: the key "a" is given twice in this object`));
  assert.deepEqual(c.state(), before);
  assert.deepEqual(c.names(), names);
  c.write(good);
}

test('fata policy: check, dry run, apply, apply again (nothing), invalid files refused at their line, updates, kill -9 mid-apply converges', {
  skip,
  timeout: 600_000,
}, async () => {
  const built = { ping: build('examples/ping-serve'), block: build('examples/block-test'), echo: build('examples/echo') };
  let dir: string | undefined;
  try {
    await withTapNamespace('10.78.0.1/24', async (ns) => {
      for (const cmd of [
        ['ip', 'link', 'add', 'br0', 'type', 'bridge'],
        ['ip', 'link', 'set', 'br0', 'up'],
        ['ip', 'addr', 'add', '10.77.0.1/24', 'dev', 'br0'],
      ])
        assert.equal(ns.run(cmd).status, 0, cmd.join(' '));
      const c = new Ctx(ns);
      dir = c.dir;
      try {
        await steps(c, built);
      } finally {
        await stopAll(c.daemons);
      }
    });
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

async function steps(c: Ctx, built: { ping: string; block: string; echo: string }): Promise<void> {
  const pki = new Pki(join(c.dir, 'pki'));
  const root = pki.root('Policy Root');
  const signer = pki.issue(root, 'Policy Signer', 'signer', { to: 40 });
  const other = new Pki(join(c.dir, 'pki-other')); // The same signer's name under another root.
  const otherRoot = other.root('Other Root');
  const otherSigner = other.issue(otherRoot, 'Policy Signer', 'signer');
  const images = {
    ping: join(c.dir, 'ping.fata'),
    block: join(c.dir, 'block.fata'),
    echo: join(c.dir, 'echo.fata'),
    unsigned: join(c.dir, 'unsigned.fata'),
    other: join(c.dir, 'other.fata'),
  };
  for (const [to, from] of [
    [images.ping, built.ping],
    [images.block, built.block],
    [images.echo, built.echo],
    [images.unsigned, built.ping],
    [images.other, built.ping],
  ] as const)
    copyFileSync(from, to);
  for (const i of [images.ping, images.block, images.echo]) pki.opensslSign(i, signer);
  other.opensslSign(images.other, otherSigner);
  c.daemonFlags = [`--trust=${root.cert}`];
  const daemon = await c.startDaemon();
  const good = validDoc(images, root.cert);
  await firstApply(c, images, good);
  appliesNothing(c);
  invalidFiles(c, good, images);
  appliesNothing(c);
  await changes(c, images, root.cert);
  await killMidApply(c, images, root.cert, daemon);
}

/** Checked, planned (the dry run changes nothing), applied: what is declared runs, what is not is gone; info says the signer's days left. */
async function firstApply(c: Ctx, images: Images, good: Doc): Promise<void> {
  // Something the file does not declare, to be destroyed by apply.
  c.must(['create', 'old', images.ping, '--net:service=br0', '--mem=64', '--', '--ipv4=10.77.0.9/24']);
  c.must(['volume', 'create', 'junk', '1M']);
  c.write(good);

  const checked = c.must(['policy', 'check', c.policy]);
  assert.match(
    checked,
    /good: 1 network\(s\), 1 volume\(s\) \(4194304 bytes\), 3 unikernel\(s\) \(384 MB\); apply would make 7 change\(s\)/,
  );
  assert.match(checked, /a: signed by CN=Policy Signer, valid until .*, 39 days left/);
  const before = c.state();
  const dry = c.must(['policy', 'apply', '--dry-run', c.policy]);
  assert.deepEqual(
    dry
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.trim().replace(/ \(.*$|:.*$/, '')),
    ['create network pn0', 'destroy old', 'destroy volume junk', 'create volume data', 'create a', 'create b', 'create disk'],
  );
  assert.deepEqual(c.state(), before, '--dry-run changes nothing');
  assert.deepEqual(c.names(), ['old']);

  const applied = c.must(['policy', 'apply', c.policy]);
  assert.match(applied, /applied 7 change\(s\)/);
  assert.deepEqual(c.names(), ['a', 'b', 'disk']);
  assert.deepEqual(
    c.json<{ name: string }[]>(['volume', 'list']).map((v) => v.name),
    ['data'],
  );
  assert.match(c.must(['net', 'list']), /pn0/);
  await until('a and b answer ping', () => c.ping('10.79.0.2') && c.ping('10.77.0.3'), 30_000);
  assert.equal(c.info('a').nets[0]!.mac, '02:00:00:00:79:02');
  await until('disk ran', () => c.info('disk').state === 'stopped', 30_000);
  // The orchestrator reports days left of each image's signer.
  assert.equal(c.info('a').image.signer?.subject, 'CN=Policy Signer');
  assert.equal(c.info('a').image.signer?.daysLeft, 39);
  assert.match(c.must(['info', 'b']), /signer: {4}CN=Policy Signer \(issuer CN=Policy Root, serial \w+\), valid until .*, 39 days left$/m);
}

/** A changed memory size: b is created again with the MAC it had; a new image for a: updated in place. */
async function changes(c: Ctx, images: Images, ca: string): Promise<void> {
  // A changed memory size: b is created again with the MAC it had; a new image for a: updated in place.
  const bMac = c.info('b').nets[0]!.mac;
  const changed = validDoc(images, ca);
  changed.unikernels.b!.memoryMb = 192;
  changed.unikernels.a!.image = images.echo;
  c.write(changed);
  const plan = c.must(['policy', 'apply', '--dry-run', c.policy]);
  assert.match(plan, /destroy b \(to create it again: memory 128 → 192 MB\)/);
  assert.match(plan, /update a: image \w{12} → \w{12}/);
  const echoSha = c.must(['policy', 'apply', '--trial=500', c.policy]);
  assert.match(echoSha, /applied 3 change\(s\)/);
  assert.equal(c.info('b').memMb, 192);
  assert.equal(c.info('b').nets[0]!.mac, bMac, 'created again with the MAC it had');
  await until('echo runs as a', () => c.info('a').state === 'running' && c.ping('10.79.0.2'), 30_000);
  appliesNothing(c);
}

/** kill -9 of apply, then of the daemon, in the middle of an apply: the next apply converges, the one after changes nothing. */
async function killMidApply(c: Ctx, images: Images, ca: string, running: ChildProcess): Promise<void> {
  let daemon = running;
  // kill -9 of apply after its first step: the next apply converges, the one after changes nothing.
  const grown = validDoc(images, ca);
  grown.unikernels.c = {
    image: images.ping,
    signer: 'CN=Policy Signer',
    memoryMb: 64,
    nets: { service: { bridge: 'br0' } },
    bootArgs: ['--ipv4=10.77.0.4/24'],
  };
  grown.unikernels.d = {
    image: images.ping,
    signer: 'CN=Policy Signer',
    memoryMb: 64,
    nets: { service: { bridge: 'br0' } },
    bootArgs: ['--ipv4=10.77.0.5/24'],
  };
  c.write(grown);
  const killed = c.fata(['policy', 'apply', '--trial=500', c.policy], { FATA_POLICY_FAILPOINT: '1' });
  assert.equal(killed.signal, 'SIGKILL', `apply killed itself: ${killed.err}`);
  assert.match(killed.out, /^done: /m);
  assert.doesNotMatch(killed.out, /applied/);
  assert.notDeepEqual(c.names(), ['a', 'b', 'c', 'd', 'disk'], 'apply stopped part-way');
  assert.match(c.must(['policy', 'apply', '--trial=500', c.policy]), /applied/);
  assert.deepEqual(c.names(), ['a', 'b', 'c', 'd', 'disk']);
  appliesNothing(c);

  // kill -9 of the daemon in the middle of a create apply asked for (after its taps, before its state).
  const exited = once(daemon, 'exit');
  daemon.kill('SIGTERM');
  await exited;
  daemon = await c.startDaemon('create-after-taps');
  const more = validDoc(images, ca);
  more.unikernels.e = {
    image: images.ping,
    signer: 'CN=Policy Signer',
    memoryMb: 64,
    nets: { service: { bridge: 'br0' } },
    bootArgs: ['--ipv4=10.77.0.6/24'],
  };
  c.write(more);
  const died = once(daemon, 'exit');
  const cut = c.fata(['policy', 'apply', c.policy]);
  assert.equal(cut.status, 1);
  assert.match(cut.err, /FATA_NO_DAEMON/);
  assert.equal((await died)[1], 'SIGKILL');
  daemon = await c.startDaemon();
  assert.match(c.must(['policy', 'apply', c.policy]), /applied/);
  assert.deepEqual(c.names(), ['a', 'b', 'disk', 'e']);
  await until('e answers ping', () => c.ping('10.77.0.6'), 30_000);
  appliesNothing(c);
}
