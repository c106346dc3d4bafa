/**
 * examples/website sealed (spt; node --net=direct where spt cannot run) on a
 * tap inside a namespace this test makes: every htdocs file byte-exact over
 * HTTP and HTTPS, TLS 1.3 with openssl s_client, ranges and conditional
 * requests answered as nginx answers them on the same files, hostile
 * clients (bad request lines, huge or too many headers, slowloris) get
 * 400/408/431 or a close while others are served, and 30 s of wrk leaves
 * no errors and RSS within 10% of where it started.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { netnsSkipReason, waitForLine, withTapNamespace, type TapNamespace } from './netns.ts';
import { readableCopy, readableTempDir } from './unprivileged.ts';

const FATA = new URL('../bin/fata.mjs', import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;
const HTDOCS = join(ROOT, 'examples/website/htdocs');
const skip = netnsSkipReason(['curl', 'openssl', 'python3']);
const target = process.arch === 'x64' ? 'spt' : 'node';
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function files(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : [join(dir, n)]));
}

async function withWebsite(args: string[], fn: (ns: TapNamespace, pid: () => number) => Promise<void>): Promise<void> {
  const built = spawnSync(
    process.execPath,
    [FATA, 'build', '-t', target, ...(target === 'node' ? ['--net=direct'] : []), 'examples/website'],
    { cwd: ROOT, encoding: 'utf8' },
  );
  assert.equal(built.status, 0, built.stderr);
  await withTapNamespace('10.0.0.1/24', async (ns) => {
    const child = ns.start([
      process.execPath,
      FATA,
      'run',
      `--net:service=${ns.tap}`,
      join(ROOT, 'examples/website/dist/website.fata'),
      '--ipv4=10.0.0.2/24',
      '--http-port=80',
      '--https-port=443',
      ...args,
    ]);
    child.stdout!.resume();
    await waitForLine(child, /event=serving/, 30_000);
    // The process holding the service: the sealed engine the tender started (spt), or the tender itself (node).
    const enginePid = (): number => {
      const kids = spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n')
        .filter(Boolean)
        .map(Number);
      return kids.find((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('bootstrap')) ?? child.pid!;
    };
    await fn(ns, enginePid);
  });
}

/** One raw exchange through a Python socket: sends `data` (hex), reads until close or `waitS`; prints what came back. */
function raw(ns: TapNamespace, hexData: string, waitS = 5): string {
  const py = `import socket,sys,time
s=socket.create_connection(("10.0.0.2",80),timeout=${waitS})
s.sendall(bytes.fromhex(sys.argv[1]))
out=b""
try:
  while True:
    d=s.recv(65536)
    if not d: break
    out+=d
except Exception: pass
sys.stdout.write(out.decode("latin1"))`;
  return ns.run(['python3', '-c', py, hexData], { timeoutMs: (waitS + 5) * 1000 }).stdout;
}
const hex = (s: string): string => Buffer.from(s, 'latin1').toString('hex');

/**
 * What `openssl s_client` negotiated, judged by a completed handshake: its
 * "New, <protocol>, Cipher is <suite>" line with a real suite, the session's
 * "Cipher : <suite>" the same (not 0000), and exit status 0. After a failed
 * handshake OpenSSL 3 still prints "Protocol : TLSv1.2" (the version it
 * offered) beside "Cipher is (NONE)", so the Protocol line alone proves
 * nothing.
 */
/**
 * A completed handshake, proven by use: s_client names the protocol and a real cipher ("New, TLSv1.3,
 * Cipher is TLS_AES_256_GCM_SHA384"; a failed handshake prints "Cipher is (NONE)") and an HTTP request
 * sent through it gets its response. (The session block with its "Cipher :" line comes only with a TLS 1.3
 * ticket, which s_client may not wait for.)
 */
function handshake(r: { status: number | null; stdout: string }): { protocol: string; ok: boolean } | undefined {
  const m = /^New, (TLSv1\.[0-3]), Cipher is ([A-Z0-9_-]+)$/m.exec(r.stdout);
  if (!m) return undefined;
  return { protocol: m[1]!, ok: r.status === 0 && /^HTTP\/1\.1 200 /m.test(r.stdout) };
}
const S_CLIENT = (version: string): string =>
  `printf 'GET / HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' | openssl s_client -connect 10.0.0.2:443 ${version} -servername localhost -ign_eof 2>&1`;

