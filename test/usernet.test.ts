/**
 * User-mode networking (`--net:NAME=user`, src/usernet): a unikernel with
 * Fata's stack inside and no tap, run as an unprivileged user (under root,
 * nobody, from a copy of the checkout it can reach). Everything it talks to
 * is on the host's loopback, so no namespace is needed: the 10.0.2.0/24
 * link exists only inside `fata run` and the engine. Flag parsing first.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { parseRunFlags } from '../src/tender/flags.ts';
import { runnableCheckout } from './unprivileged.ts';
import { freePorts } from './ports.ts';
import { waitForLine } from './netns.ts';
import { descendants, running } from './procs.ts';

const ROOT = new URL('..', import.meta.url).pathname;

test('--net:NAME=user takes hostfwd and restrict; a tap keeps ,create; mistakes say how to write them', () => {
  const f = parseRunFlags([
    '--net:service=user,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=tcp::8443-10.0.2.16:443,hostfwd=udp:127.0.0.1:8080-:53,hostfwd=::8081-:81,restrict=on',
    '--net:admin=tap9,create',
    'IMAGE',
  ]);
  assert.ok(!('error' in f), JSON.stringify(f));
  assert.equal(f.nets.get('service'), 'user');
  assert.equal(f.nets.get('admin'), 'tap9');
  assert.deepEqual([...f.create], ['admin']);
  assert.equal(f.usernets.has('admin'), false);
  assert.deepEqual(f.usernets.get('service'), {
    restrict: true,
    forwards: [
      { proto: 'tcp', hostAddr: '127.0.0.1', hostPort: 8080, guestAddr: undefined, guestPort: 80 },
      { proto: 'tcp', hostAddr: '', hostPort: 8443, guestAddr: 0x0a000210, guestPort: 443 },
      { proto: 'udp', hostAddr: '127.0.0.1', hostPort: 8080, guestAddr: undefined, guestPort: 53 },
      { proto: 'tcp', hostAddr: '', hostPort: 8081, guestAddr: undefined, guestPort: 81 },
    ],
  });
  const plain = parseRunFlags(['--net:service=user', 'IMAGE']);
  assert.ok(!('error' in plain));
  assert.deepEqual(plain.usernets.get('service'), { restrict: false, forwards: [] });
  const bad: [string, RegExp][] = [
    ['--net:service=user,hostfwd=tcp:127.0.0.1:8080', /write hostfwd=tcp\|udp:\[HOSTADDR\]:HOSTPORT-\[GUESTADDR\]:GUESTPORT/],
    ['--net:service=user,hostfwd=sctp::53-:53', /write hostfwd=tcp\|udp:/],
    ['--net:service=user,hostfwd=tcp::70000-:80', /ports are numbers from 1 to 65535/],
    ['--net:service=user,hostfwd=tcp:localhost:80-:80', /'localhost' is not an IPv4 address/],
    ['--net:service=user,create', /'create' is not an option of user-mode networking/],
    ['--net:service=user,hostfwd=tcp::80-:80,hostfwd=tcp::80-:81', /host TCP port 80 is forwarded twice/],
    ['--net:service=user,hostfwd=udp::53-:53,hostfwd=udp::53-:54', /host UDP port 53 is forwarded twice/],
    ['--net:service=tap0,restrict=on', /the only option after the interface is ',create'/],
  ];
  for (const [flag, re] of bad) {
    const r = parseRunFlags([flag, 'IMAGE']);
    assert.ok('error' in r, flag);
    assert.match(r.error, re, flag);
  }
});

/** Who runs `fata`, and from which checkout: nobody from a reachable copy under root, else this account here. */
const asRoot = process.getuid?.() === 0;
const copy = asRoot ? runnableCheckout(65534) : undefined;
const CHECKOUT = copy?.root ?? ROOT;
const UID = asRoot ? 65534 : undefined;
after(() => copy?.remove());

