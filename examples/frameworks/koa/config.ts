import { net, param, service } from 'fata';

export default service({
  name: 'koa',
  main: './main.ts',
  devices: { service: net() },
  params: { port: param.int(8080, 'HTTP port', { min: 1, max: 65535 }) },
});
