/**
 * The caching resolver over scripted servers (the test says what each
 * address answers, message by message): forwarding, coalescing, CNAME
 * chains and their bound, serve-stale, the query budget, and iteration
 * from the root — referrals, glue and its bailiwick, name servers without
 * glue, lame answers, QNAME minimisation (RFC 9156) and its step bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '../../devices/index.ts';
import { isSubdomain, makeQuery, RCODE, TYPE, type DnsMessage, type DnsRecord } from '../../wire/dns.ts';
import { DnsCache } from './cache.ts';
import type { DnsQuerier, QueryOptions } from './query.ts';
import { RecursiveResolver, type RecursiveOptions } from './recursive.ts';

const S = 1_000_000_000n;
const rec = (name: string, type: number, data: DnsRecord['data'], ttl = 60): DnsRecord => ({ name, type, class: 1, ttl, data });
const A = (name: string, address: string, ttl = 60): DnsRecord => rec(name, TYPE.A, { kind: 'A', address }, ttl);
const CNAME = (name: string, target: string): DnsRecord => rec(name, TYPE.CNAME, { kind: 'CNAME', target });
const NS = (name: string, target: string): DnsRecord => rec(name, TYPE.NS, { kind: 'NS', target });
const SOA = (zone: string): DnsRecord =>
  rec(
    zone,
    TYPE.SOA,
    { kind: 'SOA', mname: `ns.${zone}`, rname: `h.${zone}`, serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 60 },
    300,
  );

type Answer = Partial<DnsMessage> | Error | 'hang';
type Server = (name: string, type: number) => Answer;

/** A querier whose servers are functions; each question is logged as `server name type`, options aside. */
function world(servers: Record<string, Server>) {
  const log: string[] = [];
  const opts: QueryOptions[] = [];
  const querier = {
    query: async (server: string, name: string, type: number, o: QueryOptions = {}): Promise<DnsMessage> => {
      log.push(`${server} ${name} ${type}`);
      opts.push(o);
      const s = servers[server];
      const r = s ? s(name, type) : new Error('no such server');
      if (r instanceof Error) throw r;
      if (r === 'hang') return new Promise(() => {});
      return { ...makeQuery(1, name, type), qr: true, ...r };
    },
  } as unknown as DnsQuerier;
  const clock = { ns: 0n, monotonicNs: (): bigint => clock.ns, wallNs: (): bigint => clock.ns } satisfies Clock & { ns: bigint };
  const make = (o: Partial<RecursiveOptions>): RecursiveResolver => new RecursiveResolver({ querier, clock, ...o });
  return { log, opts, clock, make };
}

test('RecursiveResolver: it needs root hints or forwarders, and says so', () => {
  const { make } = world({});
  assert.throws(() => make({}), { message: 'a resolver needs root hints or forwarders' });
  assert.throws(() => make({ rootHints: [], forwarders: [] }), { message: 'a resolver needs root hints or forwarders' });
  assert.doesNotThrow(() => make({ forwarders: ['f'] }));
  assert.doesNotThrow(() => make({ rootHints: [{ name: 'a.root.', address: 'r' }] }));
});

test('forwarding: RD set, the port and timeout passed; only the chain from the name is kept, only SOA in authority; then from the cache', async () => {
  const w = world({
    f: (name) =>
      name === 'www.example.'
        ? {
            answers: [CNAME('www.example.', 'web.example.'), A('web.example.', '192.0.2.1'), A('bank.', '6.6.6.6')],
            authority: [NS('example.', 'ns.example.'), SOA('example.')],
          }
        : { rcode: RCODE.NXDOMAIN, authority: [SOA('example.')] },
  });
  const r = w.make({ forwarders: ['f'], port: 5353, timeoutMs: 99 });
  const got = await r.resolve('www.example', TYPE.A);
  assert.deepEqual(got, {
    rcode: RCODE.NOERROR,
    answers: [CNAME('www.example.', 'web.example.'), A('web.example.', '192.0.2.1')],
    authority: [SOA('example.')],
    fromCache: false,
  });
  assert.deepEqual(w.opts[0], { rd: true, timeoutMs: 99, port: 5353 });
  assert.deepEqual(r.counters, {
    resolutions: 1,
    coalesced: 0,
    upstreamQueries: 1,
    outOfBailiwick: 0,
    servfail: 0,
    stale: 0,
    cacheAnswers: 0,
  });
  w.clock.ns = 10n * S;
  const again = await r.resolve('WWW.example.', TYPE.A);
  assert.equal(again.fromCache, true);
  assert.deepEqual(
    again.answers.map((x) => [x.name, x.ttl]),
    [
      ['www.example.', 50],
      ['web.example.', 50],
    ],
  );
  assert.equal(w.log.length, 1);
  assert.ok(r.counters.cacheAnswers >= 1);
  assert.equal(r.cache.get('bank.', TYPE.A, 10n * S), undefined, 'the unasked-for record was not cached');
  // The cached CNAME answers another type at www: only web's AAAA is asked.
  await r.resolve('www.example.', TYPE.AAAA);
  assert.deepEqual(w.log.slice(1), ['f web.example. 28']);
  // NXDOMAIN comes back with the SOA and is cached (SOA MINIMUM 60 s).
  const nx = await r.resolve('nx.example.', TYPE.A);
  assert.deepEqual([nx.rcode, nx.answers, nx.authority], [RCODE.NXDOMAIN, [], [SOA('example.')]]);
  assert.equal((await r.resolve('nx.example.', TYPE.TXT)).fromCache, true);
});

