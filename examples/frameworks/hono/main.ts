/**
 * A Hono app in a unikernel: @hono/node-server turns the app into a
 * node:http request listener, and node:http's server takes each connection
 * of Fata's TCP as a `stream.Duplex` (TcpDuplex).
 */
import { createServer } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import type { Main } from 'fata';
import { TcpDuplex } from 'fata/duplex';
import type config from './config.ts';

export const main: Main<typeof config> = async ({ service: net }, { port }, ctx) => {
  const app = new Hono();
  app.get('/', (c) => {
    c.header('X-Framework', 'hono');
    return c.text('hello from hono\n');
  });
  app.get('/json/:name', (c) => c.json({ framework: 'hono', name: c.req.param('name') }));
  const server = createServer(getRequestListener(app.fetch));
  await net.tcpListen(port, (s) => server.emit('connection', new TcpDuplex(s)));
  ctx.log.info('serving', { framework: 'hono', port });
  await new Promise<never>(() => {});
};