/** Builds as the checkout's owner (the copy's folders are root's), so the images exist before the user runs them. */
function build(dir: string, ...flags: string[]): string {
  const r = spawnSync(join(CHECKOUT, 'bin', 'fata'), ['build', ...flags, dir], { cwd: CHECKOUT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const dist = join(CHECKOUT, dir, 'dist');
  return join(dist, readdirSync(dist).find((n) => n.endsWith('.fata'))!);
}

function runFata(args: string[]): ChildProcess {
  return spawn(join(CHECKOUT, 'bin', 'fata'), ['run', ...args], { cwd: CHECKOUT, uid: UID, gid: UID, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** What `child` has written so far, on stdout and on stderr. */
function gather(child: ChildProcess): { out: () => string; err: () => string } {
  let out = '',
    err = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return { out: () => out, err: () => err };
}

/** Runs to the end; out, err and the exit code. */
function finish(child: ChildProcess, timeoutMs = 60_000): Promise<{ code: number | null; out: string; err: string }> {
  const { out, err } = gather(child);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      setImmediate(() => resolve({ code, out: out(), err: err() }));
    });
  });
}

/** A host server on 127.0.0.1 that sends `payload` to each connection and closes; counts connections. */
async function download(payload: Uint8Array): Promise<{ server: Server; port: number; connections: () => number }> {
  let n = 0;
  const server = createServer((s) => {
    n++;
    s.on('error', () => {});
    s.end(payload);
  });
  const [port] = await freePorts(1);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { server, port, connections: () => n };
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

for (const target of ['spt', 'node'] as const) {
  const flags = target === 'node' ? ['-t', 'node', '--net=direct'] : ['-t', 'spt'];
  const who = asRoot ? 'as nobody' : 'as this user';
  test(`user-mode networking (${target}) ${who}: a DHCP lease, then 4 MiB from a host server on 127.0.0.1 byte-exact through 10.0.2.2`, async () => {
    const image = build('test/fixtures/tcp-client', ...flags);
    const payload = randomBytes(4 << 20);
    const host = await download(payload);
    try {
      const r = await finish(runFata(['--net:service=user', image, '--host=10.0.2.2', `--port=${host.port}`, '--kib=0']));
      assert.equal(r.code, 0, r.out + r.err);
      assert.match(r.out, /event=net-up device=service mode=direct ipv4=10\.0\.2\.15\/24 gateway=10\.0\.2\.2 dns=10\.0\.2\.3 .*mtu=16384/);
      assert.match(r.err, /usernet: lease 10\.0\.2\.15 to /);
      const done = /event=client-done sent=0 received=(\d+) .*gotSha=([0-9a-f]+)/.exec(r.out);
      assert.ok(done, r.out);
      assert.equal(Number(done[1]), payload.length);
      assert.equal(done[2], sha(payload));
      assert.equal(host.connections(), 1);
    } finally {
      host.server.close();
    }
  });
}

test(`user-mode networking, restrict=on: the unikernel cannot reach a host port; nothing connects`, async () => {
  const image = build('test/fixtures/tcp-client', '-t', 'spt');
  const host = await download(new Uint8Array(1024));
  try {
    const r = await finish(runFata(['--net:service=user,restrict=on', image, '--host=10.0.2.2', `--port=${host.port}`, '--kib=0']));
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, /event=net-up .*ipv4=10\.0\.2\.15\/24/, 'DHCP still works under restrict');
    assert.match(r.out, /refused|ECONNREFUSED/i, r.out);
    assert.doesNotMatch(r.out, /event=client-done/);
    assert.equal(host.connections(), 0);
  } finally {
    host.server.close();
  }
});

test('a connection to a host port nobody listens on is refused as the host refused it (a RST to the SYN, not a reset later)', async () => {
  const image = build('test/fixtures/tcp-client', '-t', 'spt');
  const [closed] = await freePorts(1);
  const r = await finish(runFata(['--net:service=user', image, '--host=10.0.2.2', `--port=${closed}`, '--kib=0']));
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, /event=abort error="TCP connection to 10\.0\.2\.2:\d+ refused"/, r.out);
  assert.doesNotMatch(r.out, /event=client-done/);
});