test('forwarding: a failing forwarder is skipped; all failing is SERVFAIL; the query budget (40 by default) bounds the forwarders asked', async () => {
  const w = world({
    bad: () => new Error('down'),
    refusing: () => ({ rcode: RCODE.REFUSED }),
    good: () => ({ answers: [A('x.', '192.0.2.1')] }),
  });
  const r = w.make({ forwarders: ['bad', 'refusing', 'good'] });
  assert.equal((await r.resolve('x.', TYPE.A)).answers.length, 1);
  assert.equal(r.counters.upstreamQueries, 3);
  const none = w.make({ forwarders: ['bad', 'refusing'] });
  assert.deepEqual(await none.resolve('y.', TYPE.A), { rcode: RCODE.SERVFAIL, answers: [], authority: [], fromCache: false });
  assert.equal(none.counters.servfail, 1);
  const one = w.make({ forwarders: ['bad', 'good'], maxQueries: 1 });
  assert.equal((await one.resolve('z.', TYPE.A)).rcode, RCODE.SERVFAIL, 'one query allowed: the good forwarder is never reached');
  assert.equal(one.counters.upstreamQueries, 1);
  const many = w.make({ forwarders: [...Array.from({ length: 41 }, () => 'bad'), 'good'] });
  w.log.length = 0;
  assert.equal((await many.resolve('w.', TYPE.A)).rcode, RCODE.SERVFAIL);
  assert.equal(w.log.length, 40);
});

test('identical questions in flight share one resolution; different ones do not', async () => {
  let release: (a: Answer) => void = () => {};
  const pending: Promise<Answer>[] = [];
  const w = world({ f: () => ({ answers: [] }) });
  const gate = new Promise<Answer>((r) => {
    release = r;
  });
  pending.push(gate);
  const querier = {
    query: async (_s: string, name: string, type: number): Promise<DnsMessage> => {
      w.log.push(`${name} ${type}`);
      await gate;
      return { ...makeQuery(1, name, type), qr: true, answers: [A(name, '192.0.2.1')] };
    },
  } as unknown as DnsQuerier;
  const r = new RecursiveResolver({ querier, clock: w.clock, forwarders: ['f'] });
  const p1 = r.resolve('a.example', TYPE.A);
  const p2 = r.resolve('A.EXAMPLE.', TYPE.A);
  const p3 = r.resolve('b.example', TYPE.A);
  const p4 = r.resolve('a.example', TYPE.AAAA);
  assert.equal(r.pending, 3);
  release({});
  await Promise.all([p1, p2, p3, p4]);
  assert.equal(await p1, await p2, 'the same promise');
  assert.deepEqual(r.counters.coalesced, 1);
  assert.deepEqual(r.counters.resolutions, 3);
  assert.deepEqual(w.log.sort(), ['a.example. 1', 'a.example. 28', 'b.example. 1']);
  assert.equal(r.pending, 0);
});

test('CNAME chains across answers: followed up to 8 hops past the name, answers gathered; a CNAME question is not chased', async () => {
  const chain =
    (n: number): Server =>
    (name) => {
      const i = Number(/^c(\d+)\./.exec(name)?.[1]);
      return i < n ? { answers: [CNAME(`c${i}.`, `c${i + 1}.`)] } : { answers: [A(`c${i}.`, '192.0.2.1')] };
    };
  const w8 = world({ f: chain(8) });
  const r8 = await w8.make({ forwarders: ['f'] }).resolve('c0.', TYPE.A);
  assert.equal(r8.rcode, RCODE.NOERROR);
  assert.equal(r8.answers.length, 9, '8 CNAMEs and the address');
  assert.equal(r8.fromCache, false);
  const w9 = world({ f: chain(9) });
  assert.deepEqual(await w9.make({ forwarders: ['f'] }).resolve('c0.', TYPE.A), {
    rcode: RCODE.SERVFAIL,
    answers: [],
    authority: [],
    fromCache: false,
  });
  assert.equal(w9.log.length, 9);
  const wc = world({ f: chain(3) });
  const cn = await wc.make({ forwarders: ['f'] }).resolve('c0.', TYPE.CNAME);
  assert.deepEqual([cn.rcode, cn.answers], [RCODE.NOERROR, [CNAME('c0.', 'c1.')]]);
  assert.equal(wc.log.length, 1);
  // The chain ends in NXDOMAIN: that rcode, with the CNAMEs gathered so far; and a chain partly cached is not "from cache".
  const wn = world({
    f: (name) => (name === 'a.' ? { answers: [CNAME('a.', 'b.')] } : { rcode: RCODE.NXDOMAIN, authority: [SOA('b.')] }),
  });
  const rn = wn.make({ forwarders: ['f'] });
  const nx = await rn.resolve('a.', TYPE.A);
  assert.deepEqual([nx.rcode, nx.answers, nx.fromCache], [RCODE.NXDOMAIN, [CNAME('a.', 'b.')], false]);
  const nx2 = await rn.resolve('a.', TYPE.A);
  assert.deepEqual([nx2.rcode, nx2.fromCache], [RCODE.NXDOMAIN, true], 'all of it cached now');
  // NODATA at the name itself: NOERROR, nothing more asked.
  const wd = world({ f: () => ({ authority: [SOA('d.')] }) });
  const nd = await wd.make({ forwarders: ['f'] }).resolve('d.', TYPE.A);
  assert.deepEqual([nd.rcode, nd.answers, nd.authority], [RCODE.NOERROR, [], [SOA('d.')]]);
  assert.equal(wd.log.length, 1);
});

