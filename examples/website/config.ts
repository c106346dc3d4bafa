import { assets, block, net, param, service } from 'fata';

export default service({
  name: 'website',
  main: './main.ts',
  devices: {
    service: net(),
    htdocs: assets('htdocs'),
    // cert.pem and key.pem from tls/ if present; otherwise `fata build` adds a self-signed development pair.
    tls: assets('tls', { devCert: true }),
    /**
     * Optional (`--block:store=FILE`, a record of a few KiB kept twice: `truncate -s 1M store.img`): the ACME
     * account key and certificate, so that a restart serves the stored certificate and orders a new one only when
     * it is due (two thirds into its life). Without it each boot with --acme-directory orders anew.
     */
    store: block({ optional: true }),
  },
  params: {
    'http-port': param.int(8080, 'HTTP port (0: no plain HTTP)', { min: 0, max: 65535 }),
    'https-port': param.int(8443, 'HTTPS port (0: no TLS)', { min: 0, max: 65535 }),
    'redirect-https': param.bool(false, 'answer plain HTTP with a redirect to HTTPS'),
    hsts: param.int(0, 'Strict-Transport-Security max-age in seconds on HTTPS (0: none)', { min: 0 }),
    'tls-cert': param.file('PEM certificate chain file (default: tls/cert.pem in the image)'),
    'tls-key': param.file(
      'PEM private key file, read before the engine starts and never on its command line (default: tls/key.pem in the image)',
    ),
    'access-log': param.bool(true, 'one log line per request'),
    'http-server': param.string('fata', "'fata' (src/http's server) or 'node' (node:http over the TCP Duplex adapter, for comparison)"),
    'header-timeout': param.int(10, 'seconds a client has to send a whole request head (then 408)', { min: 1, max: 600 }),
    'idle-timeout': param.int(60, 'seconds an idle keep-alive connection stays open', { min: 1, max: 3600 }),
    remote: param.string(
      '',
      'git URL[#branch] (http or https) to serve instead of htdocs/: cloned at boot, fetched again on the pull hook',
    ),
    'remote-ca': param.file("PEM CA certificates an https --remote's certificate must chain to (default: Node's CA store)"),
    'hook-secret': param.file(
      'file holding the secret that POST /.well-known/fata/pull must bring (Authorization: Bearer SECRET, or a signed body: X-Hub-Signature-256)',
    ),
    'acme-directory': param.string(
      '',
      'ACME directory URL (RFC 8555): get the HTTPS certificate at boot by HTTP-01 on the HTTP port, renew it at 2/3 of its life',
    ),
    'acme-email': param.string('', 'contact address for the ACME account'),
    domain: param.string('', 'the names the ACME certificate is for, comma-separated'),
    'acme-ca': param.file("PEM CA for the ACME server's own HTTPS (a test server's; default: Node's CA store)"),
    metrics: param.bool(
      false,
      'serve Prometheus metrics at GET /.well-known/fata/metrics: the certificate expiry, ACME renewals and failures, responses by status',
    ),
    'max-content': param.int(64, 'MB of files a --remote branch may hold; a fetch beyond it is refused and the site stays as it was', {
      min: 1,
      max: 4096,
    }),
  },
});
