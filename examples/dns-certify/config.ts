import { net, param, service } from 'fata';

export default service({
  name: 'dns-certify',
  main: './main.ts',
  devices: {
    /** Reaches the primary (transfers, UPDATEs), receives its NOTIFY, and reaches the ACME server. */
    service: net(),
  },
  params: {
    primary: param.string('', 'IP[:PORT] of the primary DNS server whose zones are watched and updated (required)'),
    zone: param.string('', 'zones to watch for certificate requests, comma-separated (required)'),
    tsig: param.string(
      '',
      'the TSIG key (RFC 8945) the primary knows, as kdig -y writes it: [ALGORITHM:]NAME:BASE64SECRET (hmac-sha256 when left out); signs transfers and UPDATEs, and NOTIFYs must carry it (required)',
    ),
    port: param.int(53, 'UDP port the NOTIFYs from the primary arrive on (and queries for the zones are answered on)', {
      min: 1,
      max: 65535,
    }),
    'acme-directory': param.string('', 'ACME directory URL (RFC 8555) certificates are ordered from by DNS-01 (required)'),
    'acme-email': param.string('', 'contact address for the ACME account (optional)'),
    'acme-ca': param.file("PEM CA for the ACME server's own HTTPS (a test server's; default: Node's CA store)"),
    'account-key': param.file(
      'PEM private key (P-256, PKCS#8) of the ACME account, read before the engine starts and never on its command line (required; make one with: openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out account.pem)',
    ),
    'wait-for': param.string(
      '',
      "the primary's secondaries, IP[:PORT] comma-separated, that must serve a challenge's TXT record too before the ACME server is told to look (it may ask any of the zone's servers)",
    ),
    'challenge-ttl': param.int(60, 'TTL of the _acme-challenge TXT records, in seconds', { min: 0, max: 86400 }),
  },
});
