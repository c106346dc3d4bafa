/**
 * examples/website on the node target with host sockets on loopback (no
 * root): HTTP → HTTPS redirect, HSTS, a certificate and key given as boot
 * parameters, and the start-up warning for a certificate about to expire.
 */
import { after, test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:https';
import { X509Certificate } from 'node:crypto';
import { makeDevCert } from '../src/build/devcert.ts';
import { waitForLine } from './netns.ts';
import { freePorts } from './ports.ts';

const FATA = new URL('../bin/fata', import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;

async function withSite(args: string[], fn: (out: () => string) => Promise<void>): Promise<void> {
  const child = spawn(FATA, ['run', 'examples/website', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  try {
    await waitForLine(child, /event=serving/, 60_000);
    await fn(() => out);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const get = (
  port: number,
  path: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; cert: X509Certificate | undefined }> =>
  new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, rejectUnauthorized: false, agent: undefined }, (res) => {
      const peer = (res.socket as import('node:tls').TLSSocket).getPeerX509Certificate?.();
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, cert: peer }));
    });
    req.on('error', reject);
    req.end();
  });

test('website: --redirect-https answers HTTP with a 301 to HTTPS, --hsts adds Strict-Transport-Security', async () => {
  const [port, tlsPort] = await freePorts(2);
  await withSite(
    [`--http-port=${port}`, `--https-port=${tlsPort}`, '--redirect-https', '--hsts=31536000', '--access-log=false'],
    async () => {
      const plain = await fetch(`http://127.0.0.1:${port}/docs/?q=1`, { redirect: 'manual' });
      assert.equal(plain.status, 301);
      assert.equal(
        plain.headers.get('location'),
        `https://127.0.0.1:${tlsPort}/docs/?q=1`,
        'same host (from Host, port dropped), the HTTPS port, the same target',
      );
      const secure = await get(tlsPort, '/');
      assert.equal(secure.status, 200);
      assert.equal(secure.headers['strict-transport-security'], 'max-age=31536000');
    },
  );
});

test('website: a certificate given as files on the command line is served, and one expiring within 30 days is warned about', async () => {
  const [port, tlsPort] = await freePorts(2);
  const short = makeDevCert(new Date(), 10);
  // Files, read by the tender (param.file): the key never appears on a command line.
  const dir = mkdtempSync(join(tmpdir(), 'fata-site-tls-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'cert.pem'), short.cert);
  writeFileSync(join(dir, 'key.pem'), short.key, { mode: 0o600 });
  await withSite(
    [`--http-port=${port}`, `--https-port=${tlsPort}`, `--tls-cert=${join(dir, 'cert.pem')}`, `--tls-key=${join(dir, 'key.pem')}`],
    async (out) => {
      assert.match(out(), /level=warn src=website event=certificate-expiring .*days_left=(9|10)/, out());
      const r = await get(tlsPort, '/hello.txt');
      assert.equal(r.status, 200);
      assert.equal(
        r.cert?.fingerprint256,
        new X509Certificate(short.cert).fingerprint256,
        'the parameter certificate, not the built-in one',
      );
    },
  );
});
