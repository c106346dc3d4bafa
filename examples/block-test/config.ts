import { block, service } from '../../src/runtime/config.ts';

export default service({
  name: 'block-test',
  main: './main.ts',
  devices: { storage: block() },
  params: {},
});
