import { net, param, service } from 'fata';

export default service({
  name: 'echo',
  main: './main.ts',
  devices: { service: net() },
  params: {
    'echo-port': param.int(7, 'TCP echo (RFC 862)', { min: 1, max: 65535 }),
    'discard-port': param.int(9, 'TCP discard (RFC 863): logs bytes and SHA-256 of each connection', { min: 1, max: 65535 }),
    'chargen-port': param.int(19, 'TCP character generator (RFC 864)', { min: 1, max: 65535 }),
  },
});
