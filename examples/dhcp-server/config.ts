import { block, net, param, service } from 'fata';

export default service({
  name: 'dhcp-server',
  main: './main.ts',
  devices: {
    /** The served network; a DHCP server needs its own static --ipv4. */
    service: net({ dhcp: false }),
    /** Where leases live across restarts (any size from 8 KiB; `truncate -s 1M leases.img`). */
    leases: block(),
  },
  params: {
    'pool-first': param.string('', 'first address handed out (default: .100 of the subnet)'),
    'pool-last': param.string('', 'last address handed out (default: .199 of the subnet)'),
    router: param.string('', 'default gateway offered to clients (option 3; none when empty)'),
    'dns-servers': param.string('', 'comma-separated DNS servers offered (option 6; none when empty)'),
    domain: param.string('', 'domain name offered (option 15; none when empty)'),
    'lease-time': param.int(3600, 'lease length in seconds', { min: 60, max: 31536000 }),
    static: param.string('', 'fixed leases: MAC=ADDRESS[=HOSTNAME], comma-separated (none when empty)'),
  },
});
