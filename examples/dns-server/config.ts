import { assets, net, param, service } from 'fata';

export default service({
  name: 'dns-server',
  main: './main.ts',
  devices: {
    service: net(),
    /** One master file per zone, named after the zone: `example.test.zone` serves `example.test.` */
    zones: assets('zones', { compress: false }),
  },
  params: {
    port: param.int(53, 'UDP and TCP port to answer on', { min: 1, max: 65535 }),
    axfr: param.bool(false, 'serve zone transfers (AXFR over TCP) to anyone who asks'),
    'tcp-idle': param.int(10, 'seconds before an idle TCP connection is closed (RFC 7766)', { min: 1, max: 3600 }),
  },
});