test('serve-stale: when every forwarder fails, an expired NXDOMAIN comes back with its SOA, from the cache', async () => {
  let up = true;
  const w = world({ f: () => (up ? { rcode: RCODE.NXDOMAIN, authority: [SOA('e.')] } : new Error('down')) });
  const r = w.make({ forwarders: ['f'], cache: new DnsCache({ staleSeconds: 100 }) });
  await r.resolve('nx.e.', TYPE.A);
  up = false;
  w.clock.ns = 61n * S;
  const stale = await r.resolve('nx.e.', TYPE.A);
  assert.deepEqual([stale.rcode, stale.answers, stale.authority.map((x) => x.ttl), stale.fromCache], [RCODE.NXDOMAIN, [], [30], true]);
  assert.deepEqual([r.counters.stale, r.counters.servfail], [1, 0]);
  w.clock.ns = 200n * S;
  assert.equal((await r.resolve('nx.e.', TYPE.A)).rcode, RCODE.SERVFAIL);
  assert.equal(r.counters.servfail, 1);
});

// Iteration: root (r) → test. (t) → example.test. (e), each server scripted.

function referral(cut: string, ns: string, glue?: string): Partial<DnsMessage> {
  return { authority: [NS(cut, ns)], additional: glue ? [A(ns, glue)] : [] };
}
const ROOT = { name: 'a.root.', address: 'r' };

function hierarchy(over: Record<string, Server> = {}): Record<string, Server> {
  return {
    r: (name) =>
      isSubdomain(name, 'test.') ? referral('test.', 'ns.test.', 't') : { rcode: RCODE.NXDOMAIN, aa: true, authority: [SOA('.')] },
    t: (name) => {
      if (isSubdomain(name, 'example.test.')) return referral('example.test.', 'ns.example.test.', 'e');
      if (name === 'test.') return { aa: true, authority: [SOA('test.')] };
      return { rcode: RCODE.NXDOMAIN, aa: true, authority: [SOA('test.')] };
    },
    e: (name, type) => {
      if (name === 'www.example.test.' && type === TYPE.A) return { aa: true, answers: [A('www.example.test.', '192.0.2.1')] };
      if (/^(www\.)?example\.test\.$/.test(name)) return { aa: true, authority: [SOA('example.test.')] };
      return { rcode: RCODE.NXDOMAIN, aa: true, authority: [SOA('example.test.')] };
    },
    ...over,
  };
}

test('iteration: one label more at each zone (RFC 9156), RD clear and one try per server, the NS and glue cached on the way', async () => {
  const w = world(hierarchy());
  const r = w.make({ rootHints: [ROOT], timeoutMs: 50, port: 5300 });
  const got = await r.resolve('www.example.test', TYPE.A);
  assert.deepEqual([got.rcode, got.answers], [RCODE.NOERROR, [A('www.example.test.', '192.0.2.1')]]);
  assert.deepEqual(w.log, ['r test. 1', 't example.test. 1', 'e www.example.test. 1']);
  assert.ok(w.opts.every((o) => o.rd === false && o.tries === 1 && o.timeoutMs === 50 && o.port === 5300));
  assert.equal(r.counters.upstreamQueries, 3);
  assert.ok(r.cache.get('example.test.', TYPE.NS, 0n));
  assert.ok(r.cache.get('ns.example.test.', TYPE.A, 0n));
  // Next time it starts at the closest zone it knows.
  w.log.length = 0;
  const nx = await r.resolve('nope.example.test', TYPE.A);
  assert.deepEqual([nx.rcode, nx.authority], [RCODE.NXDOMAIN, [SOA('example.test.')]]);
  assert.deepEqual(w.log, ['e nope.example.test. 1']);
  // Without minimisation the whole name goes to every server.
  const w2 = world(hierarchy());
  await w2.make({ rootHints: [ROOT], qnameMinimisation: false }).resolve('www.example.test', TYPE.A);
  assert.deepEqual(w2.log, ['r www.example.test. 1', 't www.example.test. 1', 'e www.example.test. 1']);
});

test('iteration: glue is believed only for name servers of the cut, inside the zone that was asked; other records are counted', async () => {
  const w = world(
    hierarchy({
      t: (name) =>
        isSubdomain(name, 'example.test.')
          ? {
              authority: [NS('example.test.', 'ns.example.test.')],
              additional: [A('ns.example.test.', 'e'), A('www.example.test.', '6.6.6.6'), A('ns.bank.', '6.6.6.6')],
            }
          : { rcode: RCODE.NXDOMAIN, aa: true },
      e: (name) =>
        name === 'www.example.test.'
          ? {
              aa: true,
              answers: [A('www.example.test.', '192.0.2.1'), A('bank.', '6.6.6.6')],
              authority: [SOA('example.test.'), SOA('bank.')],
            }
          : { aa: true },
    }),
  );
  const r = w.make({ rootHints: [ROOT] });
  const got = await r.resolve('www.example.test', TYPE.A);
  assert.deepEqual(got.answers, [A('www.example.test.', '192.0.2.1')]);
  assert.deepEqual(got.authority, [SOA('example.test.')], 'an SOA of another zone is not passed on');
  assert.equal(r.cache.get('ns.bank.', TYPE.A, 0n), undefined);
  assert.equal(r.cache.get('www.example.test.', TYPE.A, 0n)!.records[0]!.data.kind, 'A');
  assert.equal(r.counters.outOfBailiwick, 3, 'ns.bank. glue, the bank. answer and the bank. SOA (www was glue for no server)');
});

