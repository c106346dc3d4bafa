/**
 * A caching DNS resolver: answers recursive queries over UDP and TCP,
 * resolving iteratively from root hints (or through forwarders), with
 * bailiwick checks, random source ports and IDs, and a TTL-capped cache.
 * Only the networks in `--allow` are served: an open resolver is an
 * amplifier for anyone's attack. With blocklists (blocklists/ in the image,
 * or `--blocklist=FILE`) it filters as Pi-hole and Mirage Hole do: a listed
 * name and everything below it get NXDOMAIN, or 0.0.0.0 and :: when
 * `--blocked-answer=null`, counted in the stats.
 */
import { Blocklist, DnsCache, DnsQuerier, DnsTcpSessions, RecursiveResolver, sleepTimer, type RootHint } from 'fata/dns';
import {
  CLASS_IN,
  decodeDns,
  encodeDns,
  formErrFor,
  isDecodeError,
  OPCODE_QUERY,
  parseIpv4Address,
  parseIpv4Cidr,
  prefixMask,
  RCODE,
  replyTo,
  responseLimit,
  TYPE,
  type DnsMessage,
  type DnsQuestion,
  type DnsRecord,
} from 'fata/wire';
import type { Assets, Logger, Main } from 'fata';
import type config from './config.ts';

/** IANA's root servers (root-hints file, named.root), IPv4 only. */
const IANA_ROOTS: readonly RootHint[] = [
  ['a', '198.41.0.4'],
  ['b', '170.247.170.2'],
  ['c', '192.33.4.12'],
  ['d', '199.7.91.13'],
  ['e', '192.203.230.10'],
  ['f', '192.5.5.241'],
  ['g', '192.112.36.4'],
  ['h', '198.97.190.53'],
  ['i', '192.36.148.17'],
  ['j', '192.58.128.30'],
  ['k', '193.0.14.129'],
  ['l', '199.7.83.42'],
  ['m', '202.12.27.33'],
].map(([l, address]) => ({ name: `${l}.root-servers.net.`, address: address! }));

/** `--root-hints=NAME=ADDRESS,…`, else IANA's root servers; undefined, logged, when one is malformed. */
function rootHints(text: string, log: Logger): RootHint[] | undefined {
  if (!text) return [...IANA_ROOTS];
  const hints: RootHint[] = [];
  for (const h of text.split(',')) {
    const [name, address] = h.trim().split('=');
    if (!name || !address || parseIpv4Address(address) === undefined) {
      log.error('bad-param', { param: 'root-hints', value: h, fix: 'write NAME=ADDRESS, like a.root-servers.net=198.41.0.4' });
      return undefined;
    }
    hints.push({ name: name.endsWith('.') ? name : `${name}.`, address });
  }
  return hints;
}

/** TTL of the 0.0.0.0 and :: answers for blocked names: short, so that unblocking takes effect soon. */
const BLOCKED_TTL = 60;

/** The image's blocklists/*.hosts and *.list, and the text of --blocklist. */
function blocklistFiles(lists: Assets, text: string): { name: string; bytes: Uint8Array }[] {
  const files = lists
    .list()
    .filter((p) => p.endsWith('.hosts') || p.endsWith('.list'))
    .map((p) => ({ name: p.slice(p.lastIndexOf('/') + 1), bytes: lists.get(p) ?? new Uint8Array() }));
  if (text) files.push({ name: '--blocklist', bytes: new TextEncoder().encode(text) });
  return files;
}

/** Loads the blocklists and logs what was loaded, how fast, and the first bad lines. */
function loadBlocklist(lists: Assets, text: string, ctx: { readonly log: Logger; readonly clock: { monotonicNs(): bigint } }): Blocklist {
  const files = blocklistFiles(lists, text);
  const started = ctx.clock.monotonicNs();
  const { list, load } = Blocklist.load(files);
  if (files.length) {
    const ms = Number((ctx.clock.monotonicNs() - started) / 1_000_000n);
    ctx.log.info('blocklist-loaded', {
      files: files.map((f) => f.name).join(','),
      entries: load.entries,
      'bad-lines': load.badLines,
      ms,
      'table-bytes': list.bytes,
    });
    for (const line of load.examples)
      ctx.log.warn('blocklist-bad-line', { line, fix: 'write a domain, or an address and names (hosts format)' });
  }
  return list;
}

/** `--allow`'s networks as a test of a client's address; the bad entry's text when one is not a network. */
function allowList(text: string): ((src: string) => boolean) | string {
  const allow: { net: number; mask: number }[] = [];
  for (const c of text.split(',')) {
    const p = parseIpv4Cidr(c.trim());
    if (!p) return c;
    allow.push({ net: (p.address & prefixMask(p.prefixLen)) >>> 0, mask: prefixMask(p.prefixLen) });
  }
  return (src) => {
    const a = parseIpv4Address(src);
    return a !== undefined && allow.some((n) => (a & n.mask) >>> 0 === n.net);
  };
}

/** A blocked name's answer: NXDOMAIN, or with `null` the unspecified address for A and AAAA and no data for other types. */
function blockedAnswers(question: DnsQuestion, mode: string): { rcode: number; answers: DnsRecord[] } {
  if (mode === 'nxdomain') return { rcode: RCODE.NXDOMAIN, answers: [] };
  const base = { name: question.name, class: CLASS_IN, ttl: BLOCKED_TTL };
  if (question.type === TYPE.A)
    return { rcode: RCODE.NOERROR, answers: [{ ...base, type: TYPE.A, data: { kind: 'A', address: '0.0.0.0' } }] };
  if (question.type === TYPE.AAAA)
    return { rcode: RCODE.NOERROR, answers: [{ ...base, type: TYPE.AAAA, data: { kind: 'AAAA', address: '::' } }] };
  return { rcode: RCODE.NOERROR, answers: [] };
}

