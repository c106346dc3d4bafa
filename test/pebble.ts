import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { TapNamespace } from './netns.ts';
import { selfSigned } from './pki.ts';

/**
 * pebble on 10.0.0.1:14000 (its own HTTPS certificate in DIR/pebble-cert.pem, its management API with the roots on
 * :15000), resolving through challtestsrv — or, with `dnsServer` (IP:PORT), through that server, which must then
 * answer the DNS-01 TXT queries itself.
 */
export async function pebble(ns: TapNamespace, dir: string, lifetimeS: number, o: { dnsServer?: string } = {}): Promise<ChildProcess> {
  selfSigned(dir, 'pebble', 'pebble', 'IP:10.0.0.1');
  writeFileSync(
    join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: '10.0.0.1:14000',
        managementListenAddress: '10.0.0.1:15000',
        certificate: join(dir, 'pebble-cert.pem'),
        privateKey: join(dir, 'pebble-key.pem'),
        httpPort: 80,
        tlsPort: 443,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
        certificateValidityPeriod: lifetimeS,
      },
    }),
  );
  if (!o.dnsServer)
    ns.start([
      'pebble-challtestsrv',
      '-defaultIPv4',
      '10.0.0.2',
      '-defaultIPv6',
      '',
      '-dns01',
      '10.0.0.1:8053',
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
      '-management',
      '10.0.0.1:8055',
    ]);
  const server = ns.start([
    'env',
    'PEBBLE_VA_NOSLEEP=1',
    'PEBBLE_WFE_NONCEREJECT=0',
    'PEBBLE_AUTHZREUSE=0',
    'pebble',
    '-config',
    join(dir, 'pebble.json'),
    '-dnsserver',
    o.dnsServer ?? '10.0.0.1:8053',
  ]);
  await ns.listening(14000);
  return server;
}

/** The serial and issuer a new TLS handshake with the website gets. */
export function handshakeCert(ns: TapNamespace): { serial: string; issuer: string } {
  const r = ns.run(
    [
      'sh',
      '-c',
      'openssl s_client -connect 10.0.0.2:443 -servername site.test </dev/null 2>/dev/null | openssl x509 -noout -serial -issuer',
    ],
    { timeoutMs: 20_000 },
  );
  return { serial: /serial=(\w+)/.exec(r.stdout)?.[1] ?? '', issuer: /issuer=(.*)/.exec(r.stdout)?.[1] ?? r.stdout };
}