test('iteration: a name server without glue is resolved first (from the root), one inside its own zone is skipped', async () => {
  const w = world(
    hierarchy({
      t: (name) => {
        if (isSubdomain(name, 'example.test.'))
          return { authority: [NS('example.test.', 'ns.inside.example.test.'), NS('example.test.', 'ns.other.test.')] };
        if (name === 'ns.other.test.') return { aa: true, answers: [A('ns.other.test.', 'e')] };
        if (name === 'other.test.') return { aa: true, authority: [SOA('test.')] };
        return { rcode: RCODE.NXDOMAIN, aa: true };
      },
    }),
  );
  const r = w.make({ rootHints: [ROOT] });
  const got = await r.resolve('www.example.test', TYPE.A);
  assert.deepEqual(got.answers, [A('www.example.test.', '192.0.2.1')]);
  assert.ok(w.log.includes('t ns.other.test. 1'), w.log.join('\n'));
  assert.ok(!w.log.some((l) => l.includes('ns.inside')), 'ns.inside.example.test. needs glue it does not have');
  assert.equal(w.log.at(-1), 'e www.example.test. 1');
});

test('iteration: lame and failing servers are passed over for the next; none left is SERVFAIL; the budget ends it too', async () => {
  const lame = world(
    hierarchy({
      r: () => ({
        authority: [NS('test.', 'ns1.test.'), NS('test.', 'ns2.test.')],
        additional: [A('ns1.test.', 'x'), A('ns2.test.', 't')],
      }),
      x: () => ({}), // Not authoritative, no answer, no referral: lame.
    }),
  );
  const r1 = lame.make({ rootHints: [ROOT] });
  assert.equal((await r1.resolve('www.example.test', TYPE.A)).rcode, RCODE.NOERROR);
  assert.deepEqual(
    lame.log,
    ['r test. 1', 'x example.test. 1', 'x www.example.test. 1', 't www.example.test. 1', 'e www.example.test. 1'],
    'x answers the minimised question with nothing (no cut there), is lame for the whole name, and t is asked next',
  );

  const dead = world(hierarchy({ e: () => new Error('timeout') }));
  assert.equal((await dead.make({ rootHints: [ROOT] }).resolve('www.example.test', TYPE.A)).rcode, RCODE.SERVFAIL);
  const refusing = world(hierarchy({ e: () => ({ rcode: RCODE.REFUSED }) }));
  assert.equal((await refusing.make({ rootHints: [ROOT] }).resolve('www.example.test', TYPE.A)).rcode, RCODE.SERVFAIL);

  const budget = world(hierarchy());
  const rb = budget.make({ rootHints: [ROOT], maxQueries: 2 });
  assert.deepEqual(await rb.resolve('www.example.test', TYPE.A), { rcode: RCODE.SERVFAIL, answers: [], authority: [], fromCache: false });
  assert.equal(budget.log.length, 2, 'two queries, no third');
  const b3 = world(hierarchy());
  assert.equal((await b3.make({ rootHints: [ROOT], maxQueries: 3 }).resolve('www.example.test', TYPE.A)).rcode, RCODE.NOERROR);
});

test('iteration: an authoritative answer or NXDOMAIN is no referral even with NS in it; an upward referral is not progress', async () => {
  const w = world(
    hierarchy({
      e: (name) =>
        name === 'www.example.test.'
          ? { aa: true, answers: [], authority: [NS('example.test.', 'ns.example.test.'), SOA('example.test.')] }
          : { aa: true },
    }),
  );
  const r = w.make({ rootHints: [ROOT] });
  const got = await r.resolve('www.example.test', TYPE.A);
  assert.deepEqual([got.rcode, got.answers, got.authority], [RCODE.NOERROR, [], [SOA('example.test.')]], 'NODATA, authoritative');
  const up = world(hierarchy({ e: () => ({ authority: [NS('test.', 'ns.test.')] }) }));
  const ru = up.make({ rootHints: [ROOT] });
  assert.equal((await ru.resolve('www.example.test', TYPE.A)).rcode, RCODE.SERVFAIL);
  assert.equal(ru.counters.outOfBailiwick, 1, 'the upward referral is counted');
});

