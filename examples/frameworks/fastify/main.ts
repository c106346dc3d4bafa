/**
 * A Fastify 5 app in a unikernel. Fastify makes its own node:http server
 * (`serverFactory` hands it one); it is never told to listen on a host
 * socket: each connection of Fata's TCP reaches that server as a
 * `stream.Duplex` (TcpDuplex), and `ready()` stands in for `listen()`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import Fastify from 'fastify';
import type { Main } from 'fata';
import { TcpDuplex } from 'fata/duplex';
import type config from './config.ts';

export const main: Main<typeof config> = async ({ service: net }, { port }, ctx) => {
  let server: Server | undefined;
  const app = Fastify({
    // Fastify's own logger (pino) on the console, warnings and errors only.
    logger: { level: 'warn' },
    serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
      server = createServer(handler);
      return server;
    },
  });
  app.get('/', async (_req, reply) => {
    reply.header('X-Framework', 'fastify').type('text/plain');
    return 'hello from fastify\n';
  });
  app.get<{ Params: { name: string } }>('/json/:name', async (req) => ({ framework: 'fastify', name: req.params.name }));
  await app.ready();
  const http = server!;
  await net.tcpListen(port, (s) => http.emit('connection', new TcpDuplex(s)));
  ctx.log.info('serving', { framework: 'fastify', port });
  await new Promise<never>(() => {});
};