test(`website (${target}): every htdocs file byte-exact over HTTP and HTTPS; TLS 1.3; hostile clients answered, others served`, {
  skip,
}, async () => {
  await withWebsite(['--header-timeout=2'], async (ns) => {
    for (const f of files(HTDOCS)) {
      const path = '/' + relative(HTDOCS, f);
      const want = sha(readFileSync(f));
      for (const url of [`http://10.0.0.2${path}`, `https://10.0.0.2${path}`]) {
        const r = ns.run(['curl', '-sSk', '--max-time', '20', url]);
        assert.equal(r.status, 0, `${url}: ${r.stderr}`);
        assert.equal(sha(r.out), want, `${url} byte-exact`);
      }
    }
    const gz = ns.run(['sh', '-c', 'curl -sS --compressed -D - -o /dev/null http://10.0.0.2/index.html']);
    assert.match(gz.stdout, /content-encoding: (br|gzip)/i, 'precompressed variant served to a client that accepts it');
    const tls = ns.run(['sh', '-c', S_CLIENT('-tls1_3')], { timeoutMs: 20_000 });
    assert.deepEqual(handshake(tls), { protocol: 'TLSv1.3', ok: true }, tls.stdout.slice(-800));
    const tls12 = ns.run(['sh', '-c', S_CLIENT('-tls1_2')], { timeoutMs: 20_000 });
    assert.deepEqual(handshake(tls12), { protocol: 'TLSv1.2', ok: true }, `TLS 1.2 is offered too: ${tls12.stdout.slice(-800)}`);

    // Hostile requests: each gets its status and a close.
    assert.match(raw(ns, hex('BLAH\r\n\r\n')), /^HTTP\/1\.1 400 /);
    // Bytes that cannot begin a request line get their 400 at once, not the 408 of the 2 s head deadline: a TLS
    // ClientHello's first bytes sent to the plain-HTTP port, with no head end ever coming; and a Host with a space.
    assert.match(raw(ns, '160301020001000001fc0303'), /^HTTP\/1\.1 400 [\s\S]*malformed request line/);
    assert.match(raw(ns, hex('GET / HTTP/1.1\r\nHost: a b\r\n\r\n')), /^HTTP\/1\.1 400 [\s\S]*Host is not a valid host/);
    assert.match(raw(ns, hex(`GET / HTTP/1.1\r\nHost: a\r\nX: ${'y'.repeat(40_000)}\r\n\r\n`)), /^HTTP\/1\.1 431 /);
    assert.match(raw(ns, hex(`GET / HTTP/1.1\r\nHost: a\r\n${'X-N: 1\r\n'.repeat(300)}\r\n`)), /^HTTP\/1\.1 431 /);
    assert.match(raw(ns, hex(`GET /${'a'.repeat(10_000)} HTTP/1.1\r\nHost: a\r\n\r\n`)), /^HTTP\/1\.1 414 /);
    assert.match(raw(ns, hex('GET / HTTP/1.1\r\nHost: a\r\n'), 8), /^HTTP\/1\.1 408 /, 'an unfinished head times out');

    // A bounded slowloris: 60 connections trickle header bytes for 6 s; a normal client is served throughout.
    // The head deadline runs from a request's first byte (2 s here, swept every second), so the server itself must
    // answer each one (408, or a close: EOF or a reset) within LORIS_LIMIT_S of its first byte, while it is still
    // trickling; a client-side timeout or a late answer (a server whose deadline moves with each trickled byte
    // answers about 2 s after the trickle stops) is not a close.
    const LORIS_LIMIT_S = 4.5;
    const loris = ns.start([
      'python3',
      '-c',
      `import socket,time,select
LIMIT=${LORIS_LIMIT_S}
socks=[]; start={}; fate={}
for i in range(60):
  s=socket.create_connection(("10.0.0.2",80),timeout=10); s.sendall(b"GET / HTTP/1.1\\r\\nHost: a\\r\\n"); socks.append(s); start[s]=time.monotonic()
def watch(until):
  while time.monotonic()<until:
    live=[s for s in socks if s not in fate]
    if not live: time.sleep(max(0,until-time.monotonic())); return
    r,_,_=select.select(live,[],[],max(0,until-time.monotonic()))
    for s in r:
      try:
        d=s.recv(100); how="408" if d.startswith(b"HTTP/1.1 408") else ("eof" if d==b"" else "other")
      except ConnectionResetError: how="reset"
      except OSError: how="error"
      fate[s]=(how,time.monotonic()-start[s])
t0=time.monotonic()
for k in range(12):
  watch(t0+0.5*(k+1))
  for s in socks:
    if s in fate: continue
    try: s.sendall(b"X-a: b\\r\\n")
    except OSError: pass
watch(time.monotonic()+3)
ontime=[f for f in fate.values() if f[0] in ("408","eof","reset") and f[1]<=LIMIT]
kinds={}
for f in fate.values(): kinds[f[0]]=kinds.get(f[0],0)+1
latest=max([f[1] for f in fate.values()] or [0])
print("closed", len(ontime), "answered", len(fate), "never", len(socks)-len(fate), "kinds", sorted(kinds.items()), "latest %.2f s" % latest, flush=True)`,
    ]);
    const lorisDone = new Promise((r) => loris.on('exit', r));
    let lorisOut = '';
    loris.stdout!.on('data', (d: Buffer) => {
      lorisOut += d.toString();
    });
    const t0 = Date.now();
    let served = 0;
    while (Date.now() - t0 < 5000) {
      const r = ns.run(['curl', '-sS', '--max-time', '5', '-o', '/dev/null', '-w', '%{http_code}', 'http://10.0.0.2/hello.txt']);
      if (r.stdout === '200') served++;
      await new Promise((r) => setTimeout(r, 250));
    }
    await lorisDone;
    process.stdout.write(`# slowloris: ${lorisOut}`);
    assert.ok(served >= 5, `served others during the slowloris: ${served}`);
    assert.match(
      lorisOut,
      /^closed 60 /,
      `every slow connection got 408 or a close from the server within ${LORIS_LIMIT_S} s of its first byte: ${lorisOut}`,
    );
  });
});

