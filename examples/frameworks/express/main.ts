/**
 * An Express 5 app in a unikernel: node:http's server takes each connection
 * of Fata's TCP as a `stream.Duplex` (TcpDuplex); Express needs nothing else.
 */
import { createServer } from 'node:http';
import express from 'express';
import type { Main } from 'fata';
import { TcpDuplex } from 'fata/duplex';
import type config from './config.ts';

export const main: Main<typeof config> = async ({ service: net }, { port }, ctx) => {
  const app = express();
  app.get('/', (_req, res) => {
    res.set('X-Framework', 'express').type('text/plain').send('hello from express\n');
  });
  app.get('/json/:name', (req, res) => {
    res.json({ framework: 'express', name: req.params.name });
  });
  const server = createServer(app);
  await net.tcpListen(port, (s) => server.emit('connection', new TcpDuplex(s)));
  ctx.log.info('serving', { framework: 'express', port });
  await new Promise<never>(() => {});
};
