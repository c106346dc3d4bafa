import { net, service } from 'fata';

export default service({
  name: 'ping-serve',
  main: './main.ts',
  devices: { service: net() },
  params: {},
});