test('hostfwd: the website, sealed with no tap (and on the node target), fetched with curl through 127.0.0.1 byte-exact, also under restrict=on and with a static address', async () => {
  const htdocs = join(CHECKOUT, 'examples/website/htdocs');
  // Sealed: with DHCP, under restrict=on, and with a static address (no lease: forwards go to 10.0.2.15); then the node target.
  for (const [target, restrict, extra] of [
    ['spt', '', []],
    ['spt', ',restrict=on', []],
    ['spt', '', ['--ipv4=10.0.2.15/24']],
    ['node', '', []],
  ] as const) {
    const image = build('examples/website', '-t', target, ...(target === 'node' ? ['--net=direct'] : []));
    const [port] = await freePorts(1);
    const child = runFata([`--net:service=user,hostfwd=tcp:127.0.0.1:${port}-:8080${restrict}`, image, '--https-port=0', ...extra]);
    const ended = finish(child);
    try {
      await waitForLine(child, /event=serving/, 30_000);
      for (const file of ['index.html', 'style.css', 'logo.svg', 'hello.txt']) {
        const r = spawnSync('curl', ['-sS', '--fail', '--max-time', '10', `http://127.0.0.1:${port}/${file}`], { maxBuffer: 16 << 20 });
        assert.equal(r.status, 0, `${file}: ${r.stderr}`);
        assert.ok(Buffer.compare(r.stdout, readFileSync(join(htdocs, file))) === 0, `${file} differs`);
      }
    } finally {
      child.kill('SIGTERM');
    }
    const r = await ended;
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /event=access remote=10\.0\.2\.2 method=GET target=\/index\.html status=200/);
  }
});

/** Sends `data` from `sock` to 127.0.0.1:`port` until a datagram comes back (three tries, 2 s apart); the reply and its source port. */
function exchange(sock: UdpSocket, port: number, data: Uint8Array): Promise<{ reply: Buffer; fromPort: number } | undefined> {
  return new Promise((resolve) => {
    let tries = 0;
    const onMessage = (reply: Buffer, from: { port: number }): void => {
      clearInterval(timer);
      sock.off('message', onMessage);
      resolve({ reply, fromPort: from.port });
    };
    const send = (): void => {
      if (tries++ === 3) {
        clearInterval(timer);
        sock.off('message', onMessage);
        resolve(undefined);
        return;
      }
      sock.send(data, port, '127.0.0.1');
    };
    sock.on('message', onMessage);
    const timer = setInterval(send, 2000);
    send();
  });
}

test('hostfwd=udp: datagrams from two host peers reach a sealed UDP echo service and each peer gets its own back from HOSTPORT, byte-exact (1 B to 40 KB, fragmented on the link), also under restrict=on', async () => {
  const image = build('test/fixtures/udp-echo', '-t', 'spt');
  for (const restrict of ['', ',restrict=on']) {
    const [port] = await freePorts(1);
    const child = runFata([`--net:service=user,hostfwd=udp:127.0.0.1:${port}-:7${restrict}`, image, '--port=7']);
    const ended = finish(child);
    const peers = [createSocket('udp4'), createSocket('udp4')];
    try {
      await waitForLine(child, /event=listening .*port=7/, 30_000);
      await Promise.all(peers.map((p) => new Promise<void>((r) => p.bind(0, '127.0.0.1', r))));
      for (const size of [1, 1400, 16_000, 40_000]) {
        // Both peers at once, each with bytes of its own: an answer that went to the wrong peer shows.
        const sent = peers.map(() => randomBytes(size));
        const got = await Promise.all(peers.map((p, i) => exchange(p, port, sent[i]!)));
        for (const [i, g] of got.entries()) {
          assert.ok(g, `peer ${i}, ${size} bytes${restrict}: no answer`);
          assert.equal(g.fromPort, port, 'the answer comes from the forwarded port');
          assert.ok(Buffer.compare(g.reply, sent[i]!) === 0, `peer ${i}, ${size} bytes${restrict}: the answer differs`);
        }
      }
    } finally {
      for (const p of peers) p.close();
      child.kill('SIGTERM');
    }
    const r = await ended;
    assert.equal(r.code, 0, r.err);
  }
});

test('hostfwd=udp: a host port already bound is refused before the engine starts, with what to do', async () => {
  const image = build('test/fixtures/udp-echo', '-t', 'spt');
  const [port] = await freePorts(1);
  const taken = createSocket('udp4');
  await new Promise<void>((r) => taken.bind(port, '127.0.0.1', r));
  try {
    const r = await finish(runFata([`--net:service=user,hostfwd=udp:127.0.0.1:${port}-:7`, image]));
    assert.notEqual(r.code, 0);
    assert.match(
      r.err,
      new RegExp(`FATA_HOSTFWD.*hostfwd=udp:127\\.0\\.0\\.1:${port}-…: cannot bind on the host: EADDRINUSE; choose another host port`),
    );
    assert.doesNotMatch(r.out, /event=boot/, 'the engine did not start');
  } finally {
    taken.close();
  }
});