test('website: ranges and conditional requests behave as nginx does on the same files', {
  skip: skip || netnsSkipReason(['nginx']),
}, async () => {
  // nginx's workers run as an unprivileged account, which may not be able to enter the checkout (a clone in a
  // mode-700 home): they serve a world-readable copy of htdocs, same bytes and modification times, from a
  // mode-755 directory.
  const dir = readableTempDir('fata-nginx-');
  try {
    readableCopy(HTDOCS, join(dir, 'htdocs'));
    writeFileSync(
      join(dir, 'nginx.conf'),
      `daemon off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 64; }
http { access_log off; types { text/html html; text/plain txt; text/css css; image/svg+xml svg; }
  server { listen 127.0.0.1:8081; root ${join(dir, 'htdocs')}; etag on; } }`,
    );
    await withWebsite([], async (ns) => {
      ns.start(['nginx', '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')]);
      await ns.listening(8081);
      const lm = (base: string): string => /last-modified: (.*)\r/i.exec(ns.run(['curl', '-sSI', `${base}/index.html`]).stdout)?.[1] ?? '';
      const etag = (base: string): string => /etag: (.*)\r/i.exec(ns.run(['curl', '-sSI', `${base}/index.html`]).stdout)?.[1] ?? '';
      const ask = (base: string, headers: string[], path = '/index.html'): string => {
        const r = ns.run(['curl', '-sS', '-o', '-', '-w', '\n%{http_code}', ...headers.flatMap((h) => ['-H', h]), `${base}${path}`]);
        return r.stdout;
      };
      const cases: ((base: string) => string[])[] = [
        () => ['Range: bytes=0-9'],
        () => ['Range: bytes=-7'],
        () => ['Range: bytes=100-'],
        () => ['Range: bytes=999999-'],
        (b) => [`If-None-Match: ${etag(b)}`],
        () => ['If-None-Match: "nope"'],
        (b) => [`If-Modified-Since: ${lm(b)}`],
        () => ['If-Modified-Since: Thu, 01 Jan 1970 00:00:01 GMT'],
        (b) => ['Range: bytes=0-4', `If-Range: ${etag(b)}`],
        () => ['Range: bytes=0-4', 'If-Range: "stale"'],
      ];
      for (const c of cases) {
        const ours = ask('http://10.0.0.2', c('http://10.0.0.2'));
        const theirs = ask('http://127.0.0.1:8081', c('http://127.0.0.1:8081'));
        const status = (s: string): string => s.slice(s.lastIndexOf('\n') + 1);
        assert.equal(status(ours), status(theirs), `${c('x').join(' | ')}: status`);
        if (['200', '206'].includes(status(theirs))) assert.equal(ours, theirs, `${c('x').join(' | ')}: body`);
      }
      assert.equal(status404(ask('http://10.0.0.2', [], '/nowhere')), status404(ask('http://127.0.0.1:8081', [], '/nowhere')));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
const status404 = (s: string): string => s.slice(s.lastIndexOf('\n') + 1);

test('website: 30 s of wrk with 100 connections: no errors, and RSS returns to within 10% of its level before', {
  skip: skip || netnsSkipReason(['wrk']),
}, async () => {
  await withWebsite(['--access-log=false'], async (ns, pid) => {
    const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid()}/status`, 'utf8'))![1]);
    if (target === 'spt') assert.match(readFileSync(`/proc/${pid()}/cmdline`, 'utf8'), /bootstrap/, 'measuring the sealed engine');
    // Warm up (JIT, pools, TLS contexts) so "before" is the steady state, not the cold start.
    ns.run(['wrk', '-t2', '-c100', '-d10s', 'http://10.0.0.2/index.html'], { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 2000));
    const before = rss();
    const r = ns.run(['wrk', '-t2', '-c100', '-d30s', '--timeout', '5s', 'http://10.0.0.2/index.html'], { timeoutMs: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /Socket errors|Non-2xx/, r.stdout);
    const reqs = Number(/(\d+) requests in/.exec(r.stdout)?.[1] ?? 0);
    assert.ok(reqs > 1000, r.stdout);
    await new Promise((r) => setTimeout(r, 3000));
    const after = rss();
    process.stdout.write(`# wrk 30 s, 100 connections: ${reqs} requests; RSS ${before} kB before, ${after} kB after\n`);
    assert.ok(after <= before * 1.1, `RSS after ${after} kB vs before ${before} kB`);
  });
});
