/** DNS for services (`fata/dns`): zone files and authoritative answers, TCP framing, a querier, a cache, stub and recursive resolvers. */
export * from './zone.ts';
export * from './authority.ts';
export * from './transport.ts';
export * from './query.ts';
export * from './cache.ts';
export * from './stub.ts';
export * from './recursive.ts';
