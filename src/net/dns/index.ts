/** DNS for services (`fata/dns`): zone files and authoritative answers, TCP framing, a querier, a cache, stub and recursive resolvers, a blocklist, TSIG, secondaries and NOTIFY, dynamic updates (served, and sent to a primary) and their journal. */
export * from './zone.ts';
export * from './authority.ts';
export * from './transport.ts';
export * from './query.ts';
export * from './cache.ts';
export * from './stub.ts';
export * from './recursive.ts';
export * from './blocklist.ts';
export { presentationToWire, wireToPresentation } from './rdata.ts';
export * from './tsig.ts';
export * from './secondary.ts';
export * from './notify.ts';
export * from './update.ts';
export * from './update-client.ts';
export * from './journal.ts';
