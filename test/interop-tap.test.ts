/**
 * Linux interop on a tap, inside a network namespace this test creates and
 * removes: the kernel's ping and UDP tools against a Fata stack, and
 * malformed frames sent from the kernel side.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { netnsSkipReason, waitForLine, withTapNamespace, type TapNamespace } from './netns.ts';
import {
  checksum,
  emitEthernet,
  emitIcmpv4,
  emitIpv4,
  emitUdp,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  PROTO_ICMP,
  PROTO_UDP,
  put16,
} from '../src/wire/index.ts';
import { parseMac } from '../src/devices/index.ts';
import { ip } from './sim-helpers.ts';

const skip = netnsSkipReason(['ping', 'socat', 'nc', 'python3']);
const FATA_MAC = '02:00:00:00:00:02';
const FIXTURE = new URL('./fixtures/tap-stack.ts', import.meta.url).pathname;
const SENDER = new URL('./fixtures/send-frames.py', import.meta.url).pathname;

interface Report {
  drops: Record<string, number>;
  echoReplies: number;
  udpRx: number;
  reassembled: number;
}

/** Runs `fn` with a Fata stack at 10.0.0.2 on the namespace's tap; returns the stack's final counters. */
async function withFata(fn: (ns: TapNamespace) => Promise<void>): Promise<Report> {
  return withTapNamespace('10.0.0.1/24', async (ns) => {
    const child = ns.start([process.execPath, FIXTURE, ns.tap, '10.0.0.2/24', FATA_MAC]);
    await waitForLine(child, /^ready/);
    await fn(ns);
    const report = waitForLine(child, /^\{/);
    child.kill('SIGTERM');
    return JSON.parse(await report) as Report;
  });
}

function ping(ns: TapNamespace, size: number, count = 20): void {
  const r = ns.run(['ping', '-c', String(count), '-i', '0.02', '-W', '2', '-s', String(size), '10.0.0.2']);
  assert.match(r.stdout, new RegExp(`${count} packets transmitted, ${count} received, 0% packet loss`), r.stdout + r.stderr);
}

test('the kernel pings a Fata stack with 56, 1400 and 4000 bytes (fragmented): 0% loss', { skip }, async () => {
  const report = await withFata(async (ns) => {
    ping(ns, 56);
    ping(ns, 1400);
    ping(ns, 4000);
  });
  assert.equal(report.echoReplies, 60);
  assert.equal(report.reassembled, 20, 'every 4000-byte request arrived in fragments');
});

test('UDP echo answers socat and nc from the kernel byte-exact', { skip }, async () => {
  const report = await withFata(async (ns) => {
    // Neighbours first (a ping resolves ARP both ways): socat waits a second for an answer, and on a loaded
    // machine the first datagram's two ARP exchanges have taken longer (a CI run got 0 bytes back for 1).
    ping(ns, 56, 1);
    for (const size of [1, 512, 1472, 1473, 8000, 30_000]) {
      const data = randomBytes(size);
      const r = ns.run(['socat', '-b', '65535', '-t', '1', '-', 'UDP:10.0.0.2:7'], { input: data });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(r.out.equals(data), `socat ${size} bytes: got ${r.out.length} bytes back, not the same`);
    }
    const text = Buffer.from('hello from the kernel via nc\n');
    const r = ns.run(['nc', '-u', '-w', '1', '10.0.0.2', '7'], { input: text });
    assert.ok(r.out.equals(text), `nc got ${JSON.stringify(r.stdout)}`);
  });
  assert.equal(report.udpRx, 7);
});

/** Frames that must each be counted and dropped, by the counter they must raise. */
function malformedFrames(hostMac: Uint8Array): { counter: string; frame: Uint8Array }[] {
  const fata = parseMac(FATA_MAC)!;
  const src = ip('10.0.0.1'),
    dst = ip('10.0.0.2');
  const eth = (type: number, payload: Uint8Array): Uint8Array => {
    const f = new Uint8Array(14 + payload.length);
    emitEthernet({ dst: fata, src: hostMac, ethertype: type }, f);
    f.set(payload, 14);
    return f;
  };
  const udp = (data: Uint8Array, opts: { ident?: number; frag?: number; more?: boolean } = {}): Uint8Array => {
    const b = new Uint8Array(28 + data.length);
    b.set(data, 28);
    emitUdp({ srcPort: 5000, dstPort: 7, payloadLen: data.length }, src, dst, b, 20);
    emitIpv4({ src, dst, protocol: PROTO_UDP, ttl: 64, payloadLen: 8 + data.length, ident: opts.ident ?? 1 }, b);
    return b;
  };
  const fixIpChecksum = (b: Uint8Array): Uint8Array => {
    put16(b, 10, 0);
    put16(b, 10, checksum(b, 0, 20));
    return b;
  };
  const out: { counter: string; frame: Uint8Array }[] = [];
  const good = udp(new Uint8Array(32));
  out.push({ counter: 'ipv4.truncated', frame: eth(ETHERTYPE_IPV4, good.subarray(0, 12)) });
  {
    const b = good.slice();
    b[10]! ^= 0xff;
    out.push({ counter: 'ipv4.checksum', frame: eth(ETHERTYPE_IPV4, b) });
  }
  {
    const b = good.slice();
    put16(b, 2, 1400);
    out.push({ counter: 'ipv4.total-length', frame: eth(ETHERTYPE_IPV4, fixIpChecksum(b)) });
  }
  {
    const b = good.slice();
    b[0] = 0x44;
    out.push({ counter: 'ipv4.header-length', frame: eth(ETHERTYPE_IPV4, fixIpChecksum(b)) });
  }
  {
    const b = good.slice();
    b[0] = 0x65;
    out.push({ counter: 'ipv4.version', frame: eth(ETHERTYPE_IPV4, fixIpChecksum(b)) });
  }
  {
    const b = good.slice();
    b[40]! ^= 0x55;
    out.push({ counter: 'udp.checksum', frame: eth(ETHERTYPE_IPV4, b) });
  }
  {
    const b = good.slice();
    put16(b, 24, 2000);
    out.push({ counter: 'udp.length', frame: eth(ETHERTYPE_IPV4, b) });
  }
  {
    const b = new Uint8Array(20 + 16);
    emitIcmpv4({ kind: 'echo-request', ident: 1, seq: 1, data: new Uint8Array(8) }, b, 20);
    emitIpv4({ src, dst, protocol: PROTO_ICMP, ttl: 64, payloadLen: 16 }, b);
    b[30]! ^= 1;
    out.push({ counter: 'icmp.checksum', frame: eth(ETHERTYPE_IPV4, b) });
  }
  out.push({ counter: 'arp.malformed', frame: eth(ETHERTYPE_ARP, Uint8Array.of(0, 1, 8, 0, 6, 4, 0, 1)) });
  {
    // Overlapping fragments: [0,16) then [8,24) of one datagram.
    const frag = (off: number, len: number, more: boolean): Uint8Array => {
      const b = new Uint8Array(20 + len);
      emitIpv4({ src, dst, protocol: PROTO_UDP, ttl: 64, ident: 0x7777, fragOffset: off, moreFragments: more, payloadLen: len }, b);
      return eth(ETHERTYPE_IPV4, b);
    };
    out.push({ counter: 'ipv4.frag-overlap', frame: frag(0, 16, true) });
    out.push({ counter: 'ipv4.frag-overlap', frame: frag(8, 16, false) });
  }
  return out;
}

test('malformed frames from the kernel side are counted and dropped; the stack keeps answering', { skip }, async () => {
  let expected: { counter: string; frame: Uint8Array }[] = [];
  const report = await withFata(async (ns) => {
    ping(ns, 56, 3);
    const hostMac = parseMac(ns.run(['cat', `/sys/class/net/${ns.tap}/address`]).stdout.trim());
    assert.ok(hostMac, 'read the tap MAC');
    expected = malformedFrames(hostMac);
    const hex = expected.map((e) => Buffer.from(e.frame).toString('hex')).join('\n') + '\n';
    const r = ns.run(['python3', SENDER, ns.tap], { input: Buffer.from(hex) });
    assert.match(r.stdout, new RegExp(`sent ${expected.length}`), r.stderr);
    ping(ns, 56, 5);
    ping(ns, 3000, 5);
  });
  const want: Record<string, number> = {};
  for (const e of expected) want[e.counter] = (want[e.counter] ?? 0) + 1;
  want['ipv4.frag-overlap'] = 1; // Two fragments, one condemned datagram.
  for (const [k, n] of Object.entries(want)) {
    assert.equal(report.drops[k], n, `${k}: ${JSON.stringify(report.drops)}`);
  }
  assert.equal(report.echoReplies, 13);
});
