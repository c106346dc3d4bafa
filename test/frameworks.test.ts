/**
 * npm's web frameworks in sealed unikernels: the Express, Fastify, Hono and
 * Koa apps of examples/frameworks, each built for spt (node --net=direct
 * where spt cannot run), run sealed on a tap inside a namespace this test
 * makes, serving the kernel's curl over Fata's TCP through node:http and
 * the TCP Duplex adapter: status, body and a header of each route, and a
 * 404 from each framework's own router.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { netnsSkipReason, stopAll, waitForLine, withTapNamespace, type TapNamespace } from './netns.ts';
import { descendants } from './procs.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const BIN = join(ROOT, 'bin', 'fata');
const FRAMEWORKS = ['express', 'fastify', 'hono', 'koa'] as const;
const skip = netnsSkipReason(['curl']);
const target = process.arch === 'x64' ? 'spt' : 'node';

/** One curl request from inside the namespace: status, headers (names in lower case) and body. */
function curl(ns: TapNamespace, path: string): { status: number; headers: Map<string, string>; body: string } {
  const r = ns.run(['curl', '-s', '-i', '--max-time', '10', `http://10.0.0.2${path}`]);
  assert.equal(r.status, 0, `curl ${path}: ${r.stderr}`);
  const [head = '', ...rest] = r.stdout.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

/** The sealed engine under a supervisor started with ns.start: its status file says whether the seal is on. */
function engineStatus(supervisor: number): string | undefined {
  const engine = descendants(supervisor).find((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('bootstrap');
    } catch {
      return false;
    }
  });
  return engine === undefined ? undefined : readFileSync(`/proc/${engine}/status`, 'utf8');
}

test('Express, Fastify, Hono and Koa serve curl from sealed unikernels over Fata TCP', { skip, timeout: 600_000 }, async () => {
  for (const fw of FRAMEWORKS) {
    const flags = target === 'node' ? ['--net=direct'] : [];
    const b = spawnSync(BIN, ['build', '-t', target, ...flags, `examples/frameworks/${fw}`], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(b.status, 0, `${fw}: ${b.stderr}`);
  }
  await withTapNamespace('10.0.0.1/24', async (ns) => {
    // One at a time: each unikernel holds the tap while it runs.
    for (const fw of FRAMEWORKS) {
      const image = join(ROOT, `examples/frameworks/${fw}/dist/${fw}.fata`);
      const child = ns.start([BIN, 'run', `--net:service=${ns.tap}`, image, '--ipv4=10.0.0.2/24', '--port=80']);
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      await waitForLine(child, /event=serving framework=/, 60_000);
      if (target === 'spt') assert.match(engineStatus(child.pid!) ?? '', /^Seccomp:\t2$/m, `${fw}: the engine serving is sealed`);

      const root = curl(ns, '/');
      assert.equal(root.status, 200, fw);
      assert.equal(root.body, `hello from ${fw}\n`, fw);
      assert.equal(root.headers.get('x-framework'), fw);
      assert.match(root.headers.get('content-type') ?? '', /^text\/plain/i, fw);

      const json = curl(ns, '/json/unikernel');
      assert.equal(json.status, 200, fw);
      assert.match(json.headers.get('content-type') ?? '', /^application\/json/i, fw);
      assert.deepEqual(JSON.parse(json.body), { framework: fw, name: 'unikernel' });

      const missing = curl(ns, '/no/such/route');
      assert.equal(missing.status, 404, `${fw}: ${missing.body}`);

      const exited = waitForLine(child, /event=exit code=0/, 20_000);
      child.kill('SIGTERM');
      await exited;
      await stopAll([child]);
      // Nothing the seal refused on the way (Node's CA store loader, a library's os.hostname()).
      assert.doesNotMatch(stderr, /Warning|EPERM|operation not permitted/, `${fw}: ${stderr}`);
    }
  });
});
