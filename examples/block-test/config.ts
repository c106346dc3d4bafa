import { block, service } from 'fata';

export default service({
  name: 'block-test',
  main: './main.ts',
  devices: { storage: block() },
  params: {},
});