export const main: Main<typeof config> = async (devices, params, ctx) => {
  const net = devices.service;
  const fail = (param: string, value: string, fix: string): number => {
    ctx.log.error('bad-param', { param, value, fix });
    return 1;
  };
  const hints = rootHints(params['root-hints'], ctx.log);
  if (!hints) return 1;
  const forwarders = params.forwarders
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  for (const f of forwarders) if (parseIpv4Address(f) === undefined) return fail('forwarders', f, 'write IPv4 addresses, like 10.0.0.1');
  const allowed = allowList(params.allow || (net.ipv4 && parseIpv4Cidr(net.ipv4) ? net.ipv4 : '127.0.0.0/8'));
  if (typeof allowed === 'string') return fail('allow', allowed, 'write networks like 10.0.0.0/24');
  const mode = params['blocked-answer'];
  if (mode !== 'nxdomain' && mode !== 'null') return fail('blocked-answer', mode, 'write nxdomain or null');
  const blocklist = loadBlocklist(devices.lists, params.blocklist, ctx);
  let blocked = 0;
  const resolver = new RecursiveResolver({
    querier: new DnsQuerier(net, ctx.random, sleepTimer(ctx.sleep)),
    clock: ctx.clock,
    rootHints: forwarders.length ? undefined : hints,
    forwarders: forwarders.length ? forwarders : undefined,
    cache: new DnsCache({ maxTtl: params['max-ttl'], maxEntries: params['cache-size'], staleSeconds: params['serve-stale'] }),
    port: params['upstream-port'],
    timeoutMs: 1000,
    qnameMinimisation: params['qname-minimisation'],
  });

  let overloaded = 0;
  const respond = async (data: Uint8Array, src: string, transport: 'udp' | 'tcp'): Promise<Uint8Array | undefined> => {
    const q = decodeDns(data);
    if (isDecodeError(q)) return formErrFor(data, q, { ra: true });
    if (q.qr) return undefined;
    const reply = (rcode: number): DnsMessage => replyTo(q, rcode, { ra: true, edns: q.edns !== undefined });
    const out = (m: DnsMessage): Uint8Array => encodeDns(m, { maxSize: responseLimit(q, transport) });
    if (!allowed(src)) return out(reply(RCODE.REFUSED));
    if (q.opcode !== OPCODE_QUERY) return out(reply(RCODE.NOTIMP));
    const question = q.questions[0];
    if (q.questions.length !== 1 || !question) return out(reply(RCODE.FORMERR));
    if (question.class !== CLASS_IN || question.type === TYPE.AXFR || question.type === TYPE.IXFR) return out(reply(RCODE.REFUSED));
    if (blocklist.match(question.name) !== undefined) {
      blocked++;
      return out({ ...reply(RCODE.NOERROR), ...blockedAnswers(question, mode) });
    }
    if (resolver.pending >= params['max-pending'] && !resolver.cache.get(question.name, question.type, ctx.clock.monotonicNs())) {
      overloaded++;
      return out(reply(RCODE.SERVFAIL));
    }
    const r = await resolver.resolve(question.name, question.type);
    ctx.log.debug('resolved', { name: question.name, type: question.type, rcode: r.rcode, answers: r.answers.length, cached: r.fromCache });
    return out({
      ...reply(r.rcode),
      answers: r.answers.map((a, i) =>
        i === 0 && a.name.toLowerCase() === question.name.toLowerCase() ? { ...a, name: question.name } : a,
      ),
      authority: r.authority,
    });
  };

  const sessions = new DnsTcpSessions({ idleMs: 10_000, now: () => Number(ctx.clock.monotonicNs() / 1_000_000n) });
  try {
    const udp = await net.udpBind(params.port, (m) => {
      const data = m.data.slice(),
        src = m.src,
        srcPort = m.srcPort;
      void respond(data, src, 'udp').then((r) => {
        if (r) udp.send(src, srcPort, r);
      });
    });
    await net.tcpListen(params.port, (s) => {
      // Pipelined queries are answered in order (RFC 7766 §6.2.1.1 would allow any order).
      sessions.open(s, async (msg) => {
        const r = await respond(msg, s.remote, 'tcp');
        return r ? [r] : [];
      });
    });
  } catch (e) {
    ctx.log.error('bind-failed', { error: e instanceof Error ? e.message : String(e) });
    return 1;
  }
  ctx.log.info('serving', {
    mode: forwarders.length ? 'forward' : 'iterative',
    port: params.port,
    ipv4: net.ipv4 ?? 'host',
    upstream: forwarders.length ? forwarders.join(',') : hints.map((h) => h.address).join(','),
    allow: params.allow || net.ipv4 || '127.0.0.0/8',
    blocklist: blocklist.size,
  });
  for (let tick = 1; ; tick++) {
    await ctx.sleep(1000);
    sessions.sweep();
    if (tick % 60 === 0) {
      resolver.cache.sweep(ctx.clock.monotonicNs());
      ctx.log.info('stats', { ...resolver.counters, cached: resolver.cache.size, tcp: sessions.size, overloaded, blocked });
    }
  }
};
