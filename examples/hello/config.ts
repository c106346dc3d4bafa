import { param, service } from 'fata';

export default service({
  name: 'hello',
  main: './main.ts',
  devices: {},
  params: {
    greeting: param.string('Hello, World', 'what to print'),
    times: param.int(1, 'how many times to print it', { min: 1, max: 100 }),
  },
});
