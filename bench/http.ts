/**
 * The website unikernel against nginx and a plain Node `http` server, in
 * the same run, same client (wrk), same files: requests/s and p99 latency
 * for a 1 KB and a 1 MB file, keep-alive and one request per connection,
 * HTTP and HTTPS, as ratios to nginx. Then the Express, Fastify, Hono and
 * Koa apps of examples/frameworks, each sealed in turn, keep-alive on a
 * small text body, as ratios to node:http in the same unikernel (the
 * website's node mode).
 *
 * Topology (all in namespaces made here and removed at exit):
 *   client ns: wrk; tap0 10.0.0.1 ⇄ Fata's website sealed on spt at 10.0.0.2;
 *              veth 10.0.1.1 ⇄ server ns 10.0.1.2: nginx (1 worker, :80/:443)
 *              and Node's http/https (:8080/:8443) on the kernel's stack;
 *              tap1 10.0.2.1 ⇄ the website with node:http at 10.0.2.2;
 *              tap2 10.0.3.1 ⇄ each framework app at 10.0.3.2.
 * Access logs are off on all three; every server holds the files in memory
 * or page cache; TLS uses the same certificate and key everywhere. Each
 * measured run follows a discarded 1 s run of the same load on the same
 * server and URL, so that every server is measured warm: a cold Fata
 * (just booted, its code not yet compiled by V8's optimizing tiers) had a
 * p99 of 3.4 ms in its first 4 s round against 0.8–0.9 ms in later ones
 * (`node bench/ab.ts HEAD 6 4`), which the p99 of one cold run reports.
 *
 *   node bench/http.ts [SECONDS]   (per run, default 8; 24 runs)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { emit, has, needRoot, netns, sh, sleep, tapIn, veth } from './lib.ts';

needRoot('http');
for (const c of ['wrk', 'nginx']) {
  if (!has(c)) {
    process.stdout.write(`SKIP http: needs '${c}' (apt-get install wrk nginx-light)\n`);
    process.exit(0);
  }
}
const SECONDS = Number(process.argv[2] ?? 8);
const ROOT = new URL('..', import.meta.url).pathname;
const FATA = join(ROOT, 'bin/fata.mjs');
const say = (s: string): void => {
  process.stdout.write(s + '\n');
};

// A copy of examples/website at the same depth, with the two benchmark files in htdocs.
mkdirSync(join(ROOT, 'out'), { recursive: true });
const site = mkdtempSync(join(ROOT, 'out', 'bench-website-'));
chmodSync(site, 0o755); // nginx's workers run as www-data and must read the files.
const children: ChildProcess[] = [];
process.on('exit', () => {
  // The whole process group: a server that forks (nginx's workers) must not outlive its master.
  for (const c of children) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  rmSync(site, { recursive: true, force: true });
});
cpSync(join(ROOT, 'examples/website'), site, { recursive: true, filter: (p) => !p.includes('/dist') && !p.includes('/.fata') });
const htdocs = join(site, 'htdocs');
writeFileSync(join(htdocs, '1k.html'), Buffer.from('<p>' + 'x'.repeat(1024 - 8) + '</p>\n\n').subarray(0, 1024));
writeFileSync(join(htdocs, '1m.bin'), Buffer.alloc(1 << 20, 7));
say('http: building the website image (spt)');
sh([process.execPath, FATA, 'build', '-t', 'spt', site]);
const cert = join(site, '.fata/dev-tls/cert.pem'),
  key = join(site, '.fata/dev-tls/key.pem');

const C = netns(`fata-bh-c-${process.pid}`),
  S = netns(`fata-bh-s-${process.pid}`);
tapIn(C, '10.0.0.1/24');
tapIn(C, '10.0.2.1/24', 'tap1');
tapIn(C, '10.0.3.1/24', 'tap2');
veth(C, '10.0.1.1/24', S, '10.0.1.2/24');
const inNs = (ns: string, argv: string[]): ChildProcess => {
  const c = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: 'ignore', detached: true });
  children.push(c);
  return c;
};

inNs(C, [
  process.execPath,
  FATA,
  'run',
  '--net:service=tap0',
  join(site, 'dist/website.fata'),
  '--ipv4=10.0.0.2/24',
  '--http-port=80',
  '--https-port=443',
  '--access-log=false',
  '-l',
  'warn',
]);
// The same image with node:http (over the TCP Duplex adapter) in place of src/http's server: the design choice, measured.
inNs(C, [
  process.execPath,
  FATA,
  'run',
  '--net:service=tap1',
  join(site, 'dist/website.fata'),
  '--ipv4=10.0.2.2/24',
  '--http-port=80',
  '--https-port=0',
  '--access-log=false',
  '--http-server=node',
  '-l',
  'warn',
]);
const conf = join(site, 'nginx.conf');
writeFileSync(
  conf,
  `daemon off; worker_processes 1; pid ${site}/nginx.pid; error_log ${site}/nginx-error.log;
events { worker_connections 4096; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000; keepalive_timeout 60s;
  types { text/html html; application/octet-stream bin; }
  server { listen 10.0.1.2:80; listen 10.0.1.2:443 ssl; ssl_certificate ${cert}; ssl_certificate_key ${key};
    ssl_protocols TLSv1.2 TLSv1.3; root ${htdocs}; } }`,
);
inNs(S, ['nginx', '-c', conf, '-e', join(site, 'nginx-error.log')]);
// Plain Node: the files in memory, node:http and node:https on the kernel's TCP.
const nodeServer = `const fs=require('fs'),http=require('http'),https=require('https');
const files=new Map(); for (const f of ['1k.html','1m.bin']) files.set('/'+f, fs.readFileSync(${JSON.stringify(htdocs)}+'/'+f));
const h=(q,s)=>{const b=files.get(q.url); if(!b){s.writeHead(404);s.end();return;} s.writeHead(200,{'Content-Length':b.length,'Content-Type':q.url.endsWith('.html')?'text/html':'application/octet-stream'}); s.end(b);};
http.createServer({keepAliveTimeout:60000},h).listen(8080,'10.0.1.2');
https.createServer({cert:fs.readFileSync(${JSON.stringify(cert)}),key:fs.readFileSync(${JSON.stringify(key)}),keepAliveTimeout:60000},h).listen(8443,'10.0.1.2');`;
inNs(S, [process.execPath, '-e', nodeServer]);
await sleep(3000);

const UNIT: Record<string, number> = { us: 1e-3, ms: 1, s: 1000 };
/** Seconds of the discarded run before each measured one. */
const WARMUP = 1;
function wrk(url: string, close: boolean, seconds = SECONDS): { rps: number; p99: number; errors: number } {
  const out = sh(
    [
      'ip',
      'netns',
      'exec',
      C,
      'wrk',
      '-t1',
      '-c50',
      `-d${seconds}s`,
      '--timeout',
      '5s',
      '--latency',
      ...(close ? ['-H', 'Connection: close'] : []),
      url,
    ],
    { timeoutMs: (seconds + 30) * 1000 },
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const m = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99 = m ? Number(m[1]) * UNIT[m[2]!]! : NaN;
  const e = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = (e ? e.slice(1).reduce((a, x) => a + Number(x), 0) : 0) + Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return { rps, p99, errors };
}

const servers = {
  fata: { http: 'http://10.0.0.2', https: 'https://10.0.0.2' },
  nginx: { http: 'http://10.0.1.2', https: 'https://10.0.1.2' },
  node: { http: 'http://10.0.1.2:8080', https: 'https://10.0.1.2:8443' },
};
say(`http: wrk -t1 -c50 -d${SECONDS}s against each server (Fata on spt, nginx 1 worker, Node http), engine ${process.version}`);
for (const proto of ['http', 'https'] as const) {
  for (const [file, label] of [
    ['/1k.html', '1 KB'],
    ['/1m.bin', '1 MB'],
  ] as const) {
    for (const close of [false, true]) {
      const mode = close ? 'new connection each' : 'keep-alive';
      const got: Record<string, { rps: number; p99: number; errors: number }> = {};
      for (const [name, urls] of Object.entries(servers)) {
        wrk(urls[proto] + file, close, WARMUP);
        got[name] = wrk(urls[proto] + file, close);
      }
      const f = got.fata!,
        n = got.nginx!,
        p = got.node!;
      if (proto === 'http' && label === '1 KB') {
        wrk(`http://10.0.2.2${file}`, close, WARMUP);
        const viaNode = wrk(`http://10.0.2.2${file}`, close);
        say(
          `  ${proto.padEnd(5)} ${label} ${mode.padEnd(19)} the same unikernel with node:http over the Duplex adapter: ${viaNode.rps.toFixed(0)} req/s p99 ${viaNode.p99.toFixed(2)} ms (src/http: ${f.rps.toFixed(0)})`,
        );
        emit({
          bench: 'http',
          metric: `${label} ${mode} HTTP req/s, src/http vs node:http in the unikernel`,
          value: f.rps,
          unit: 'req/s',
          reference: viaNode.rps,
          referenceName: 'node:http over TcpDuplex',
        });
      }
      say(
        `  ${proto.padEnd(5)} ${label} ${mode.padEnd(19)} fata ${f.rps.toFixed(0).padStart(7)} req/s p99 ${f.p99.toFixed(2)} ms` +
          ` | nginx ${n.rps.toFixed(0).padStart(7)} p99 ${n.p99.toFixed(2)} | node ${p.rps.toFixed(0).padStart(7)} p99 ${p.p99.toFixed(2)}` +
          ` | fata/nginx ${(f.rps / n.rps).toFixed(2)}×${f.errors + n.errors + p.errors ? `  (errors: fata ${f.errors}, nginx ${n.errors}, node ${p.errors})` : ''}`,
      );
      const metric = `${label} ${mode} ${proto.toUpperCase()}`;
      emit({
        bench: 'http',
        metric: `${metric} req/s`,
        value: f.rps,
        unit: 'req/s',
        reference: n.rps,
        referenceName: 'nginx (1 worker)',
        floor: proto === 'http' && label === '1 KB' && !close ? 0.5 : undefined,
      });
      emit({
        bench: 'http',
        metric: `${metric} p99`,
        value: f.p99,
        unit: 'ms',
        reference: n.p99,
        referenceName: 'nginx (1 worker)',
        lowerIsBetter: true,
      });
      emit({
        bench: 'http',
        metric: `${metric} req/s, plain Node http`,
        value: p.rps,
        unit: 'req/s',
        reference: n.rps,
        referenceName: 'nginx (1 worker)',
      });
    }
  }
}

/** Resolves once `url` answers 200 from inside the client namespace (or gives up after 60 s). */
async function answering(url: string): Promise<boolean> {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(100)) {
    const code = sh(['ip', 'netns', 'exec', C, 'curl', '-s', '-o', '/dev/null', '-m', '2', '-w', '%{http_code}', url], { allowFail: true });
    if (code.trim() === '200') return true;
  }
  return false;
}