/**
 * Run in a namespace: answers every DNS query for an A record with 192.0.2.77, over UDP (counted as `query`
 * on stderr) and over TCP (`tcp`). A name whose first label is `big` has 40 addresses, 192.0.2.1 to .40:
 * over TCP all of them, over UDP none, with TC set (as a resolver whose answer does not fit).
 */
const DNS_SERVER = `const answer = (q, tcp) => {
  let at = 12;
  while (q[at] !== 0) at += q[at] + 1;
  const question = q.subarray(12, at + 5);
  const big = q.subarray(13, 13 + q[12]).toString() === 'big';
  const n = big ? (tcp ? 40 : 0) : 1;
  const head = Buffer.from([q[0], q[1], big && !tcp ? 0x83 : 0x81, 0x80, 0, 1, 0, n, 0, 0, 0, 0]);
  const rr = (i) => Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, big ? i + 1 : 77]);
  return Buffer.concat([head, question, ...Array.from({ length: n }, (_, i) => rr(i))]);
};
const s = require('node:dgram').createSocket('udp4');
s.on('message', (q, from) => {
  s.send(answer(q, false), from.port, from.address);
  process.stderr.write('query\\n');
});
const t = require('node:net').createServer((c) => {
  let buf = Buffer.alloc(0);
  c.on('error', () => {});
  c.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      const a = answer(buf.subarray(2, 2 + buf.readUInt16BE(0)), true);
      buf = buf.subarray(2 + buf.readUInt16BE(0));
      c.write(Buffer.concat([Buffer.from([a.length >> 8, a.length & 255]), a]));
      process.stderr.write('tcp\\n');
    }
  });
});
t.listen(53, '127.0.0.1', () => s.bind(53, '127.0.0.1', () => console.log('dns ready')));`;

/**
 * Runs `body` with a network namespace of its own whose resolv.conf names 127.0.0.1, where DNS_SERVER
 * answers; `run` starts `fata run ARGS` in it as nobody, `queries` and `tcpQueries` count the queries the
 * server saw over UDP and over TCP; `ns` is the namespace's name.
 * The namespace, its /etc/netns folder and every process go when `body` ends.
 */