test('QNAME minimisation: NXDOMAIN for a minimised question asks the whole name; at most 10 minimised questions per zone', async () => {
  const w = world(
    hierarchy({
      e: (name) =>
        name === 'a.b.example.test.'
          ? { aa: true, answers: [A('a.b.example.test.', '192.0.2.7')] }
          : { rcode: RCODE.NXDOMAIN, aa: true, authority: [SOA('example.test.')] },
    }),
  );
  const got = await w.make({ rootHints: [ROOT] }).resolve('a.b.example.test', TYPE.A);
  assert.equal(got.answers.length, 1);
  assert.deepEqual(w.log.slice(2), ['e b.example.test. 1', 'e a.b.example.test. 1']);

  const deep = Array.from({ length: 14 }, (_, i) => `l${i}`).join('.') + '.example.test.';
  const w2 = world(
    hierarchy({
      e: (name) => (name === deep ? { aa: true, answers: [A(deep, '192.0.2.8')] } : { aa: true, authority: [SOA('example.test.')] }),
    }),
  );
  const r2 = await w2.make({ rootHints: [ROOT] }).resolve(deep, TYPE.A);
  assert.equal(r2.answers.length, 1);
  const asked = w2.log.filter((l) => l.startsWith('e '));
  assert.equal(asked.length, 11, '10 minimised questions, then the whole name');
  assert.equal(asked.at(-1), `e ${deep} 1`);
  assert.equal(asked[9], `e ${deep.split('.').slice(-13).join('.')} 1`, 'the tenth has 12 labels');
});

test('an answer whose CNAMEs loop is SERVFAIL; a cached answer carries its SOA when negative and no authority when positive, fresh or stale', async () => {
  const loop = world({ f: () => ({ answers: [CNAME('a.', 'b.'), CNAME('b.', 'a.')] }) });
  assert.equal((await loop.make({ forwarders: ['f'] }).resolve('a.', TYPE.A)).rcode, RCODE.SERVFAIL);

  let up = true;
  const w = world({
    f: (name) => {
      if (!up) return new Error('down');
      if (name === 'nx.e.') return { rcode: RCODE.NXDOMAIN, authority: [SOA('e.')] };
      return { answers: [A(name, '192.0.2.1')], authority: [SOA('e.')] };
    },
  });
  const r = w.make({ forwarders: ['f'], cache: new DnsCache({ staleSeconds: 100 }) });
  await r.resolve('nx.e.', TYPE.A);
  await r.resolve('x.e.', TYPE.A);
  const nx = await r.resolve('nx.e.', TYPE.A);
  assert.deepEqual([nx.fromCache, nx.authority], [true, [SOA('e.')]]);
  const pos = await r.resolve('x.e.', TYPE.A);
  assert.deepEqual([pos.fromCache, pos.authority], [true, []]);
  up = false;
  w.clock.ns = 61n * S;
  const stale = await r.resolve('x.e.', TYPE.A);
  assert.deepEqual([stale.fromCache, stale.answers.length, stale.authority], [true, 1, []], 'a stale positive answer has no authority');
});

test('NODATA is cached for the SOA MINIMUM at the end of the chain; not when the answer has other records at that name', async () => {
  const w = world({
    f: (name) => {
      if (name === 'nodata.e.') return { authority: [SOA('e.')] };
      if (name === 'www.e.') return { answers: [CNAME('www.e.', 'web.e.')], authority: [NS('e.', 'ns.e.'), SOA('e.')] };
      if (name === 'txt.e.') return { answers: [rec('txt.e.', TYPE.TXT, { kind: 'TXT', strings: [] })], authority: [SOA('e.')] };
      return new Error(`unexpected ${name}`);
    },
  });
  const r = w.make({ forwarders: ['f'] });
  for (const name of ['nodata.e.', 'www.e.', 'txt.e.']) await r.resolve(name, TYPE.A);
  w.log.length = 0;
  w.clock.ns = 59n * S;
  const nd = await r.resolve('nodata.e.', TYPE.A);
  assert.deepEqual([nd.rcode, nd.answers, nd.fromCache], [RCODE.NOERROR, [], true]);
  const www = await r.resolve('www.e.', TYPE.A);
  assert.deepEqual([www.answers, www.fromCache], [[{ ...CNAME('www.e.', 'web.e.'), ttl: 1 }], true], 'web.e. has no A: cached as NODATA');
  assert.equal(r.cache.get('web.e.', TYPE.A, 59n * S)!.soa!.name, 'e.', 'under the end of the chain, with the SOA (not the NS)');
  assert.equal(w.log.length, 0);
  await r.resolve('txt.e.', TYPE.A);
  assert.deepEqual(w.log, ['f txt.e. 1'], 'an answer with data at the name is not cached as NODATA for A');
  w.clock.ns = 60n * S;
  w.log.length = 0;
  await r.resolve('nodata.e.', TYPE.A);
  assert.deepEqual(w.log, ['f nodata.e. 1'], 'for the SOA MINIMUM (60 s)');
});

test('iteration: a zone apex asked after its servers are known goes to them as it is; servers with addresses are asked first', async () => {
  const w = world(
    hierarchy({
      e: (name, type) => {
        if (name === 'example.test.' && type === TYPE.SOA) return { aa: true, answers: [SOA('example.test.')] };
        if (name === 'www.example.test.') return { aa: true, answers: [A('www.example.test.', '192.0.2.1')] };
        return { aa: true };
      },
    }),
  );
  const r = w.make({ rootHints: [ROOT] });
  await r.resolve('www.example.test', TYPE.A);
  w.log.length = 0;
  const soa = await r.resolve('example.test', TYPE.SOA);
  assert.deepEqual(soa.answers, [SOA('example.test.')]);
  assert.deepEqual(w.log, ['e example.test. 6']);

  // test. has two servers: ns0 without glue (listed first), ns1 with; ns1 is asked first.
  const w2 = world(
    hierarchy({
      r: (name) =>
        isSubdomain(name, 'test.')
          ? { authority: [NS('test.', 'ns0.elsewhere.'), NS('test.', 'ns1.test.')], additional: [A('ns1.test.', 't')] }
          : {},
    }),
  );
  const r2 = w2.make({ rootHints: [ROOT] });
  assert.equal((await r2.resolve('www.example.test', TYPE.A)).answers.length, 1);
  assert.deepEqual(w2.log.slice(0, 2), ['r test. 1', 't example.test. 1'], 'not a lookup of ns0.elsewhere. first');
});