/** Each framework app sealed on tap2 in turn, against node:http in the unikernel (the website's node mode, on tap1). */
async function frameworks(): Promise<void> {
  const seconds = Math.min(SECONDS, 5);
  const ref = wrk('http://10.0.2.2/hello.txt', false, seconds);
  say(`http: web frameworks in the unikernel (spt), keep-alive, a small text body, wrk -c50 ${seconds}s each`);
  say(
    `  node:http over TcpDuplex (the website's node mode, /hello.txt) ${ref.rps.toFixed(0).padStart(7)} req/s p99 ${ref.p99.toFixed(2)} ms`,
  );
  for (const fw of ['express', 'fastify', 'hono', 'koa']) {
    sh([process.execPath, FATA, 'build', '-t', 'spt', join(ROOT, 'examples/frameworks', fw)]);
    const image = join(ROOT, `examples/frameworks/${fw}/dist/${fw}.fata`);
    const c = inNs(C, [process.execPath, FATA, 'run', '--net:service=tap2', image, '--ipv4=10.0.3.2/24', '--port=80', '-l', 'warn']);
    const r = (await answering('http://10.0.3.2/')) ? wrk('http://10.0.3.2/', false, seconds) : { rps: 0, p99: NaN, errors: 1 };
    say(
      `  ${fw.padEnd(61)} ${r.rps.toFixed(0).padStart(7)} req/s p99 ${r.p99.toFixed(2)} ms | ${(r.rps / ref.rps).toFixed(2)}× node:http${r.errors ? `  (errors: ${r.errors})` : ''}`,
    );
    emit({
      bench: 'http',
      metric: `${fw} keep-alive HTTP req/s in the unikernel`,
      value: r.rps,
      unit: 'req/s',
      reference: ref.rps,
      referenceName: 'node:http over TcpDuplex in the unikernel',
    });
    // One at a time on tap2: this one goes (its tender forwards SIGTERM to the sealed engine) before the next starts.
    const gone = new Promise((resolve) => c.once('exit', resolve));
    process.kill(-c.pid!, 'SIGTERM');
    await Promise.race([gone, sleep(5000)]);
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
await frameworks();
process.exit(0); // The servers' child handles would keep the loop alive; exit runs the cleanup.
