/**
 * A DHCPv4 server for the subnet of its own `--ipv4`: a pool, static leases
 * by MAC, options from boot parameters, and every lease written to the
 * `leases` block device before it is granted, so a restarted server knows
 * who has which address. A lease store it cannot read is reported and
 * never silently overwritten.
 */
import { formatMac } from 'fata/devices';
import { decodeLeases, DhcpServer, encodeLeases, type LeaseRecord, type StaticLease } from 'fata/dhcp';
import { SlotStore } from 'fata/storage';
import {
  decodeDhcp,
  DHCP_SERVER_PORT,
  encodeDhcp,
  formatIpv4Address,
  messageType,
  parseIpv4Address,
  parseIpv4Cidr,
  prefixMask,
} from 'fata/wire';
import type { Logger, Main } from 'fata';
import type config from './config.ts';

const TYPES = ['', 'DISCOVER', 'OFFER', 'REQUEST', 'DECLINE', 'ACK', 'NAK', 'RELEASE', 'INFORM'];

/** `--static=MAC=ADDRESS[=HOSTNAME],…`; undefined, logged, when one is malformed. */
function parseStatics(text: string, log: Logger): StaticLease[] | undefined {
  const statics: StaticLease[] = [];
  for (const s of text.split(',').filter((x) => x.trim())) {
    const [mac, ip, hostname] = s.trim().split('=');
    const a = ip === undefined ? undefined : parseIpv4Address(ip);
    if (!mac || a === undefined) {
      log.error('bad-param', { param: 'static', value: s, fix: 'write MAC=ADDRESS, like 02:00:00:00:00:10=10.0.0.10' });
      return undefined;
    }
    statics.push({ mac, address: a, hostname });
  }
  return statics;
}

/** The unexpired leases the store holds; undefined, logged, when it holds something it cannot read. */
function restoreLeases(store: SlotStore, wallMs: () => number, log: Logger): LeaseRecord[] | undefined {
  const saved = store.load();
  if (store.state === 'corrupt') {
    log.error('lease-store-corrupt', {
      fix: 'the leases device holds something else; attach a zeroed file (truncate -s 1M leases.img) or the right one',
    });
    return undefined;
  }
  const restored = saved ? decodeLeases(saved) : [];
  if (typeof restored === 'string') {
    log.error('lease-store-unreadable', { reason: restored });
    return undefined;
  }
  return restored.filter((l) => l.expiresMs > wallMs());
}

export const main: Main<typeof config> = async (devices, params, ctx) => {
  const net = devices.service;
  if (net.mode === 'socket') {
    ctx.log.error('needs-a-link', {
      fix: 'DHCP is broadcast on a link of its own: build with -t spt (or --net=direct) and attach a tap with --net:service=TAP',
    });
    return 1;
  }
  const cidr = net.ipv4 ? parseIpv4Cidr(net.ipv4) : undefined;
  if (!cidr) {
    ctx.log.error('no-address', { fix: 'give the server its address: --ipv4=10.0.0.1/24' });
    return 1;
  }
  const base = (cidr.address & prefixMask(cidr.prefixLen)) >>> 0;
  const addr = (text: string, what: string, fallback?: number): number | undefined => {
    if (text === '') return fallback;
    const a = parseIpv4Address(text);
    if (a === undefined) ctx.log.error('bad-param', { param: what, value: text, fix: 'write an IPv4 address like 10.0.0.100' });
    return a;
  };
  const poolFirst = addr(params['pool-first'], 'pool-first', base + 100);
  const poolLast = addr(params['pool-last'], 'pool-last', base + 199);
  const router = addr(params.router, 'router');
  if (poolFirst === undefined || poolLast === undefined || (params.router && router === undefined)) return 1;
  const dns: number[] = [];
  for (const d of params['dns-servers'].split(',').filter((x) => x.trim())) {
    const a = addr(d.trim(), 'dns-servers');
    if (a === undefined) return 1;
    dns.push(a);
  }
  const statics = parseStatics(params.static, ctx.log);
  if (!statics) return 1;

  const store = new SlotStore(devices.leases);
  const wallMs = (): number => Number(ctx.clock.wallNs() / 1_000_000n);
  const restored = restoreLeases(store, wallMs, ctx.log);
  if (!restored) return 1;
  ctx.log.info('leases-restored', { count: restored.length, capacity: store.capacity });

  let server: DhcpServer;
  try {
    server = new DhcpServer(
      {
        address: cidr.address,
        prefixLen: cidr.prefixLen,
        poolFirst,
        poolLast,
        router,
        dns,
        domain: params.domain || undefined,
        leaseSeconds: params['lease-time'],
        statics,
      },
      restored,
      {
        save: (leases) => {
          const r = store.save(encodeLeases(leases));
          if (r !== 'ok')
            ctx.log.error('lease-store-failed', {
              result: r,
              leases: leases.length,
              capacity: store.capacity,
              fix: 'attach a larger leases device',
            });
          return r === 'ok';
        },
      },
    );
  } catch (e) {
    ctx.log.error('bad-config', { error: e instanceof Error ? e.message : String(e) });
    return 1;
  }

  const udp = await net.udpBind(DHCP_SERVER_PORT, (m) => {
    const q = decodeDhcp(m.data);
    if (typeof q === 'string') {
      ctx.log.debug('dhcp-malformed', { from: m.src, reason: q });
      return;
    }
    const r = server.handle(q, wallMs());
    const mac = formatMac(q.chaddr);
    if (!r) {
      ctx.log.debug('dhcp-no-reply', { type: TYPES[messageType(q) ?? 0] ?? 'unknown', mac, why: server.lastIgnored });
      return;
    }
    const type = TYPES[messageType(r.message) ?? 0];
    ctx.log.info('dhcp', { got: TYPES[messageType(q) ?? 0] ?? 'unknown', sent: type, mac, address: formatIpv4Address(r.message.yiaddr) });
    udp.send(formatIpv4Address(r.dst), r.dstPort, encodeDhcp(r.message));
  });
  ctx.log.info('serving', {
    ipv4: net.ipv4,
    pool: `${formatIpv4Address(poolFirst)}-${formatIpv4Address(poolLast)}`,
    statics: statics.length,
    lease: params['lease-time'],
  });
  for (;;) {
    await ctx.sleep(10_000);
    server.expire(wallMs());
  }
};
