/**
 * An authoritative DNS server: the zones built into the image, answered
 * over UDP (with TC when an answer does not fit) and TCP (pipelined, AXFR
 * when `--axfr`, or when signed with a `--tsig` key). A zone with an error
 * stops the boot with the line at fault, before any query is answered.
 */
import { createHmac } from 'node:crypto';
import { Authority, DnsTcpSessions, parseTsigKey, Zone, type Hmac, type TsigKey } from 'fata/dns';
import type { Main } from 'fata';
import type config from './config.ts';

const hmac: Hmac = (hash, key, data) => createHmac(hash, key).update(data).digest();

export const main: Main<typeof config> = async (devices, params, ctx) => {
  const keys: TsigKey[] = [];
  for (const spec of params.tsig.split(',').filter((s) => s.trim() !== '')) {
    const k = parseTsigKey(spec);
    if ('error' in k) {
      ctx.log.error('bad-parameter', { parameter: '--tsig', error: k.error });
      return 1;
    }
    keys.push(k);
  }
  const tsig = () => ({ keys, hmac, now: Number(ctx.clock.wallNs() / 1_000_000_000n) });
  const zones: Zone[] = [];
  let bad = 0;
  for (const path of devices.zones.list()) {
    if (!path.endsWith('.zone')) continue;
    const apex = path.slice(path.lastIndexOf('/') + 1, -'.zone'.length) + '.';
    const z = Zone.parse(apex, new TextDecoder().decode(devices.zones.get(path)!));
    if ('errors' in z) {
      for (const e of z.errors) ctx.log.error('zone-error', { zone: apex, file: path, error: e });
      bad++;
      continue;
    }
    zones.push(z);
    ctx.log.info('zone-loaded', { zone: apex, records: z.records.length, serial: z.soa.data.kind === 'SOA' ? z.soa.data.serial : 0 });
  }
  if (bad) return 1;
  if (zones.length === 0) {
    ctx.log.error('no-zones', { hint: 'put NAME.zone master files in the zones/ folder and rebuild' });
    return 1;
  }
  const authority = new Authority(zones);
  const net = devices.service;
  const sessions = new DnsTcpSessions({ idleMs: params['tcp-idle'] * 1000, now: () => Number(ctx.clock.monotonicNs() / 1_000_000n) });
  try {
    const udp = await net.udpBind(params.port, (m) => {
      for (const r of authority.answer(m.data, { transport: 'udp', tsig: tsig() })) udp.send(m.src, m.srcPort, r);
    });
    await net.tcpListen(params.port, (s) => {
      sessions.open(s, (msg) => authority.answer(msg, { transport: 'tcp', allowAxfr: params.axfr, tsig: tsig() }));
    });
  } catch (e) {
    ctx.log.error('bind-failed', { error: e instanceof Error ? e.message : String(e) });
    return 1;
  }
  ctx.log.info('serving', {
    mode: net.mode,
    ipv4: net.ipv4 ?? 'host',
    port: params.port,
    zones: zones.length,
    axfr: params.axfr,
    tsig: keys.map((k) => k.name).join(','),
  });
  for (;;) {
    await ctx.sleep(1000);
    sessions.sweep();
  }
};
