/**
 * examples/website --remote: content from a real git server in a namespace
 * this test makes (Debian's git http-backend behind nginx through
 * fcgiwrap), cloned at boot by the sealed unikernel over Fata's TCP. A push
 * and the pull hook change what the next GET returns; a download running
 * during the swap completes with the old bytes; a wrong secret is refused;
 * a branch over --max-content and a remote that is gone are refused while
 * the old tree keeps being served.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { netnsSkipReason, waitForLine, withTapNamespace, type TapNamespace } from './netns.ts';
import { readableTempDir } from './unprivileged.ts';
import { commit, gitRequests, gitServer, gitServerSkipReason, initRepo } from './git-server.ts';

const FATA = new URL('../bin/fata.mjs', import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;
const target = process.arch === 'x64' ? 'spt' : 'node';
const skip = gitServerSkipReason();
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const SECRET = 'hook-secret-for-the-test';

/** A request from inside the namespace: status, head and body (`-D -` writes the head before the body). */
function curl(ns: TapNamespace, args: string[]): { status: number; head: string; body: Buffer } {
  const r = ns.run(['curl', '-sS', '--max-time', '30', '-D', '-', ...args], { timeoutMs: 40_000 });
  const end = r.out.indexOf('\r\n\r\n');
  const head = end < 0 ? r.out.toString('latin1') : r.out.subarray(0, end).toString('latin1');
  return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0), head, body: end < 0 ? Buffer.alloc(0) : r.out.subarray(end + 4) };
}
const pull = (ns: TapNamespace, headers: string[]): { status: number; head: string; body: Buffer } =>
  curl(ns, ['-X', 'POST', ...headers.flatMap((h) => ['-H', h]), 'http://10.0.0.2/.well-known/fata/pull']);

