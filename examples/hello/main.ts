/** Prints a greeting and its command line, like Solo5's test_hello. */
import type { Main } from 'fata';
import type config from './config.ts';

export const main: Main<typeof config> = (_devices, params, ctx) => {
  for (let i = 0; i < params.times; i++) ctx.log.info('hello', { greeting: params.greeting });
  ctx.log.info('cmdline', { argv: ctx.argv.join(' ') });
  return 0;
};
