/**
 * The DNS examples without root, on loopback host sockets (`--net=socket`):
 * examples/dns-resolver forwarding to examples/dns-server (with no journal
 * device: it is optional), and refusing clients outside `--allow`. What a
 * newcomer can try on any machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePorts } from './ports.ts';
import { journalFlag } from './dns-journal.ts';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { waitForLine } from './netns.ts';
import { kdigLocal as kdig } from './images.ts';

const FATA = new URL('../bin/fata.mjs', import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;
const hasKdig = spawnSync('sh', ['-c', 'command -v kdig']).status === 0;

function run(dir: string, args: string[], children: ChildProcess[], flags: string[] = []): ChildProcess {
  const c = spawn(process.execPath, [FATA, 'run', ...flags, dir, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(c);
  return c;
}

test('dns-resolver forwards to dns-server over loopback, and refuses clients outside --allow', {
  skip: hasKdig ? false : "needs 'kdig' (apt-get install knot-dnsutils; .ci/run does)",
}, async () => {
  const [base, b1, b2] = await freePorts(3);
  const children: ChildProcess[] = [];
  try {
    const server = run('examples/dns-server', [`--port=${base}`], children);
    await waitForLine(server, /event=serving/, 60_000);
    const resolver = run('examples/dns-resolver', [`--port=${b1}`, '--forwarders=127.0.0.1', `--upstream-port=${base}`], children);
    await waitForLine(resolver, /event=serving mode=forward/, 60_000);
    let o = kdig(b1, ['alias.example.test', 'A']);
    assert.match(o, /status: NOERROR/, o);
    assert.match(o, /Flags: qr rd ra;/);
    assert.match(o, /www\.example\.test\.\s+\d+\s+IN\s+A\s+192\.0\.2\.80/);
    o = kdig(b1, ['nope.example.test', 'A']);
    assert.match(o, /status: NXDOMAIN/);
    const closed = run(
      'examples/dns-resolver',
      [`--port=${b2}`, '--forwarders=127.0.0.1', `--upstream-port=${base}`, '--allow=10.0.0.0/8'],
      children,
    );
    await waitForLine(closed, /event=serving/, 60_000);
    assert.match(kdig(b2, ['www.example.test', 'A']), /status: REFUSED/);
  } finally {
    for (const c of children) c.kill('SIGTERM');
  }
});

test('a port already taken is a clear error and exit 1, not an abort', async () => {
  const [b3] = await freePorts(1);
  const children: ChildProcess[] = [];
  try {
    const first = run('examples/dns-server', [`--port=${b3}`], children, [journalFlag()]);
    await waitForLine(first, /event=serving/, 60_000);
    const r = spawnSync(process.execPath, [FATA, 'run', journalFlag(), 'examples/dns-server', `--port=${b3}`], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /event=bind-failed error="cannot bind UDP port \d+ on 127.0.0.1: another program is using it; stop it or choose another port/,
    );
  } finally {
    for (const c of children) c.kill('SIGTERM');
  }
});

test('dns-server: --allow-update without the journal device stops the boot, saying what to attach', async () => {
  const [port] = await freePorts(1);
  const secret = Buffer.from('update-update-update-update-key!').toString('base64');
  const r = spawnSync(
    process.execPath,
    [FATA, 'run', 'examples/dns-server', `--port=${port}`, `--tsig=hmac-sha256:up-key:${secret}`, '--allow-update=up-key'],
    { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /event=device-absent device=journal type=block/);
  assert.match(
    r.stdout,
    /event=bad-parameter parameter=--allow-update error="updates are journaled before they are served: attach the journal device, --block:journal=FILE/,
  );
  assert.doesNotMatch(r.stdout, /event=serving/);
});