/** The website sealed on the namespace's tap, content from the git server; its console, and a wait for a line of it. */
async function startWebsite(
  ns: TapNamespace,
  remote: string[],
): Promise<{ console: () => string; logged: (re: RegExp) => Promise<void>; child: ChildProcess }> {
  const child = ns.start([
    process.execPath,
    FATA,
    'run',
    `--net:service=${ns.tap}`,
    join(ROOT, 'examples/website/dist/website.fata'),
    '--ipv4=10.0.0.2/24',
    '--http-port=80',
    '--https-port=443',
    ...remote,
  ]);
  let text = '';
  child.stderr!.on('data', (d: Buffer) => {
    text += d.toString();
  });
  child.stdout!.on('data', (d: Buffer) => {
    text += d.toString();
  });
  await waitForLine(child, /event=serving/, 60_000);
  // The console is read between the test's synchronous requests: a line is waited for, not expected at once.
  const logged = async (re: RegExp): Promise<void> => {
    for (let i = 0; i < 200 && !re.test(text); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(text, re);
  };
  return { console: () => text, logged, child };
}

/** What the website does with htdocs/, on the cloned tree: bytes, Last-Modified, ETag, 304, a range, brotli, HTTPS. */
function checkServes(ns: TapNamespace, v1: { 'index.html': string; 'big.bin': Buffer }): void {
  const index = curl(ns, ['http://10.0.0.2/index.html']);
  assert.equal(index.status, 200, index.head);
  assert.equal(index.body.toString(), v1['index.html']);
  assert.match(index.head, /last-modified: Mon, 06 May 2024 07:08:09 GMT/i, 'Last-Modified is the commit date');
  const etag = /etag: (".*")/i.exec(index.head)?.[1];
  assert.ok(etag, index.head);
  assert.equal(curl(ns, ['-H', `If-None-Match: ${etag}`, 'http://10.0.0.2/index.html']).status, 304);
  const part = curl(ns, ['-H', 'Range: bytes=100-199', 'http://10.0.0.2/big.bin']);
  assert.equal(part.status, 206);
  assert.deepEqual(part.body, v1['big.bin'].subarray(100, 200));
  const br = curl(ns, ['-H', 'Accept-Encoding: br', '-o', '/dev/null', 'http://10.0.0.2/index.html']);
  assert.match(br.head, /content-encoding: br/i, 'a brotli variant made at load');
  assert.equal(sha(curl(ns, ['https://10.0.0.2/big.bin', '-k']).body), sha(v1['big.bin']), 'over HTTPS too');
}

/** A download of big.bin that reads its first 64 KB, then waits for `go` to exist before reading the rest into `out`. */
async function slowDownload(ns: TapNamespace, go: string, out: string): Promise<{ running: () => boolean; done: Promise<number | null> }> {
  const slow = ns.start([
    'python3',
    '-c',
    `import socket,os,time,sys
s=socket.create_connection(("10.0.0.2",80),timeout=60)
s.sendall(b"GET /big.bin HTTP/1.1\\r\\nHost: a\\r\\nConnection: close\\r\\n\\r\\n")
out=s.recv(65536)
print("started",flush=True)
while not os.path.exists(${JSON.stringify(go)}): time.sleep(0.05)
while True:
  d=s.recv(1<<20)
  if not d: break
  out+=d
open(${JSON.stringify(out)},"wb").write(out[out.index(b"\\r\\n\\r\\n")+4:])`,
  ]);
  const done = new Promise<number | null>((r) => slow.on('exit', r));
  await waitForLine(slow, /started/, 20_000);
  return { running: () => slow.exitCode === null, done };
}

const signedPull = (ns: TapNamespace, key: string, body: string): { status: number; body: Buffer } =>
  curl(ns, [
    '-X',
    'POST',
    '-H',
    `X-Hub-Signature-256: sha256=${createHmac('sha256', key).update(body).digest('hex')}`,
    '--data-binary',
    body,
    'http://10.0.0.2/.well-known/fata/pull',
  ]);

/**
 * A signed webhook pulls (the branch has not moved: one ref advertisement, no pack); a branch over --max-content and
 * a remote that is gone are refused, the old tree served.
 */
async function checkRefusals(
  ns: TapNamespace,
  dir: string,
  work: string,
  repos: string,
  served: string,
  servedIndex: string,
  logged: (re: RegExp) => Promise<void>,
) {
  const body = '{"ref":"refs/heads/main"}';
  const before = gitRequests(dir).length;
  assert.equal(signedPull(ns, SECRET, body).body.toString(), `unchanged at ${served}\n`, 'a body signed as forges sign webhooks pulls');
  const asked = gitRequests(dir).slice(before);
  assert.deepEqual(
    asked.map((r) => `${r.method} ${r.path} ${r.status}`),
    ['GET /git/site.git/info/refs 200'],
    'an unchanged branch is not fetched again',
  );
  await logged(new RegExp(`event=content-unchanged commit=${served} `));
  assert.equal(signedPull(ns, 'other', body).status, 401, 'a body signed with another key is refused');

  commit(work, { 'huge.bin': randomBytes(9 << 20) }, '2025-02-03T04:05:06Z');
  const over = pull(ns, [`Authorization: Bearer ${SECRET}`]);
  assert.equal(over.status, 502, over.body.toString());
  assert.match(over.body.toString(), new RegExp(`still serving ${served}: .*more than --max-content \\(8 MB\\)`));
  assert.equal(curl(ns, ['http://10.0.0.2/index.html']).body.toString(), servedIndex);
  assert.equal(curl(ns, ['http://10.0.0.2/huge.bin']).status, 404, 'nothing of the refused commit is served');

  renameSync(join(repos, 'site.git'), join(repos, 'gone.git'));
  const gone = pull(ns, [`Authorization: Bearer ${SECRET}`]);
  assert.equal(gone.status, 502, gone.body.toString());
  assert.equal(curl(ns, ['http://10.0.0.2/index.html']).body.toString(), servedIndex);
  await logged(/level=warn .*event=pull-failed reason=.*max-content/);
  await logged(/level=warn .*event=pull-failed reason=.*cannot fetch http:\/\/10\.0\.0\.1:8088\/git\/site\.git#main/);
}

/** A bare repository under DIR/repos/site.git with one commit pushed from DIR/work; the website built for the target. */
function makeRepo(dir: string): { repos: string; work: string; v1: { 'index.html': string; 'big.bin': Buffer }; c1: string } {
  const { repos, work } = initRepo(dir, 'site');
  const v1 = {
    'index.html': `<!doctype html><title>one</title><p>${'first version of the site. '.repeat(40)}</p>\n`,
    'big.bin': randomBytes(3 << 20),
  };
  const c1 = commit(work, v1, '2024-05-06T07:08:09Z');
  writeFileSync(join(dir, 'secret'), `${SECRET}\n`);
  const built = spawnSync(
    process.execPath,
    [FATA, 'build', '-t', target, ...(target === 'node' ? ['--net=direct'] : []), 'examples/website'],
    { cwd: ROOT, encoding: 'utf8' },
  );
  assert.equal(built.status, 0, built.stderr);
  return { repos, work, v1, c1 };
}

test(`website --remote (${target}): cloned at boot, pulled on the hook, swapped whole`, { skip, timeout: 240_000 }, async () => {
  const dir = readableTempDir('fata-git-');
  try {
    const { repos, work, v1, c1 } = makeRepo(dir);
    await withTapNamespace('10.0.0.1/24', async (ns) => {
      await gitServer(ns, dir, repos);
      const site = await startWebsite(ns, [
        '--remote=http://10.0.0.1:8088/git/site.git#main',
        `--hook-secret=${join(dir, 'secret')}`,
        '--max-content=8',
      ]);
      assert.match(site.console(), new RegExp(`event=content commit=${c1} files=2 `));
      checkServes(ns, v1);

      const go = join(dir, 'go');
      const slowOut = join(dir, 'slow.bin');
      const slow = await slowDownload(ns, go, slowOut);
      const v2 = { 'index.html': '<!doctype html><title>two</title><p>second version</p>\n', 'big.bin': randomBytes(3 << 20) };
      const c2 = commit(work, v2, '2025-01-02T03:04:05Z');
      assert.equal(pull(ns, ['Authorization: Bearer not-the-secret']).status, 401, 'a wrong secret is refused');
      assert.equal(pull(ns, []).status, 401, 'no secret is refused');
      assert.equal(curl(ns, ['http://10.0.0.2/index.html']).body.toString(), v1['index.html'], 'refused hooks change nothing');

      const ok = pull(ns, [`Authorization: Bearer ${SECRET}`]);
      assert.equal(ok.status, 200, ok.body.toString());
      assert.equal(ok.body.toString(), `updated to ${c2}\n`);
      assert.ok(slow.running(), 'the slow download is still running after the swap');
      writeFileSync(go, '');
      assert.equal(curl(ns, ['http://10.0.0.2/index.html']).body.toString(), v2['index.html'], 'the next GET has the new bytes');
      assert.equal(sha(curl(ns, ['http://10.0.0.2/big.bin']).body), sha(v2['big.bin']));
      assert.equal(await slow.done, 0);
      assert.equal(sha(readFileSync(slowOut)), sha(v1['big.bin']), 'the download started before the swap has the old bytes');

      // Only index.html changes: the pull fetches into the repository it kept and asks for what is new, not the 3 MB.
      const index3 = '<!doctype html><title>three</title><p>third version</p>\n';
      const c3 = commit(work, { 'index.html': index3 }, '2025-01-03T03:04:05Z');
      const packs = (): number[] =>
        gitRequests(dir)
          .filter((r) => r.method === 'POST' && r.path.endsWith('/git-upload-pack'))
          .map((r) => r.bytes);
      const before = packs().length;
      assert.equal(pull(ns, [`Authorization: Bearer ${SECRET}`]).body.toString(), `updated to ${c3}\n`);
      const sent = packs().slice(before);
      assert.equal(sent.length, 1, 'one fetch');
      assert.ok(sent[0]! < 64 * 1024, `the new objects only: ${sent[0]} bytes (a whole clone of the branch is over 3 MB)`);
      assert.equal(curl(ns, ['http://10.0.0.2/index.html']).body.toString(), index3);
      assert.equal(sha(curl(ns, ['http://10.0.0.2/big.bin']).body), sha(v2['big.bin']), 'the unchanged file from the kept objects');

      await checkRefusals(ns, dir, work, repos, c3, index3, site.logged);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(`website --remote=https://… (${target}): the server's certificate checked against --remote-ca, refused without it`, {
  skip: skip || netnsSkipReason(['openssl']),
  timeout: 240_000,
}, async () => {
  const dir = readableTempDir('fata-git-');
  try {
    const { repos, v1, c1 } = makeRepo(dir);
    await withTapNamespace('10.0.0.1/24', async (ns) => {
      await gitServer(ns, dir, repos);
      const remote = '--remote=https://10.0.0.1:8443/git/site.git';
      const site = await startWebsite(ns, [remote, `--remote-ca=${join(dir, 'git-cert.pem')}`]);
      assert.match(site.console(), new RegExp(`event=content commit=${c1} files=2 `));
      assert.equal(curl(ns, ['http://10.0.0.2/index.html']).body.toString(), v1['index.html']);
      const exited = once(site.child, 'exit');
      site.child.kill('SIGTERM');
      await exited;

      // Without the CA, the clone must fail on the certificate and the website must not start serving.
      const bare = ns.start([
        process.execPath,
        FATA,
        'run',
        `--net:service=${ns.tap}`,
        join(ROOT, 'examples/website/dist/website.fata'),
        '--ipv4=10.0.0.2/24',
        remote,
      ]);
      let text = '';
      for (const s of [bare.stdout!, bare.stderr!]) s.on('data', (d: Buffer) => (text += d.toString()));
      const [code] = (await once(bare, 'exit')) as [number | null];
      assert.notEqual(code, 0, text);
      assert.doesNotMatch(text, /event=serving/);
      assert.match(text, /cannot fetch https:\/\/10\.0\.0\.1:8443\/git\/site\.git: .*(self-signed|certificate)/i, text);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