async function withHostResolver(
  body: (run: (args: string[]) => ChildProcess, queries: () => number, tcpQueries: () => number, ns: string) => Promise<void>,
): Promise<void> {
  const ns = `fata-usernet-${process.pid}`;
  const etc = `/etc/netns/${ns}`;
  spawnSync('ip', ['netns', 'add', ns]);
  const children: ChildProcess[] = [];
  try {
    spawnSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    mkdirSync(etc, { recursive: true });
    writeFileSync(join(etc, 'resolv.conf'), 'nameserver 127.0.0.1\n');
    const dns = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', DNS_SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(dns);
    let queries = 0,
      tcpQueries = 0;
    dns.stderr!.on('data', (d: Buffer) => {
      queries += d.toString().split('query\n').length - 1;
      tcpQueries += d.toString().split('tcp\n').length - 1;
    });
    await waitForLine(dns, /dns ready/);
    const asNobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
    await body(
      (args) => {
        const child = spawn('ip', ['netns', 'exec', ns, ...asNobody, join(CHECKOUT, 'bin', 'fata'), 'run', ...args], {
          cwd: CHECKOUT,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        children.push(child);
        return child;
      },
      () => queries,
      () => tcpQueries,
      ns,
    );
  } finally {
    for (const c of children) c.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(etc, { recursive: true, force: true });
  }
}

test('DNS: 10.0.2.3 forwards to the host resolver in resolv.conf, and UDP to 10.0.2.2:53 reaches the host 127.0.0.1:53', {
  skip: asRoot ? undefined : 'needs root: the host resolver is replaced inside a network namespace of its own',
}, async () => {
  const image = build('test/fixtures/lookup', '-t', 'spt');
  await withHostResolver(async (run) => {
    for (const via of [[], ['--dns=10.0.2.2']]) {
      const child = run(['--net:service=user', image, '--names=www.example.test', ...via]);
      const line = await waitForLine(child, /event=lookup name=www\.example\.test round=1|event=lookup-failed/, 30_000);
      assert.match(line, /addresses=192\.0\.2\.77/, `${via.join(' ') || 'through 10.0.2.3'}: ${line}`);
      child.kill('SIGTERM');
    }
  });
});

test('DNS over TCP: 10.0.2.3:53 answers pipelined queries and a later one on one connection from the host resolver; refused under restrict=on; 128 KiB and 16 connections at most, idle ones closed', {
  skip: asRoot ? undefined : 'needs root: the host resolver is replaced inside a network namespace of its own',
}, async () => {
  const image = build('test/fixtures/lookup', '-t', 'spt');
  await withHostResolver(async (run, queries) => {
    const lines = async (child: ChildProcess): Promise<string[]> => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
      });
      await waitForLine(child, /event=lookups-done/, 30_000);
      child.kill('SIGTERM');
      return out.split('\n').filter((l) => /event=lookup(-failed)? /.test(l));
    };
    const names = ['www.example.test', 'mail.example.test', 'a.example.test'];
    const got = await lines(run(['--net:service=user', image, `--names=${names.join(',')}`, '--tcp=10.0.2.3']));
    const expected = [...names.map((n) => [n, 1] as const), [names[0]!, 2] as const];
    assert.equal(got.length, expected.length, got.join('\n'));
    for (const [name, round] of expected) {
      const line = got.find((l) => l.includes(`name=${name} round=${round} `));
      assert.ok(line, `no answer for ${name} in round ${round}:\n${got.join('\n')}`);
      assert.match(line, /transport=tcp rcode=0 addresses=192\.0\.2\.77/, line);
    }
    assert.equal(queries(), expected.length, 'each query reached the host resolver once');
    const refused = await lines(run(['--net:service=user,restrict=on', image, `--names=${names[0]}`, '--tcp=10.0.2.3']));
    assert.equal(refused.length, 1, refused.join('\n'));
    assert.match(refused[0]!, /event=lookup-failed .*code=connect/, refused[0]);
    assert.equal(queries(), expected.length, 'nothing reached the host resolver under restrict=on');
    // The bounds: 128 KiB from the guest on one connection, 16 connections at once, 10 s idle.
    const probe = run(['--net:service=user', image, `--names=${names[0]}`, '--tcp-bounds=10.0.2.3']);
    let out = '';
    probe.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    await waitForLine(probe, /event=lookups-done/, 30_000);
    probe.kill('SIGTERM');
    assert.match(out, /event=tcp-bounds-bytes sent=140000 outcome=reset/, out);
    assert.match(out, /event=tcp-bounds-connections opened=17 answered=16 failed=0 reset=1 ended=0/, out);
    assert.match(out, /event=tcp-bounds-idle outcome=ended/, out);
  });
});

test('DNS over TCP: an answer the host resolver truncates over UDP is asked again over TCP and reaches the guest whole (asked over TCP, or over UDP and then TCP)', {
  skip: asRoot ? undefined : 'needs root: the host resolver is replaced inside a network namespace of its own',
}, async () => {
  const image = build('test/fixtures/lookup', '-t', 'spt');
  await withHostResolver(async (run, queries, tcpQueries) => {
    const all = Array.from({ length: 40 }, (_, i) => `192.0.2.${i + 1}`).join(' ');
    const overTcp = run(['--net:service=user', image, '--names=big.example.test', '--tcp=10.0.2.3']);
    const line = await waitForLine(overTcp, /event=lookup(-failed)? /, 30_000);
    overTcp.kill('SIGTERM');
    assert.match(line, /name=big\.example\.test round=1 transport=tcp rcode=0 /, line);
    assert.ok(line.includes(`addresses="${all}" tc=false`), line);
    assert.deepEqual([queries(), tcpQueries()], [1, 1], 'asked over UDP, then over TCP once');
    // The guest's own resolver: UDP first, TC, then TCP to 10.0.2.3, which asks the host's over TCP.
    const stub = run(['--net:service=user', image, '--names=big.example.test']);
    const first = await waitForLine(stub, /event=lookup(-failed)? /, 30_000);
    stub.kill('SIGTERM');
    assert.ok(first.includes(`addresses="${all}"`), first);
    assert.ok(tcpQueries() > 1, 'the host resolver was asked over TCP again');
  });
});