test('iteration: when no server makes progress the answer is a plain SERVFAIL', async () => {
  const w = world(hierarchy({ e: () => new Error('down') }));
  assert.deepEqual(await w.make({ rootHints: [ROOT] }).resolve('www.example.test', TYPE.A), {
    rcode: RCODE.SERVFAIL,
    answers: [],
    authority: [],
    fromCache: false,
  });
});

// The referral test one condition at a time (mutants of `referral` in iterate: `!r.aa`, NOERROR and the cut
// below the zone, each made true), whole names asked so that each server sees the question as it is.
test('iteration: NS below the zone is no referral in an authoritative answer or an NXDOMAIN; NS of the zone itself is lame', async () => {
  const ex = 'www.example.test.';
  const aa = world(
    hierarchy({ t: () => ({ aa: true, answers: [A(ex, '192.0.2.9')], authority: [NS('example.test.', 'ns.example.test.')] }) }),
  );
  const ra = aa.make({ rootHints: [ROOT], qnameMinimisation: false });
  assert.deepEqual((await ra.resolve(ex, TYPE.A)).answers, [A(ex, '192.0.2.9')]);
  assert.deepEqual(aa.log, [`r ${ex} 1`, `t ${ex} 1`], 'the answer of t. is taken; e is not asked');

  const nx = world(hierarchy({ t: () => ({ rcode: RCODE.NXDOMAIN, authority: [NS('example.test.', 'ns.example.test.'), SOA('test.')] }) }));
  const rn = nx.make({ rootHints: [ROOT], qnameMinimisation: false });
  const got = await rn.resolve(ex, TYPE.A);
  assert.deepEqual([got.rcode, got.authority], [RCODE.NXDOMAIN, [SOA('test.')]]);
  assert.deepEqual(nx.log, [`r ${ex} 1`, `t ${ex} 1`]);

  // example.test. has two servers; the first answers with the zone's own NS and no data (not a referral:
  // lame), so the second is asked next, once.
  const self = world(
    hierarchy({
      t: () => ({
        authority: [NS('example.test.', 'ns1.example.test.'), NS('example.test.', 'ns2.example.test.')],
        additional: [A('ns1.example.test.', 'e1'), A('ns2.example.test.', 'e')],
      }),
      e1: () => ({ authority: [NS('example.test.', 'ns1.example.test.')], additional: [A('ns1.example.test.', 'e1')] }),
    }),
  );
  const rs = self.make({ rootHints: [ROOT], qnameMinimisation: false });
  assert.deepEqual((await rs.resolve(ex, TYPE.A)).answers, [A(ex, '192.0.2.1')]);
  assert.deepEqual(self.log, [`r ${ex} 1`, `t ${ex} 1`, `e1 ${ex} 1`, `e ${ex} 1`]);
  assert.equal(rs.counters.outOfBailiwick, 1, 'the lame answer with NS is counted');
});

// The glue filter (mutants: `x.type === TYPE.A || x.type === TYPE.AAAA` made true, `!==`, or the filter
// removed; the NS-target test made true): only A and AAAA records of the cut's name servers are cached.
test('iteration: glue is A and AAAA of the name servers only: AAAA cached, other types and other names not', async () => {
  const w = world(
    hierarchy({
      t: () => ({
        authority: [NS('example.test.', 'ns.example.test.')],
        additional: [
          A('ns.example.test.', 'e'),
          rec('ns.example.test.', TYPE.AAAA, { kind: 'AAAA', address: '2001:db8::1' }),
          rec('ns.example.test.', TYPE.TXT, { kind: 'TXT', strings: [new TextEncoder().encode('planted')] }),
          A('mail.example.test.', '6.6.6.6'),
        ],
      }),
    }),
  );
  const r = w.make({ rootHints: [ROOT] });
  assert.equal((await r.resolve('www.example.test', TYPE.A)).answers.length, 1);
  assert.deepEqual(
    r.cache.get('ns.example.test.', TYPE.AAAA, 0n)?.records.map((x) => x.data),
    [{ kind: 'AAAA', address: '2001:db8::1' }],
  );
  assert.equal(r.cache.get('ns.example.test.', TYPE.TXT, 0n), undefined, 'a TXT in the additional section is no glue');
  assert.equal(r.cache.get('mail.example.test.', TYPE.A, 0n), undefined, 'an address of no name server is no glue');
  assert.equal(r.counters.outOfBailiwick, 1, 'mail.example.test. is counted; the TXT is not looked at');
});

