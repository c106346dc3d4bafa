/**
 * `fata net` on a host of the test's own: a "host" namespace with an uplink
 * veth to an "internet" namespace that runs the servers (socat). NAT with
 * Fata's DHCP server: a sealed unikernel leases an address and reaches the
 * internet's echo server, which sees the host's uplink address; a forward
 * makes a unikernel's website reachable from the internet, another its UDP
 * echo service; a routed network
 * (no NAT) is reached by a kernel client through a route; a bridged setup (the
 * docs' commands, a veth standing in for the physical interface) is reached by
 * a kernel client on the same segment. After destroy, the
 * host namespace's links, addresses, nftables ruleset and ip_forward are as
 * they were before. Bad input is refused with nothing left behind.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsSkipReason, waitForLine } from './netns.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const FATA = join(ROOT, 'bin/fata.mjs');
const skip = netnsSkipReason(['nft', 'socat', 'curl']) ?? (process.arch !== 'x64' ? 'the spt allow-list is for x86_64' : undefined);

const H = `fata-hn-h-${process.pid}`,
  I = `fata-hn-i-${process.pid}`,
  B = `fata-hn-b-${process.pid}`,
  L = `fata-hn-l-${process.pid}`;
const state = mkdtempSync(join(tmpdir(), 'fata-hostnet-'));
chmodSync(state, 0o755); // The sealed engine runs as an unprivileged account and reads its image from here.
const started: ChildProcess[] = [];
// The DHCP keeper a network starts outlives the command that made it, by design; here it goes with this test.
const ENV = { ...process.env, FATA_STATE_DIR: state, FATA_NET_TIE_TO: String(process.pid) };

function sh(argv: string[], input?: string): { status: number; out: string; err: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), {
    encoding: 'utf8',
    timeout: 120_000,
    input,
    env: ENV,
  });
  return { status: r.status ?? -1, out: r.stdout ?? '', err: r.stderr ?? '' };
}
const inH = (argv: string[]): { status: number; out: string; err: string } => sh(['ip', 'netns', 'exec', H, ...argv]);
const inI = (argv: string[]): { status: number; out: string; err: string } => sh(['ip', 'netns', 'exec', I, ...argv]);
const fata = (...args: string[]): { status: number; out: string; err: string } => inH([process.execPath, FATA, ...args]);
function must(r: { status: number; out: string; err: string }, what: string): string {
  assert.equal(r.status, 0, `${what}: ${r.err}${r.out}`);
  return r.out;
}
function startIn(ns: string, argv: string[]): ChildProcess {
  const c = spawn('ip', ['netns', 'exec', ns, ...argv], { env: ENV, detached: true });
  started.push(c);
  return c;
}

/** What destroy must leave as it found: links, addresses, routes, the ruleset, forwarding. */
const hostPicture = (): string =>
  [
    inH(['ip', '-o', 'link', 'show']).out.replace(/^\d+: /gm, ''),
    inH(['ip', '-4', '-o', 'addr', 'show']).out.replace(/^\d+: /gm, ''),
    inH(['ip', 'route', 'show']).out,
    inH(['nft', 'list', 'ruleset']).out,
    inH(['cat', '/proc/sys/net/ipv4/ip_forward']).out,
  ].join('\n---\n');