test("ping beyond the gateway: echo requests to 127.0.0.1 answered through the host's ping socket where net.ipv4.ping_group_range allows this user, unanswered (and said once) where not, and under restrict=on", {
  skip: asRoot ? undefined : 'needs root: ping_group_range is set inside a network namespace of its own',
}, async () => {
  const image = build('test/fixtures/tcp-client', '-t', 'spt');
  await withHostResolver(async (run, _q, _t, ns) => {
    const pings = async (args: string[]): Promise<{ lines: string[]; err: string }> => {
      const child = run([...args, image, '--host=127.0.0.1', '--port=9', '--kib=0', '--pings=2']);
      const { out, err } = gather(child);
      await waitForLine(child, /event=ping-(reply|failed) .*seq=2/, 30_000);
      child.kill('SIGTERM');
      return {
        lines: out()
          .split('\n')
          .filter((l) => /event=ping-/.test(l)),
        err: err(),
      };
    };
    const sysctl = (range: string): void => {
      const r = spawnSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv4.ping_group_range=${range}`], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    };
    sysctl('0 2147483647');
    const allowed = await pings(['--net:service=user']);
    assert.equal(allowed.lines.length, 2, allowed.lines.join('\n'));
    for (const [i, l] of allowed.lines.entries()) assert.match(l, new RegExp(`event=ping-reply from=127\\.0\\.0\\.1 seq=${i + 1} `), l);
    const restricted = await pings(['--net:service=user,restrict=on']);
    assert.equal(restricted.lines.filter((l) => /event=ping-failed .*code=ETIMEOUT/.test(l)).length, 2, restricted.lines.join('\n'));
    sysctl('1 0'); // No group may.
    const refused = await pings(['--net:service=user']);
    assert.equal(refused.lines.filter((l) => /event=ping-failed .*code=ETIMEOUT/.test(l)).length, 2, refused.lines.join('\n'));
    const said =
      refused.err.match(/usernet: this host does not let this user ping \(Permission denied[^)]*\)\); .*ping_group_range/g) ?? [];
    assert.equal(said.length, 1, refused.err);
  });
});

test('everything dies with the run: SIGKILL to fata run ends the sealed engine and closes the forwarded port', async () => {
  const image = build('examples/website', '-t', 'spt');
  const [port] = await freePorts(1);
  const child = runFata([`--net:service=user,hostfwd=tcp:127.0.0.1:${port}-:8080`, image, '--https-port=0']);
  const ended = finish(child);
  try {
    await waitForLine(child, /event=serving/, 30_000);
    const below = descendants(child.pid!);
    assert.ok(below.length > 0, 'the engine runs below fata run');
    child.kill('SIGKILL');
    await ended;
    const deadline = Date.now() + 10_000;
    while (below.some(running) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(below.filter(running), [], 'processes left behind');
    const r = spawnSync('curl', ['-sS', '--max-time', '3', `http://127.0.0.1:${port}/`]);
    assert.notEqual(r.status, 0, 'the forwarded port still answers');
  } finally {
    child.kill('SIGKILL');
  }
});

test('--net-impair on a user-mode link: with 2% loss and 5% corruption both ways, 2 MiB echoed by a host server come back byte-exact (checksums are checked again)', async () => {
  const image = build('test/fixtures/tcp-client', '-t', 'spt');
  const server = createServer((s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  const [port] = await freePorts(1);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  try {
    const impair = '--net-impair:service=loss=0.02,corrupt=0.05,seed=5';
    const r = await finish(runFata(['--net:service=user', impair, image, '--host=10.0.2.2', `--port=${port}`, '--kib=2048']), 120_000);
    assert.equal(r.code, 0, r.out + r.err);
    const done = /event=client-done sent=(\d+) received=(\d+) sentSha=([0-9a-f]+) gotSha=([0-9a-f]+)/.exec(r.out);
    assert.ok(done, r.out);
    assert.equal(Number(done[2]), 2 << 20);
    assert.equal(done[4], done[3]);
  } finally {
    server.close();
  }
});
