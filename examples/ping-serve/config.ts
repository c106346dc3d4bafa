import { net, service } from '../../src/runtime/config.ts';

export default service({
  name: 'ping-serve',
  main: './main.ts',
  devices: { service: net() },
  params: {},
});
