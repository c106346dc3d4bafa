import { assets, net, param, service } from 'fata';

export default service({
  name: 'dns-resolver',
  main: './main.ts',
  devices: {
    service: net(),
    /** Big blocklists (hosts files or domain lists, any size) built into the image: every file in blocklists/ ending .hosts or .list. */
    lists: assets('blocklists', { compress: false }),
  },
  params: {
    port: param.int(53, 'UDP and TCP port to answer on', { min: 1, max: 65535 }),
    forwarders: param.string('', 'comma-separated recursive servers to forward to; empty resolves iteratively from the root hints'),
    'root-hints': param.string('', 'NAME=ADDRESS pairs, comma-separated, to start from (default: the IANA root servers)'),
    'upstream-port': param.int(53, 'port the root hints or forwarders answer on', { min: 1, max: 65535 }),
    allow: param.string('', "client networks answered, comma-separated CIDRs (default: this unikernel's own subnet); others get REFUSED"),
    'max-ttl': param.int(86400, 'longest time anything stays cached, in seconds', { min: 0, max: 604800 }),
    'qname-minimisation': param.bool(true, 'ask each server only about the next label of the name (RFC 9156)'),
    'serve-stale': param.int(0, 'seconds past expiry an answer may still be served when resolution fails (RFC 8767; 0 is off)', {
      min: 0,
      max: 604800,
    }),
    'cache-size': param.int(10000, 'cached RRsets at most', { min: 0, max: 1000000 }),
    blocklist: param.file(
      'a hosts file or domain list whose names (and all below them) are blocked; at most 1 MiB, bigger lists go in blocklists/',
    ),
    'blocked-answer': param.string('nxdomain', 'what a blocked name gets: nxdomain, or null (A 0.0.0.0, AAAA ::, other types no data)'),
    'max-pending': param.int(1000, 'resolutions under way at most; past it, new questions get SERVFAIL at once', { min: 1, max: 100000 }),
  },
});
