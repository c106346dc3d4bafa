/**
 * HTTP/1.1 over Fata's streams: parser, server, static files, client.
 * @module fata/http
 */
export * from './parser.ts';
export * from './server.ts';
export * from './static.ts';
export * from './client.ts';
