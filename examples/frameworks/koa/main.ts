/**
 * A Koa 3 app in a unikernel: node:http's server takes each connection of
 * Fata's TCP as a `stream.Duplex` (TcpDuplex); Koa needs nothing else.
 */
import { createServer } from 'node:http';
import Koa from 'koa';
import type { Main } from 'fata';
import { TcpDuplex } from 'fata/duplex';
import type config from './config.ts';

export const main: Main<typeof config> = async ({ service: net }, { port }, ctx) => {
  const app = new Koa();
  app.use((c) => {
    c.set('X-Framework', 'koa');
    const m = /^\/json\/([^/]+)$/.exec(c.path);
    if (m) c.body = { framework: 'koa', name: decodeURIComponent(m[1]!) };
    else if (c.path === '/') {
      c.type = 'text/plain';
      c.body = 'hello from koa\n';
    }
  });
  const server = createServer(app.callback());
  await net.tcpListen(port, (s) => server.emit('connection', new TcpDuplex(s)));
  ctx.log.info('serving', { framework: 'koa', port });
  await new Promise<never>(() => {});
};