// More of iterate's checks (mutants named): the NS set cached is the cut's only (the `nsSet` filter removed or
// made true); a REFUSED reply is skipped even when it claims AA and data (`r.rcode !== NOERROR && !== NXDOMAIN`
// made false); a CNAME's target outside the zone is not believed (`.filter(inZone)` removed); an iterative
// answer is not from the cache (`fromCache: false` made true); a name server whose name does not resolve is
// passed over (`got?.data.kind !== 'A'` made false, `got?.` as `got.`).
test('iteration: the NS set of the cut only; REFUSED skipped; an out-of-zone CNAME target looked up anew; an unresolvable name server passed over', async () => {
  const ex = 'www.example.test.';
  const other = world(
    hierarchy({
      t: () => ({
        authority: [NS('example.test.', 'ns.example.test.'), NS('other.test.', 'ns.other.test.')],
        additional: [A('ns.example.test.', 'e')],
      }),
      e: () => new Error('down'),
    }),
  );
  const ro = other.make({ rootHints: [ROOT], qnameMinimisation: false });
  assert.equal((await ro.resolve(ex, TYPE.A)).rcode, RCODE.SERVFAIL);
  assert.deepEqual(
    ro.cache.get('example.test.', TYPE.NS, 0n)?.records.map((x) => x.data),
    [{ kind: 'NS', target: 'ns.example.test.' }],
  );
  assert.ok(!other.log.some((l) => l.includes('ns.other.test.')), other.log.join('\n'));

  const refused = world(hierarchy({ e: () => ({ rcode: RCODE.REFUSED, aa: true, answers: [A(ex, '6.6.6.6')] }) }));
  assert.deepEqual(await refused.make({ rootHints: [ROOT] }).resolve(ex, TYPE.A), {
    rcode: RCODE.SERVFAIL,
    answers: [],
    authority: [],
    fromCache: false,
  });

  const out = world(
    hierarchy({ e: () => ({ aa: true, answers: [CNAME(ex, 'www.bank.'), A('www.bank.', '6.6.6.6')], authority: [SOA('example.test.')] }) }),
  );
  const rout = out.make({ rootHints: [ROOT], qnameMinimisation: false });
  const got = await rout.resolve(ex, TYPE.A);
  assert.deepEqual([got.rcode, got.answers, got.fromCache], [RCODE.NXDOMAIN, [CNAME(ex, 'www.bank.')], false]);
  assert.equal(out.log.at(-1), 'r www.bank. 1', 'the root is asked about www.bank. itself');
  assert.equal(rout.counters.outOfBailiwick, 1);
  // The denial of example.test.'s server is not cached for www.bank. (it was, with example.test.'s SOA: the
  // server of one zone could make a name of another look empty or absent, NODATA or NXDOMAIN).
  const deny = world(
    hierarchy({ e: () => ({ rcode: RCODE.NXDOMAIN, aa: true, answers: [CNAME(ex, 'www.bank.')], authority: [SOA('example.test.')] }) }),
  );
  const rd = deny.make({ rootHints: [ROOT], qnameMinimisation: false });
  assert.equal((await rd.resolve(ex, TYPE.A)).rcode, RCODE.NXDOMAIN);
  assert.equal(rd.cache.get('www.bank.', TYPE.A, 0n), undefined);
  assert.deepEqual(rd.cache.get(ex, TYPE.CNAME, 0n)?.records, [CNAME(ex, 'www.bank.')], 'the chain itself is cached');
  assert.equal(rout.cache.get('www.bank.', TYPE.A, 0n)?.soa?.name, '.', "the root's own NXDOMAIN is cached");

  const lost = world(
    hierarchy({
      t: (name) => {
        if (isSubdomain(name, 'example.test.')) return { authority: [NS('example.test.', 'ns.gone.test.')] };
        return { rcode: RCODE.NXDOMAIN, aa: true, authority: [SOA('test.')] };
      },
    }),
  );
  const rl = lost.make({ rootHints: [ROOT], qnameMinimisation: false });
  assert.equal((await rl.resolve(ex, TYPE.A)).rcode, RCODE.SERVFAIL);
  assert.ok(lost.log.includes('t ns.gone.test. 1'), lost.log.join('\n'));
});

// closestServers (mutants: its loop's `i <= labels.length` as `<`, the empty-set test made true): the root's
// own NS set, once asked, is used when it has addresses. Bug it found: `. NS` answered without addresses
// (the usual answer: the addresses come as additional records, which are not cached) made every later
// resolution SERVFAIL, the root servers' names being inside the root zone, so that anyone could stop the
// resolver by asking it `. NS`.
test('iteration: a cached `. NS` without addresses falls back to the hints; with addresses, the root servers it names are asked', async () => {
  const root = (name: string, type: number): Answer => {
    if (name === '.' && type === TYPE.NS) return { aa: true, answers: [NS('.', 'b.root.')] };
    if (name === 'b.root.' && type === TYPE.A) return { aa: true, answers: [A('b.root.', 'r2')] };
    return hierarchy().r!(name, type);
  };
  const w = world(hierarchy({ r: root }));
  const r = w.make({ rootHints: [ROOT] });
  assert.deepEqual((await r.resolve('.', TYPE.NS)).answers, [NS('.', 'b.root.')]);
  assert.deepEqual((await r.resolve('www.example.test', TYPE.A)).answers, [A('www.example.test.', '192.0.2.1')]);
  assert.deepEqual(w.log, ['r . 2', 'r test. 1', 't example.test. 1', 'e www.example.test. 1'], 'the hints serve');

  const w2 = world(hierarchy({ r: root, r2: root }));
  const r2 = w2.make({ rootHints: [ROOT] });
  await r2.resolve('.', TYPE.NS);
  await r2.resolve('b.root.', TYPE.A);
  assert.deepEqual((await r2.resolve('www.example.test', TYPE.A)).answers, [A('www.example.test.', '192.0.2.1')]);
  assert.deepEqual(
    w2.log.slice(-3),
    ['r2 test. 1', 't example.test. 1', 'e www.example.test. 1'],
    'b.root. is asked, at its cached address',
  );
});

