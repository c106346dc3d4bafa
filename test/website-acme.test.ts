/**
 * examples/website --acme-directory against Debian's pebble (the ACME test
 * server) in a namespace this test makes, with pebble-challtestsrv as its
 * DNS (every name is the website, 10.0.0.2): the sealed website answers
 * HTTP-01 on port 80, serves HTTPS with the certificate pebble issued, and
 * renews it at two thirds of a 30 s lifetime into the running server — a
 * new handshake sees the new serial while a connection made before the
 * renewal still works on the old one; with pebble stopped, the next
 * renewal fails with a warning and the current certificate keeps serving.
 * Its --metrics say the same: the renewed certificate's expiry and one
 * renewal, then the failures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { netnsSkipReason, waitForLine, withTapNamespace } from './netns.ts';
import { handshakeCert, pebble } from './pebble.ts';
import { readableTempDir } from './unprivileged.ts';
import { buildImage } from './images.ts';

const FATA = new URL('../bin/fata.mjs', import.meta.url).pathname;
const target = process.arch === 'x64' ? 'spt' : 'node';
const skip = netnsSkipReason(['openssl', 'python3', 'pebble', 'pebble-challtestsrv']);

test(`website --acme-directory (${target}): issued by pebble over HTTP-01, renewed into the running server`, {
  skip,
  timeout: 240_000,
}, async () => {
  const dir = readableTempDir('fata-acme-');
  try {
    const image = buildImage('examples/website', target);
    await withTapNamespace('10.0.0.1/24', async (ns) => {
      const acmeServer = await pebble(ns, dir, 30);
      const child = ns.start([
        process.execPath,
        FATA,
        'run',
        `--net:service=${ns.tap}`,
        image,
        '--ipv4=10.0.0.2/24',
        '--http-port=80',
        '--https-port=443',
        '--acme-directory=https://10.0.0.1:14000/dir',
        '--acme-email=admin@site.test',
        '--domain=site.test',
        `--acme-ca=${join(dir, 'pebble-cert.pem')}`,
        '--metrics',
      ]);
      const metrics = (): string =>
        ns.run(['curl', '-sk', '--max-time', '10', 'https://10.0.0.2/.well-known/fata/metrics'], { timeoutMs: 20_000 }).stdout;
      let text = '';
      child.stdout!.on('data', (d: Buffer) => {
        text += d.toString();
      });
      await waitForLine(child, /event=serving/, 90_000);
      const issued = /event=certificate-issued .*serial=(\w+)/.exec(text)?.[1];
      assert.ok(issued, text);
      const first = handshakeCert(ns);
      assert.match(first.issuer, /Pebble/i, `issued by pebble: ${first.issuer}`);
      assert.equal(first.serial.toLowerCase(), issued.toLowerCase());

      // A connection made now, kept open across the renewal (20 s into a 30 s life).
      const held = ns.start([
        'python3',
        '-c',
        `import socket,ssl,sys,time
c=ssl.create_default_context(); c.check_hostname=False; c.verify_mode=ssl.CERT_NONE
s=c.wrap_socket(socket.create_connection(("10.0.0.2",443),timeout=60),server_hostname="site.test")
def get():
  s.sendall(b"GET /hello.txt HTTP/1.1\\r\\nHost: site.test\\r\\n\\r\\n")
  d=b""
  while b"\\r\\n\\r\\n" not in d: d+=s.recv(65536)
  return d.split(b"\\r\\n")[0].decode()
print("first", get(), flush=True)
time.sleep(28)
print("again", get(), flush=True)`,
      ]);
      let heldOut = '';
      held.stdout!.on('data', (d: Buffer) => {
        heldOut += d.toString();
      });
      const heldDone = new Promise((r) => held.on('exit', r));
      for (let i = 0; i < 600 && !/event=certificate-renewed/.test(text); i++) await new Promise((r) => setTimeout(r, 100));
      const renewed = /event=certificate-renewed .*serial=(\w+)/.exec(text)?.[1];
      assert.ok(renewed, `renewed within a minute: ${text}`);
      assert.notEqual(renewed, issued);
      const second = handshakeCert(ns);
      assert.equal(second.serial.toLowerCase(), renewed.toLowerCase(), 'a new handshake gets the renewed certificate');
      const renewedExpires = Date.parse(/event=certificate-renewed .*expires=(\S+)/.exec(text)![1]!);
      let m = metrics();
      assert.match(
        m,
        new RegExp(`^fata_website_certificate_expiry_timestamp_seconds\\{source="acme"\\} ${renewedExpires / 1000}$`, 'm'),
        m,
      );
      assert.match(m, /^fata_website_certificate_renewals_total 1$/m, m);
      assert.match(m, /^fata_website_certificate_renewal_failing 0$/m, m);
      assert.match(m, /^fata_website_http_responses_total\{code="200"\} [1-9]\d*$/m, m);
      await heldDone;
      assert.match(heldOut, /first HTTP\/1\.1 200 OK\nagain HTTP\/1\.1 200 OK/, `the connection made before the renewal stays: ${heldOut}`);

      // The ACME server gone: the next renewal fails, is retried and warned about, and the current certificate stays.
      const stopped = once(acmeServer, 'exit');
      acmeServer.kill('SIGTERM');
      await stopped;
      for (let i = 0; i < 600 && !/event=renewal-failed/.test(text); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(text, new RegExp(`level=warn .*event=renewal-failed reason=.* serving=${renewed} `), text.slice(-1500));
      assert.equal(handshakeCert(ns).serial.toLowerCase(), renewed.toLowerCase(), 'still serving the renewed certificate');
      m = metrics();
      assert.match(m, /^fata_website_certificate_renewal_failing [1-9]\d*$/m, m);
      assert.match(m, /^fata_website_certificate_renewal_failures_total [1-9]\d*$/m, m);
      assert.match(m, /^fata_website_certificate_renewals_total 1$/m, m);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