function build(dir: string): string {
  const r = spawnSync(process.execPath, [FATA, 'build', '-t', 'spt', dir], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const name = readdirSync(join(ROOT, dir, 'dist')).find((f) => f.endsWith('.fata'))!;
  // A copy of our own: other tests rebuild and clean the examples' dist folders.
  const image = join(state, name);
  copyFileSync(join(ROOT, dir, 'dist', name), image);
  return image;
}

function cleanup(): void {
  for (const c of started.splice(0)) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  const netDir = join(state, 'net');
  if (existsSync(netDir))
    for (const f of readdirSync(netDir).filter((x) => x.endsWith('.pid'))) {
      try {
        process.kill(Number(readFileSync(join(netDir, f), 'utf8')), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  for (const ns of [H, I, B, L]) spawnSync('ip', ['netns', 'del', ns]);
  rmSync(state, { recursive: true, force: true });
}
after(cleanup);
process.on('exit', cleanup);

function topology(): void {
  for (const ns of [H, I]) {
    must(sh(['ip', 'netns', 'add', ns]), `netns ${ns}`);
    must(sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']), 'lo');
  }
  must(sh(['ip', 'link', 'add', 'up0', 'netns', H, 'type', 'veth', 'peer', 'name', 'up1', 'netns', I]), 'veth');
  must(sh(['ip', '-n', H, 'addr', 'add', '172.31.250.1/24', 'dev', 'up0']), 'addr');
  must(sh(['ip', '-n', I, 'addr', 'add', '172.31.250.2/24', 'dev', 'up1']), 'addr');
  must(sh(['ip', '-n', H, 'link', 'set', 'up0', 'up']), 'up');
  must(sh(['ip', '-n', I, 'link', 'set', 'up1', 'up']), 'up');
  must(sh(['ip', '-n', H, 'route', 'add', 'default', 'via', '172.31.250.2']), 'default route');
}

const tapOn = (bridge: string, tap: string): void => {
  must(inH(['ip', 'tuntap', 'add', 'dev', tap, 'mode', 'tap']), 'tap');
  must(inH(['ip', 'link', 'set', tap, 'master', bridge, 'up']), 'tap on bridge');
};

/** Bad input: each refused with what to do, and nothing made. */
function refusals(): void {
  const refusals: [string[], RegExp][] = [
    [
      ['net', 'create', 'n0', '--cidr=172.31.250.9/24'],
      /FATA_NET_OVERLAP: 172\.31\.250\.0\/24 overlaps the host's route to 172\.31\.250\.0\/24 on up0/,
    ],
    [['net', 'create', 'up0', '--cidr=10.79.0.1/24'], /FATA_NET_NAME_TAKEN: an interface named 'up0' exists/],
    [['net', 'create', 'n0', '--cidr=10.79.0.0/24'], /network address; give the host's own address in it, like 10\.79\.0\.1\/24/],
    [['net', 'create', 'n0', '--cidr=10.79.0.1/24', '--dhcp=10.80.0.5-10.80.0.9'], /must lie inside 10\.79\.0\.0\/24/],
    [['net', 'create', 'N0', '--cidr=10.79.0.1/24'], /network name 'N0' must be/],
    [['net', 'create', 'n0'], /--cidr=HOSTADDR\/PREFIX is required/],
  ];
  for (const [args, why] of refusals) {
    const r = fata(...args);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.out}`);
    assert.match(r.err, why);
  }
}

/** Routed (no NAT): the internet has a route to the subnet through the host, and a kernel client reaches the unikernel. */
async function routed(site: string): Promise<void> {
  must(fata('net', 'create', 'r0', '--cidr=10.78.0.1/24'), 'create r0');
  must(inI(['ip', 'route', 'add', '10.78.0.0/24', 'via', '172.31.250.1']), 'route');
  tapOn('r0', 'w2');
  const r = startIn(H, [
    process.execPath,
    FATA,
    'run',
    '--net:service=w2',
    site,
    '--ipv4=10.78.0.2/24',
    '--ipv4-gateway=10.78.0.1',
    '--http-port=80',
    '--https-port=0',
  ]);
  await waitForLine(r, /event=serving/, 60_000);
  assert.equal(
    inI(['curl', '-s', '--max-time', '10', 'http://10.78.0.2/hello.txt']).out,
    readFileSync(join(ROOT, 'examples/website/htdocs/hello.txt'), 'utf8'),
  );
  r.kill('SIGTERM');
  await new Promise((res) => r.once('exit', res));
  inH(['ip', 'link', 'del', 'w2']);
  must(fata('net', 'destroy', 'r0'), 'destroy r0');
  inI(['ip', 'route', 'del', '10.78.0.0/24']);
}

test('fata net: NAT with Fata DHCP, a TCP and a UDP forward in, a routed network, bad input — and destroy leaves the host as it was', {
  skip,
  timeout: 240_000,
}, async () => {
  topology();
  const client = build('test/fixtures/tcp-client');
  const site = build('examples/website');
  const udpEcho = build('test/fixtures/udp-echo');
  const before = hostPicture();

  refusals();
  assert.equal(hostPicture(), before, 'a refused create left nothing behind');

  // NAT + DHCP: the unikernel leases from Fata's DHCP server and reaches the internet through the host.
  must(fata('net', 'create', 'n0', '--cidr=10.77.0.1/24', '--nat', '--dhcp'), 'create n0');
  assert.match(fata('net', 'create', 'n0', '--cidr=10.77.0.1/24', '--nat', '--dhcp').err, /exists as asked; nothing changed/);
  assert.match(fata('net', 'create', 'n0', '--cidr=10.77.0.1/24').err, /FATA_NET_EXISTS/);
  assert.match(fata('net', 'create', 'n1', '--cidr=10.77.0.129/25').err, /FATA_NET_OVERLAP: .*overlaps Fata network 'n0'/);
  const echo = startIn(I, ['socat', '-v', 'TCP-LISTEN:7000,bind=172.31.250.2,fork,reuseaddr', 'EXEC:cat']);
  let echoLog = '';
  echo.stderr!.on('data', (d: Buffer) => {
    echoLog += d.toString();
  });
  tapOn('n0', 'u1');
  const c = startIn(H, [process.execPath, FATA, 'run', '--net:service=u1', client, '--host=172.31.250.2', '--port=7000', '--kib=64']);
  const up = await waitForLine(c, /event=net-up/, 60_000);
  assert.match(up, /ipv4=10\.77\.0\.1\d\d\/24 gateway=10\.77\.0\.1 dns=10\.77\.0\.1 .*server=10\.77\.0\.254/);
  const done = await waitForLine(c, /event=client-done/, 60_000);
  const sha = /sentSha=(\w+) gotSha=(\w+)/.exec(done)!;
  assert.equal(sha[1], sha[2], 'the echo came back whole');
  const listed = JSON.parse(must(fata('net', 'list', '--json'), 'list')) as { name: string; attached: string[]; dhcpRunning: boolean }[];
  assert.deepEqual(
    listed.map((n) => [n.name, n.attached, n.dhcpRunning]),
    [['n0', ['u1'], true]],
  );
  const conn = inI(['ss', '-tn', 'state', 'all', 'sport', '= :7000']).out + echoLog;
  assert.doesNotMatch(conn, /10\.77\.0\./, 'the internet never sees the private subnet: masqueraded');

  // A forward in: the internet reaches a unikernel's website at the host's uplink address.
  tapOn('n0', 'w1');
  const w = startIn(H, [
    process.execPath,
    FATA,
    'run',
    '--net:service=w1',
    site,
    '--ipv4=10.77.0.2/24',
    '--ipv4-gateway=10.77.0.1',
    '--http-port=80',
    '--https-port=0',
  ]);
  await waitForLine(w, /event=serving/, 60_000);
  assert.match(fata('net', 'forward', 'n0', 'tcp', '8080', '10.79.0.2:80').err, /is not a guest address on 'n0'/);
  must(fata('net', 'forward', 'n0', 'tcp', '8080', '10.77.0.2:80'), 'forward');
  assert.match(fata('net', 'forward', 'n0', 'tcp', '8080', '10.77.0.3:80').err, /FATA_NET_FORWARD_TAKEN/);
  const page = inI(['curl', '-s', '--max-time', '10', 'http://172.31.250.1:8080/hello.txt']);
  assert.equal(page.out, readFileSync(join(ROOT, 'examples/website/htdocs/hello.txt'), 'utf8'));
  must(fata('net', 'unforward', 'n0', 'tcp', '8080'), 'unforward');
  assert.notEqual(inI(['curl', '-s', '--max-time', '3', 'http://172.31.250.1:8080/hello.txt']).status, 0, 'unforwarded: no way in');

  // A UDP forward: a datagram from the internet reaches a unikernel's UDP echo service, and the answer comes back.
  tapOn('n0', 'e1');
  const e = startIn(H, [
    process.execPath,
    FATA,
    'run',
    '--net:service=e1',
    udpEcho,
    '--port=7',
    '--ipv4=10.77.0.3/24',
    '--ipv4-gateway=10.77.0.1',
  ]);
  await waitForLine(e, /event=listening .*port=7/, 60_000);
  must(fata('net', 'forward', 'n0', 'udp', '5353', '10.77.0.3:7'), 'forward udp');
  const echoed = inI(['sh', '-c', 'echo fata-udp-forward | socat -t 5 - UDP4:172.31.250.1:5353']);
  assert.equal(echoed.out, 'fata-udp-forward\n', echoed.err);
  must(fata('net', 'unforward', 'n0', 'udp', '5353'), 'unforward udp');

  // Destroy is refused while unikernels are attached; --force takes the network down anyway.
  const busy = /FATA_NET_BUSY: network 'n0' has (.*) attached/.exec(fata('net', 'destroy', 'n0').err);
  assert.deepEqual(busy?.[1]?.split(', ').sort(), ['e1', 'u1', 'w1']);
  for (const ch of [c, w, e]) ch.kill('SIGTERM');
  must(fata('net', 'destroy', 'n0', '--force'), 'destroy');
  for (const tap of ['u1', 'w1', 'e1']) inH(['ip', 'link', 'del', tap]);

  await routed(site);

  assert.equal(hostPicture(), before, 'destroy put the host back as it was');
  assert.deepEqual(readdirSync(join(state, 'net')), [], 'and forgot the networks');
});

test('fata net create killed right after writing its state: the same create completes it, then finds it whole', {
  skip,
  timeout: 120_000,
}, () => {
  const ns = `fata-hn-c-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'fata-hostnet-crash-'));
  const env = { ...ENV, FATA_STATE_DIR: dir };
  const create = (failpoint = ''): ReturnType<typeof spawnSync> =>
    spawnSync('ip', ['netns', 'exec', ns, process.execPath, FATA, 'net', 'create', 'c0', '--cidr=10.76.0.1/24', '--nat'], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...env, FATA_NET_FAILPOINT: failpoint },
    });
  const inC = (argv: string[]): string => spawnSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8' }).stdout;
  must(sh(['ip', 'netns', 'add', ns]), `netns ${ns}`);
  try {
    const crashed = create('create-after-save');
    assert.equal(crashed.signal, 'SIGKILL', String(crashed.stderr));
    assert.ok(existsSync(join(dir, 'net', 'c0.json')), 'the state records the intent');
    assert.doesNotMatch(inC(['ip', '-o', 'link', 'show']), /c0/, 'the crash came before the bridge');
    const again = create();
    assert.equal(again.status, 0, String(again.stderr));
    assert.match(String(again.stderr), /lacks its bridge \(a create cut short\): completing it/);
    assert.match(String(again.stderr), /net: c0: completed as asked/);
    assert.match(inC(['ip', '-o', 'link', 'show', 'c0']), /state UP|,UP/);
    assert.match(inC(['ip', '-o', 'link', 'show', 'c0']), /alias fata-net|c0:/);
    assert.match(inC(['ip', '-4', '-o', 'addr', 'show', 'dev', 'c0']), /10\.76\.0\.1\/24/);
    assert.match(inC(['nft', 'list', 'table', 'ip', 'fata-c0']), /masquerade/);
    assert.equal(inC(['cat', '/proc/sys/net/ipv4/ip_forward']).trim(), '1');
    const third = create();
    assert.equal(third.status, 0, String(third.stderr));
    assert.match(String(third.stderr), /exists as asked; nothing changed/);
    // Part of it removed behind its back (the address): completed again, nothing else touched.
    inC(['ip', 'addr', 'del', '10.76.0.1/24', 'dev', 'c0']);
    assert.match(String(create().stderr), /lacks its address .*completed as asked/s);
    assert.match(inC(['ip', '-4', '-o', 'addr', 'show', 'dev', 'c0']), /10\.76\.0\.1\/24/);
    const destroyed = spawnSync('ip', ['netns', 'exec', ns, process.execPath, FATA, 'net', 'destroy', 'c0'], { encoding: 'utf8', env });
    assert.equal(destroyed.status, 0, destroyed.stderr);
    assert.deepEqual(readdirSync(join(dir, 'net')), []);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Bridged (docs/networking.md, "Bridged"): a host namespace whose "physical" interface eth0 (a veth) is on a
 * LAN namespace's segment. The page's commands move the host's address to a bridge that enslaves eth0 and
 * put a unikernel's tap on it; a kernel client on the LAN reaches the unikernel's website directly, the
 * unikernel's own MAC in its neighbour table (one Ethernet segment, nothing routed), and the host keeps its
 * way out. The page's undo puts the host back as it was.
 */
test("bridged, as docs/networking.md says: a kernel client on the LAN reaches a unikernel on a bridge that enslaves the host's interface, on one segment; undone, the host is as before", {
  skip,
  timeout: 180_000,
}, async () => {
  const inB = (argv: string[]): { status: number; out: string; err: string } => sh(['ip', 'netns', 'exec', B, ...argv]);
  const inL = (argv: string[]): { status: number; out: string; err: string } => sh(['ip', 'netns', 'exec', L, ...argv]);
  for (const ns of [B, L]) {
    must(sh(['ip', 'netns', 'add', ns]), `netns ${ns}`);
    must(sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']), 'lo');
  }
  must(sh(['ip', 'link', 'add', 'eth0', 'netns', B, 'type', 'veth', 'peer', 'name', 'lan0', 'netns', L]), 'veth');
  must(inL(['ip', 'addr', 'add', '172.31.249.1/24', 'dev', 'lan0']), 'lan addr');
  must(inL(['ip', 'link', 'set', 'lan0', 'up']), 'lan up');
  must(inB(['ip', 'addr', 'add', '172.31.249.10/24', 'dev', 'eth0']), 'host addr');
  must(inB(['ip', 'link', 'set', 'eth0', 'up']), 'host up');
  must(inB(['ip', 'route', 'add', 'default', 'via', '172.31.249.1']), 'host default route');
  const site = build('examples/website');
  must(inB(['ping', '-c', '1', '-W', '5', '172.31.249.1']), 'the host reaches the LAN (the link is up on both sides)');
  // The kernel reports the link's state a moment after the fact: the picture is taken once it says UP.
  for (let i = 0; i < 100 && !/state UP/.test(inB(['ip', '-o', 'link', 'show', 'eth0']).out); i++)
    await new Promise((r) => setTimeout(r, 100));
  const picture = (): string =>
    [
      inB(['ip', '-o', 'link', 'show']).out.replace(/^\d+: /gm, ''),
      inB(['ip', '-4', '-o', 'addr', 'show']).out.replace(/^\d+: /gm, ''),
      inB(['ip', 'route', 'show']).out,
    ].join('\n---\n');
  const before = picture();
  // The page's commands, with eth0 at 172.31.249.10/24 and the LAN's router at 172.31.249.1.
  for (const cmd of [
    'ip link add br0 type bridge',
    'ip link set eth0 master br0',
    'ip addr flush dev eth0 && ip addr add 172.31.249.10/24 dev br0 && ip link set br0 up',
    'ip route add default via 172.31.249.1',
    'ip tuntap add dev tap0 mode tap && ip link set tap0 master br0 up',
  ])
    must(inB(['sh', '-ec', cmd]), cmd);
  const w = startIn(B, [
    process.execPath,
    FATA,
    'run',
    '--net:service=tap0',
    site,
    '--ipv4=172.31.249.20/24',
    '--ipv4-gateway=172.31.249.1',
    '--http-port=80',
    '--https-port=0',
  ]);
  await waitForLine(w, /event=serving/, 60_000);
  assert.equal(
    inL(['curl', '-s', '--max-time', '10', 'http://172.31.249.20/hello.txt']).out,
    readFileSync(join(ROOT, 'examples/website/htdocs/hello.txt'), 'utf8'),
  );
  // The LAN learnt the unikernel's address at a MAC that the bridge has behind tap0: the unikernel's own.
  const neigh = /lladdr ([0-9a-f:]{17})/.exec(inL(['ip', 'neigh', 'show', '172.31.249.20', 'dev', 'lan0']).out)?.[1];
  assert.ok(neigh, 'the LAN has a neighbour entry for the unikernel');
  assert.match(inB(['bridge', 'fdb', 'show', 'dev', 'tap0']).out, new RegExp(`^${neigh} `, 'm'), 'behind tap0 on the bridge');
  assert.equal(inB(['ping', '-c', '1', '-W', '5', '172.31.249.1']).status, 0, 'the host still reaches the LAN, from br0');
  assert.match(inB(['ip', 'route', 'show', 'default']).out, /default via 172\.31\.249\.1 dev br0/);
  w.kill('SIGTERM');
  await new Promise((res) => w.once('exit', res));
  // The page's undo.
  for (const cmd of [
    'ip link del tap0',
    'ip link set eth0 nomaster',
    'ip link del br0',
    'ip addr add 172.31.249.10/24 dev eth0 && ip route add default via 172.31.249.1',
  ])
    must(inB(['sh', '-ec', cmd]), cmd);
  assert.equal(picture(), before, 'undone, the host is as it was');
});

test('fata net create failing part-way (nft missing, after the bridge is made) undoes what it did and says what to install', {
  skip,
  timeout: 60_000,
}, () => {
  const ns = `fata-hn-p-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'fata-hostnet-partial-'));
  // A PATH with iproute2 and sysctl but no nft: the bridge, its address and ip_forward are done before nft is needed.
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const tool of ['ip', 'sysctl']) {
    const where = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    assert.ok(where, `${tool} is installed`);
    symlinkSync(where, join(bin, tool));
  }
  const inP = (argv: string[]): string => spawnSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8' }).stdout;
  must(sh(['ip', 'netns', 'add', ns]), `netns ${ns}`);
  try {
    const picture = (): string =>
      [
        inP(['ip', '-o', 'link', 'show']).replace(/^\d+: /gm, ''),
        inP(['ip', '-4', '-o', 'addr', 'show']),
        inP(['ip', 'route', 'show']),
        inP(['cat', '/proc/sys/net/ipv4/ip_forward']),
      ].join('\n---\n');
    const before = picture();
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, FATA, 'net', 'create', 'p0', '--cidr=10.74.0.1/24', '--nat'], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...ENV, FATA_STATE_DIR: join(dir, 'state'), PATH: bin },
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /FATA_NET_KERNEL: cannot run 'nft': it is not installed .*install nftables \(apt-get install nftables\)/);
    assert.equal(picture(), before, 'the bridge, its address and ip_forward were undone');
    assert.deepEqual(
      readdirSync(join(dir, 'state', 'net')).filter((f) => f !== 'ip_forward.before'),
      [],
      'and the network forgotten',
    );
    assert.ok(!existsSync(join(dir, 'state', 'net', 'ip_forward.before')), 'with the saved ip_forward put back');
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
});