// iterate's bounds, with a budget large enough not to end them first (mutants: `rounds < 32` as `<=` or
// `rounds--`; `depth >= MAX_DEPTH` made false or `>`, `depth + 1` as `- 1`).
test('iteration: at most 32 referrals per name; name servers without glue nested at most 6 deep', async () => {
  // Every question gets a referral to the name one label below the zone cut it was asked about.
  const deep = Array.from({ length: 40 }, (_, i) => `d${i}`).join('.') + '.';
  const w = world({ r: (name) => ({ authority: [NS(name, `ns.${name}`)], additional: [A(`ns.${name}`, 'r')] }) });
  const got = await w.make({ rootHints: [ROOT], maxQueries: 100 }).resolve(deep, TYPE.A);
  assert.equal(got.rcode, RCODE.SERVFAIL);
  assert.equal(w.log.length, 32);

  // z0.'s server is ns.z1., z1.'s is ns.z2., … zN.'s is ns.zN. with glue: each a lookup inside the one before.
  const chain = (n: number) =>
    world({
      r: (name) => {
        const k = Number(/z(\d+)\.$/.exec(name)?.[1]);
        if (k === n) return { authority: [NS(`z${k}.`, `ns.z${k}.`)], additional: [A(`ns.z${k}.`, 'x')] };
        return { authority: [NS(`z${k}.`, `ns.z${k + 1}.`)] };
      },
      x: (name) => ({ aa: true, answers: [A(name, name === 'www.z0.' ? '192.0.2.1' : 'x')] }),
    });
  const six = chain(6);
  const ok = await six.make({ rootHints: [ROOT], maxQueries: 200, qnameMinimisation: false }).resolve('www.z0.', TYPE.A);
  assert.deepEqual(ok.answers, [A('www.z0.', '192.0.2.1')], six.log.join('\n'));
  const seven = chain(7);
  const no = await seven.make({ rootHints: [ROOT], maxQueries: 200, qnameMinimisation: false }).resolve('www.z0.', TYPE.A);
  assert.equal(no.rcode, RCODE.SERVFAIL);
  assert.ok(!seven.log.some((l) => l.startsWith('x ')), 'no server of the chain is reached');
});

// The minimised question's next step (mutant: `r.rcode === NOERROR && ++steps < MAX_MINIMISE_STEPS` made
// true): after NXDOMAIN the whole name is asked, not one label more.
test('QNAME minimisation: NXDOMAIN two labels above the name asks the whole name next', async () => {
  const name = 'a.b.c.example.test.';
  const w = world(
    hierarchy({ e: (q) => (q === name ? { aa: true, answers: [A(name, '192.0.2.5')] } : { rcode: RCODE.NXDOMAIN, aa: true }) }),
  );
  assert.equal((await w.make({ rootHints: [ROOT] }).resolve(name, TYPE.A)).answers.length, 1);
  assert.deepEqual(w.log.slice(2), ['e c.example.test. 1', `e ${name} 1`]);
});

// keepChain's loop (mutants: `i < MAX_CNAME + 1` as `<=` or `MAX_CNAME - 1`, `i--`, `grew = true` as false):
// a chain listed backwards gains one link a pass, nine passes: the tenth link and the address are asked anew.
test('forwarding: of a CNAME chain listed backwards in one answer, nine links are kept; the rest is asked', async () => {
  const n = (i: number): string => `n${i}.e.`;
  const chainRecords = Array.from({ length: 10 }, (_, i) => CNAME(n(i), n(i + 1))).reverse();
  const w = world({
    f: (name) => (name === n(0) ? { answers: [A(n(10), '192.0.2.3'), ...chainRecords] } : { answers: [A(n(10), '192.0.2.3')] }),
  });
  const got = await w.make({ forwarders: ['f'] }).resolve(n(0), TYPE.A);
  assert.deepEqual(got.answers, [...chainRecords, A(n(10), '192.0.2.3')]);
  assert.deepEqual(w.log, [`f ${n(0)} 1`, `f ${n(10)} 1`]);
});

// The referral's NS records are the NS records of the authority section (mutants: its filter removed or made
// true): a referral that lists an SOA first is still a referral.
test('iteration: a referral with an SOA before its NS records is followed', async () => {
  const w = world(
    hierarchy({
      t: () => ({
        authority: [SOA('test.'), NS('example.test.', 'ns.example.test.')],
        additional: [A('ns.example.test.', 'e')],
      }),
    }),
  );
  const got = await w.make({ rootHints: [ROOT], qnameMinimisation: false }).resolve('www.example.test.', TYPE.A);
  assert.deepEqual(got.answers, [A('www.example.test.', '192.0.2.1')]);
  assert.equal(w.log.at(-1), 'e www.example.test. 1');
});
