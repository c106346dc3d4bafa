/**
 * TSIG against Knot's kdig, over loopback without root (`--net=socket`):
 * examples/dns-server started with `--tsig` answers `kdig -y` and kdig
 * verifies every signed answer; an unsigned transfer is REFUSED, a wrong
 * secret NOTAUTH/BADSIG and an unknown key NOTAUTH/BADKEY (RFC 8945 §5.2),
 * and a bad `--tsig` is an error at boot that says how to write a key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { freePorts } from './ports.ts';
import { journalFlag } from './dns-journal.ts';
import { stopAll, waitForLine } from './netns.ts';
import { kdigLocal as kdig } from './images.ts';

const FATA = new URL('../bin/fata.mjs', import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;
const hasKdig = spawnSync('sh', ['-c', 'command -v kdig']).status === 0;
const SECRET = 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==';
const KEY = `hmac-sha256:xfr-key:${SECRET}`;

test("kdig -y verifies Fata's signed answers and transfers; bad and missing signatures are refused as RFC 8945 says", {
  skip: hasKdig ? false : "needs 'kdig' (apt-get install knot-dnsutils; .ci/run does)",
}, async () => {
  const [port] = await freePorts(1);
  const children: ChildProcess[] = [];
  try {
    const server = spawn(
      process.execPath,
      [FATA, 'run', journalFlag(), 'examples/dns-server', `--port=${port}`, `--tsig=${KEY},hmac-sha512:other:${SECRET}`],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(server);
    assert.match(await waitForLine(server, /event=serving/, 60_000), /tsig=xfr-key\.,other\./);

    const axfr = kdig(port, ['-y', KEY, 'AXFR', 'example.test']);
    assert.doesNotMatch(axfr, /WARNING|;; ERROR/, axfr);
    assert.match(axfr, /xfr-key\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\. \d+ 300 32 \S+ \d+ NOERROR 0/);
    assert.equal(axfr.split('\n').filter((l) => /\sIN\s+SOA\s/.test(l)).length, 2, axfr);
    const ixfr = kdig(port, ['-y', `hmac-sha512:other:${SECRET}`, 'IXFR=2026112200', 'example.test']);
    assert.doesNotMatch(ixfr, /WARNING|;; ERROR/, ixfr);
    assert.match(ixfr, /other\.\s+0\s+ANY\s+TSIG\s+hmac-sha512\. \d+ 300 64 /);

    const q = kdig(port, ['-y', KEY, '+edns', 'www.example.test', 'A']);
    assert.doesNotMatch(q, /WARNING|;; ERROR/, q);
    assert.match(q, /status: NOERROR/);
    assert.match(q, /www\.example\.test\.\s+\d+\s+IN\s+A\s+192\.0\.2\.80/);

    assert.match(kdig(port, ['AXFR', 'example.test']), /error 'REFUSED'/);
    const badSig = kdig(port, ['-y', `hmac-sha256:xfr-key:${'A'.repeat(44)}`, 'AXFR', 'example.test']);
    assert.match(badSig, /error 'BADSIG'/, badSig);
    const badKey = kdig(port, ['-y', `hmac-sha256:nokey:${SECRET}`, 'www.example.test']);
    assert.match(badKey, /status: BADKEY/, badKey);
    assert.match(badKey, /nokey\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\. \d+ 300 0 \d+ BADKEY 0/);
    const badAlg = kdig(port, ['-y', `hmac-sha1:xfr-key:${SECRET}`, 'www.example.test']);
    assert.match(badAlg, /status: BADKEY/, badAlg);
  } finally {
    await stopAll(children);
  }
});

test('a --tsig that is not a key stops the boot with how to write one', () => {
  const r = spawnSync(
    process.execPath,
    [FATA, 'run', journalFlag(), 'examples/dns-server', '--port=1', '--tsig=hmac-sha256:k:not-base64'],
    {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(
    r.stdout,
    /event=bad-parameter parameter=--tsig error="the secret of TSIG key 'k' is not base64: write a TSIG key as \[ALGORITHM:\]NAME:BASE64SECRET/,
  );
});
