/**
 * examples/dns-resolver as a filtering resolver (Mirage Hole's job), on
 * loopback host sockets, forwarding to examples/dns-server: a million-entry
 * hosts file built into the image (blocklists/) and a small domain list
 * named with --blocklist=FILE; listed names and names below them get
 * NXDOMAIN, others resolve; with --blocked-answer=null, 0.0.0.0 and ::.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { freePorts } from './ports.ts';
import { journalFlag } from './dns-journal.ts';
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

test('dns-resolver blocks a million-entry hosts file from its image and a --blocklist domain list', {
  skip: hasKdig ? false : "needs 'kdig' (apt-get install knot-dnsutils; .ci/run does)",
}, async () => {
  const [upstream, p1, p2] = await freePorts(3);
  const children: ChildProcess[] = [];
  // A copy of the example at the examples' depth (so that 'fata' resolves), with a big list in its image.
  mkdirSync(join(ROOT, 'out'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, 'out', 'dns-resolver-'));
  cpSync(join(ROOT, 'examples/dns-resolver'), dir, { recursive: true, filter: (p) => !p.includes('/dist') });
  const big: string[] = ['# a million entries\n127.0.0.1 localhost\n0.0.0.0 ads.example.test\n'];
  for (let i = 0; i < 999_999; i++) big.push(`0.0.0.0 ads${i}.tracker${i % 977}.example.com\n`);
  writeFileSync(join(dir, 'blocklists', 'big.hosts'), big.join(''));
  const small = join(dir, 'small.list');
  writeFileSync(small, '# domains\nalias.example.test\nnot a domain\n');
  try {
    const server = run('examples/dns-server', [`--port=${upstream}`], children, [journalFlag()]);
    await waitForLine(server, /event=serving/, 60_000);
    const fwd = ['--forwarders=127.0.0.1', `--upstream-port=${upstream}`];
    const filtering = run(dir, [`--port=${p1}`, ...fwd, `--blocklist=${small}`], children);
    const loaded = await waitForLine(filtering, /event=blocklist-loaded/, 120_000);
    assert.match(loaded, /files=big\.hosts,--blocklist entries=1000002 bad-lines=1 ms=\d+ table-bytes=16777216/);
    console.log(`# ${loaded.trim()}`);
    await waitForLine(filtering, /event=serving .*blocklist=1000002/, 60_000);

    for (const name of ['ads.example.test', 'x.ads.example.test', 'ads77.tracker77.example.com', 'alias.example.test']) {
      const o = kdig(p1, [name, 'A']);
      assert.match(o, /status: NXDOMAIN/, `${name}: ${o}`);
      assert.match(o, /Flags: qr rd ra;/);
    }
    let o = kdig(p1, ['www.example.test', 'A']);
    assert.match(o, /status: NOERROR/, o);
    assert.match(o, /www\.example\.test\.\s+\d+\s+IN\s+A\s+192\.0\.2\.80/);
    assert.match(kdig(p1, ['nope.example.test', 'A']), /status: NXDOMAIN[\s\S]*AUTHORITY SECTION/, 'the real NXDOMAIN has the SOA');
    assert.match(kdig(p1, ['localhost', 'A']), /status: (?!NXDOMAIN)/, 'localhost is never blocked');

    const nulled = run('examples/dns-resolver', [`--port=${p2}`, ...fwd, `--blocklist=${small}`, '--blocked-answer=null'], children);
    await waitForLine(nulled, /event=serving/, 60_000);
    o = kdig(p2, ['alias.example.test', 'A']);
    assert.match(o, /status: NOERROR/, o);
    assert.match(o, /alias\.example\.test\.\s+60\s+IN\s+A\s+0\.0\.0\.0/);
    assert.match(kdig(p2, ['alias.example.test', 'AAAA']), /alias\.example\.test\.\s+60\s+IN\s+AAAA\s+::\s/);
    assert.match(kdig(p2, ['alias.example.test', 'MX']), /status: NOERROR[\s\S]*ANSWER: 0/);
    assert.match(kdig(p2, ['www.example.test', 'A']), /192\.0\.2\.80/);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
