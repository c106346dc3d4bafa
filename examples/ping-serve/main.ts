/**
 * Answers ARP and ping on `--ipv4` through Fata's stack (net device
 * `service`). All the work is the stack's; main only says where it is.
 */
import type { Main } from 'fata';
import type config from './config.ts';

export const main: Main<typeof config> = async (devices, _params, ctx) => {
  const s = devices.service;
  if (s.mode === 'socket')
    ctx.log.warn('socket-mode', { note: 'the host answers pings here; build with --net=direct to answer them with Fata' });
  ctx.log.info('serving', { ipv4: s.ipv4 ?? 'host' });
  await new Promise<never>(() => {});
};
