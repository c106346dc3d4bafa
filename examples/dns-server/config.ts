import { assets, block, net, param, service } from 'fata';

export default service({
  name: 'dns-server',
  main: './main.ts',
  devices: {
    service: net(),
    /** One master file per zone, named after the zone: `example.test.zone` serves `example.test.` */
    zones: assets('zones', { compress: false }),
    /**
     * Optional: dynamic updates, kept across restarts and replayed onto the image's zones at boot (any size from 8 KiB;
     * `truncate -s 1M journal.img`); --allow-update needs it; not used with --zones-remote.
     */
    journal: block({ optional: true }),
  },
  params: {
    port: param.int(53, 'UDP and TCP port to answer on', { min: 1, max: 65535 }),
    axfr: param.bool(false, 'serve zone transfers (AXFR, IXFR) to anyone who asks; with --tsig, signed requests may transfer anyway'),
    tsig: param.string(
      '',
      'TSIG keys (RFC 8945), comma-separated, as kdig -y writes them: [ALGORITHM:]NAME:BASE64SECRET (hmac-sha256 when left out); a request signed with one may transfer zones',
    ),
    primary: param.string(
      '',
      'IP[:PORT] of the primary the --zone zones are transferred from (IXFR, AXFR; SOA timers and NOTIFY): makes this a secondary',
    ),
    zone: param.string(
      '',
      'zones to keep as a secondary of --primary, comma-separated; a zone file of the same name in the image is not served',
    ),
    notify: param.string(
      '',
      'secondaries, IP[:PORT] comma-separated, sent NOTIFY (RFC 1996) for every zone at boot and whenever one changes',
    ),
    'allow-update': param.string(
      '',
      "TSIG key names (from --tsig), comma-separated, whose signed UPDATEs (RFC 2136) may change the image's zones; each change is written to the journal device (--block:journal=FILE, which --allow-update needs) before it is served, and replayed at boot; an UPDATE signed otherwise, or unsigned, is REFUSED",
    ),
    'zones-remote': param.string(
      '',
      "git URL[#branch] (http or https) whose NAME.zone files are the zones, instead of the image's zones/: fetched at boot, every --zones-refresh seconds, and on a NOTIFY for one of them signed with a --tsig key; git is their only source (no --allow-update)",
    ),
    'zones-remote-ca': param.file("PEM CA certificates an https --zones-remote's certificate must chain to (default: Node's CA store)"),
    'zones-refresh': param.int(300, 'seconds between fetches of --zones-remote (0: only at boot and on NOTIFY)', { min: 0, max: 86400 }),
    'tcp-idle': param.int(10, 'seconds before an idle TCP connection is closed (RFC 7766)', { min: 1, max: 3600 }),
  },
});
