/**
 * TSIG (RFC 8945) against bytes kdig signed: a query captured from
 * `kdig -y hmac-sha256:xfr-key:… example.test SOA` verifies with the key
 * and fails, with the error §5.2 names, under every single change a forger
 * or a clock could make; sign → verify round trips, responses bound to
 * their request's MAC, and multi-message chains (§5.3.1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { decodeDns, encodeDns, isDecodeError, makeQuery, RCODE, TYPE, type DnsMessage } from '../../wire/dns.ts';
import { Authority, Zone } from './authority.ts';
import {
  parseTsigKey,
  RCODE_NOTAUTH,
  TYPE_TSIG,
  signMessage,
  splitTsig,
  TSIG_ERROR,
  TsigResponseVerifier,
  verifyTsig,
  type Hmac,
  type TsigKey,
} from './tsig.ts';

const hmac: Hmac = (hash, key, data) => createHmac(hash, key).update(data).digest();
const SECRET = 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==';
/** kdig 3.2.6: `kdig -y hmac-sha256:xfr-key:SECRET example.test SOA`, the UDP datagram it sent. */
const KDIG_QUERY = Buffer.from(
  '7b2101200001000000000001076578616d706c6504746573740000060001077866722d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b0e228c012c002018b229ae4c0ffc2a232b3ff3b2051d15dd3612950b59d7d1831e1f630bf3f0107b2100000000',
  'hex',
);
const KDIG_TIME = 0x6b0e228c;

function key(spec: string): TsigKey {
  const k = parseTsigKey(spec);
  if ('error' in k) throw new Error(k.error);
  return k;
}
const KEY = key(`hmac-sha256:xfr-key:${SECRET}`);

function decoded(b: Uint8Array): DnsMessage {
  const m = decodeDns(b);
  if (isDecodeError(m)) throw new Error(m.error);
  return m;
}

function verify(bytes: Uint8Array, keys: TsigKey[], now: number, requestMac?: Uint8Array, timersOnly = false) {
  const s = splitTsig(bytes, decoded(bytes));
  if (typeof s === 'string') return s;
  return verifyTsig(s, keys, hmac, { now, requestMac, timersOnly });
}
function errorOf(v: ReturnType<typeof verify>): string | number {
  if (typeof v === 'string') return v;
  if (v.ok) return 'ok';
  return 'formerr' in v ? 'formerr' : v.error;
}

test('keys in kdig -y form: algorithm optional, names and base64 checked with a sentence', () => {
  assert.deepEqual(key(`xfr-key:${SECRET}`), KEY);
  assert.equal(key(`hmac-sha512:K.Example.:${SECRET}`).name, 'k.example.');
  assert.equal(key(`hmac-md5:k:${SECRET}`).algorithm, 'hmac-md5.sig-alg.reg.int.');
  assert.equal(key(`HMAC-SHA1.:k:${SECRET}`).algorithm, 'hmac-sha1.');
  for (const [bad, words] of [
    ['hmac-sha999:k:' + SECRET, /unknown TSIG algorithm 'hmac-sha999'/],
    ['k:not base64!', /not base64/],
    [`a:b:c:${SECRET}`, /\[ALGORITHM:\]NAME:BASE64SECRET/],
    [`hmac-sha256::${SECRET}`, /not a domain name/],
    ['k:', /not base64/],
  ] as const) {
    const r = parseTsigKey(bad);
    assert.ok('error' in r, bad);
    assert.match(r.error, words);
  }
});

test("kdig's signed query verifies with the key at its time, and within the fudge (300 s) only", () => {
  const v = verify(KDIG_QUERY, [KEY], KDIG_TIME);
  assert.ok(typeof v !== 'string' && v.ok);
  assert.equal(v.record.keyName, 'xfr-key.');
  assert.equal(v.record.algorithm, 'hmac-sha256.');
  assert.equal(v.record.fudge, 300);
  assert.equal(v.record.originalId, 0x7b21);
  assert.equal(errorOf(verify(KDIG_QUERY, [KEY], KDIG_TIME + 300)), 'ok');
  assert.equal(errorOf(verify(KDIG_QUERY, [KEY], KDIG_TIME - 300)), 'ok');
  assert.equal(errorOf(verify(KDIG_QUERY, [KEY], KDIG_TIME + 301)), TSIG_ERROR.BADTIME);
  assert.equal(errorOf(verify(KDIG_QUERY, [KEY], KDIG_TIME - 301)), TSIG_ERROR.BADTIME);
  const bt = verify(KDIG_QUERY, [KEY], KDIG_TIME + 301);
  assert.ok(typeof bt !== 'string' && !bt.ok && 'key' in bt && bt.key === KEY, 'a BADTIME answer is signed with the key');
});

test('every forgery of the captured query fails with the error RFC 8945 §5.2 names', () => {
  assert.equal(errorOf(verify(KDIG_QUERY, [key(`xfr-key:${'A'.repeat(44)}`)], KDIG_TIME)), TSIG_ERROR.BADSIG);
  assert.equal(errorOf(verify(KDIG_QUERY, [key(`other:${SECRET}`)], KDIG_TIME)), TSIG_ERROR.BADKEY);
  assert.equal(errorOf(verify(KDIG_QUERY, [key(`hmac-sha512:xfr-key:${SECRET}`)], KDIG_TIME)), TSIG_ERROR.BADKEY);
  assert.equal(errorOf(verify(KDIG_QUERY, [], KDIG_TIME)), TSIG_ERROR.BADKEY);
  const bad = verify(KDIG_QUERY, [key(`xfr-key:${'A'.repeat(44)}`)], KDIG_TIME);
  assert.ok(typeof bad !== 'string' && !bad.ok && !('key' in bad && bad.key), 'BADSIG answers are unsigned');
  // Each octet of the header's flags and of the question (its name's case too), and the TSIG's fudge.
  const macAt = KDIG_QUERY.length - 6 - 32;
  const questionLetters = [13, 14, 15, 16, 17, 18, 19, 21, 22, 23, 24];
  for (const i of [2, 3, ...questionLetters, 26, 27, 28, 29, macAt - 4, macAt - 3]) {
    const b = Uint8Array.from(KDIG_QUERY);
    b[i]! ^= 0x20;
    assert.equal(errorOf(verify(b, [KEY], KDIG_TIME)), TSIG_ERROR.BADSIG, `octet ${i}`);
  }
  // The key's and the algorithm's names enter the MAC in lower case (§4.3.3): their case is not signed.
  const upper = Uint8Array.from(KDIG_QUERY);
  upper[31]! ^= 0x20;
  upper[51]! ^= 0x20;
  assert.equal(errorOf(verify(upper, [KEY], KDIG_TIME)), 'ok');
  const mac = Uint8Array.from(KDIG_QUERY);
  mac[macAt + 31]! ^= 1;
  assert.equal(errorOf(verify(mac, [KEY], KDIG_TIME)), TSIG_ERROR.BADSIG);
  // A different time signed is another MAC, not merely a BADTIME.
  const time = Uint8Array.from(KDIG_QUERY);
  time[macAt - 5]! ^= 1;
  assert.equal(errorOf(verify(time, [KEY], KDIG_TIME)), TSIG_ERROR.BADSIG);
});

test('truncated MACs: below max(10, half the hash) FORMERR, a valid prefix BADTRUNC (§5.2.2.1, §5.2.4)', () => {
  const cut = (n: number): Uint8Array => {
    const b = Buffer.from(KDIG_QUERY);
    const macAt = b.length - 6 - 32;
    const out = Buffer.concat([b.subarray(0, macAt - 2), Buffer.from([0, n]), b.subarray(macAt, macAt + n), b.subarray(b.length - 6)]);
    const rdlenAt = out.indexOf(Buffer.from('0b686d61632d736861323536', 'hex')) - 2;
    out.writeUInt16BE(out.readUInt16BE(rdlenAt) - (32 - n), rdlenAt);
    return out;
  };
  assert.equal(errorOf(verify(cut(16), [KEY], KDIG_TIME)), TSIG_ERROR.BADTRUNC);
  assert.equal(errorOf(verify(cut(15), [KEY], KDIG_TIME)), 'formerr');
  assert.equal(errorOf(verify(cut(0), [KEY], KDIG_TIME)), 'formerr');
});

test('a TSIG that is not the single last record is FORMERR (RFC 8945 §5.1)', () => {
  // TSIG, then an OPT after it.
  const b = Buffer.concat([KDIG_QUERY, Buffer.from('0000290200000000000000', 'hex')]);
  b.writeUInt16BE(2, 10);
  assert.equal(verify(b, [KEY], KDIG_TIME), 'formerr');
  // Two TSIGs.
  const tsig = KDIG_QUERY.subarray(30);
  const two = Buffer.concat([KDIG_QUERY, tsig]);
  two.writeUInt16BE(2, 10);
  assert.equal(verify(two, [KEY], KDIG_TIME), 'formerr');
  assert.equal(verify(encodeDns(makeQuery(1, 'a.test.', 1)), [KEY], KDIG_TIME), 'none');
});

test('sign → verify, with every algorithm; a response verifies only against its request MAC; chains of messages', () => {
  for (const alg of ['hmac-md5', 'hmac-sha1', 'hmac-sha224', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512']) {
    const k = key(`${alg}:k.test:${SECRET}`);
    const q = signMessage(encodeDns(makeQuery(9, 'a.test.', 1)), k, hmac, { now: 1000 });
    assert.equal(errorOf(verify(q.bytes, [k], 1000)), 'ok', alg);
    const reply = encodeDns({ ...decoded(encodeDns(makeQuery(9, 'a.test.', 1))), qr: true });
    const r = signMessage(reply, k, hmac, { now: 1001, requestMac: q.mac });
    assert.equal(errorOf(verify(r.bytes, [k], 1001, q.mac)), 'ok', alg);
    assert.equal(errorOf(verify(r.bytes, [k], 1001)), TSIG_ERROR.BADSIG, `${alg} without the request MAC`);
    const next = signMessage(reply, k, hmac, { now: 1002, requestMac: r.mac, timersOnly: true });
    assert.equal(errorOf(verify(next.bytes, [k], 1002, r.mac, true)), 'ok', alg);
    assert.equal(errorOf(verify(next.bytes, [k], 1002, q.mac, true)), TSIG_ERROR.BADSIG, `${alg} chained to the wrong MAC`);
    assert.equal(errorOf(verify(next.bytes, [k], 1002, r.mac, false)), TSIG_ERROR.BADSIG, `${alg} with all variables`);
  }
});

// --- the authoritative server's side -------------------------------------

function bigZone(): Zone {
  let text = '$ORIGIN big.test.\n$TTL 300\n@ SOA ns hostmaster 7 3600 600 86400 300\n@ NS ns\nns A 192.0.2.1\n';
  for (let i = 0; i < 2000; i++) text += `h${i} A 192.0.2.${i % 250}\n`;
  const z = Zone.parse('big.test.', text);
  if ('errors' in z) throw new Error(z.errors.join('\n'));
  return z;
}

const T0 = 1_764_547_200;
const tsigOpts = (now = T0) => ({ keys: [KEY], hmac, now });

/** The TSIG record of a response, and the response as its MAC covers it. */
function tsigOf(b: Uint8Array) {
  const s = splitTsig(b, decoded(b));
  assert.ok(typeof s !== 'string', 'the response carries a TSIG');
  return s;
}

test('Authority: a signed AXFR is answered in messages each signed, chained by MAC (§5.3.1), verifying as a client would', () => {
  const a = new Authority([bigZone()]);
  const q = signMessage(encodeDns(makeQuery(5, 'big.test.', TYPE.AXFR)), KEY, hmac, { now: T0 });
  // Transfers closed to the unsigned, open to the signed.
  const out = a.answer(q.bytes, { transport: 'tcp', allowAxfr: false, tsig: tsigOpts(T0 + 2) });
  assert.ok(out.length >= 3, `${out.length} messages`);
  let prior = q.mac;
  out.forEach((m, i) => {
    assert.equal(decoded(m).rcode, RCODE.NOERROR);
    const v = verifyTsig(tsigOf(m), [KEY], hmac, { now: T0 + 2, requestMac: prior, timersOnly: i > 0 });
    assert.ok(v.ok, `message ${i}`);
    prior = v.record.mac;
  });
  assert.equal(out.flatMap((m) => decoded(m).answers).filter((r) => r.type !== TYPE_TSIG).length, 2000 + 4);
  const unsigned = a.answer(encodeDns(makeQuery(5, 'big.test.', TYPE.AXFR)), { transport: 'tcp', tsig: tsigOpts() });
  assert.equal(decoded(unsigned[0]!).rcode, RCODE.REFUSED);
});

test('Authority: wrong key, wrong MAC, stale time — NOTAUTH with BADKEY and BADSIG unsigned, BADTIME signed with our time', () => {
  const a = new Authority([bigZone()]);
  const o = (now = T0) => ({ transport: 'tcp' as const, tsig: tsigOpts(now) });
  const ask = (bytes: Uint8Array, now = T0) => {
    const r = a.answer(bytes, o(now));
    assert.equal(r.length, 1);
    return { m: decoded(r[0]!), t: tsigOf(r[0]!).record, raw: r[0]! };
  };
  const other = key(`other:${SECRET}`);
  let r = ask(signMessage(encodeDns(makeQuery(6, 'big.test.', TYPE.SOA)), other, hmac, { now: T0 }).bytes);
  assert.deepEqual([r.m.rcode, r.t.error, r.t.mac.length, r.t.keyName], [RCODE_NOTAUTH, TSIG_ERROR.BADKEY, 0, 'other.']);
  const forged = key(`xfr-key:${'B'.repeat(44)}`);
  r = ask(signMessage(encodeDns(makeQuery(6, 'big.test.', TYPE.AXFR)), forged, hmac, { now: T0 }).bytes);
  assert.deepEqual([r.m.rcode, r.t.error, r.t.mac.length, r.m.answers.length], [RCODE_NOTAUTH, TSIG_ERROR.BADSIG, 0, 0]);
  const stale = signMessage(encodeDns(makeQuery(6, 'big.test.', TYPE.AXFR)), KEY, hmac, { now: T0 - 301 });
  r = ask(stale.bytes);
  assert.deepEqual([r.m.rcode, r.t.error, r.t.timeSigned, r.m.answers.length], [RCODE_NOTAUTH, TSIG_ERROR.BADTIME, T0 - 301, 0]);
  assert.deepEqual([...r.t.other], [0, 0, ...Buffer.from((T0 >>> 0).toString(16).padStart(8, '0'), 'hex')]);
  assert.ok(verifyTsig(tsigOf(r.raw), [KEY], hmac, { now: T0 - 301, requestMac: stale.mac }).ok, 'BADTIME is signed over the request MAC');
  assert.equal(a.counters.tsigErrors, 3);
  // A signed ordinary query is answered signed; without keys configured a signed query is BADKEY.
  const q = signMessage(encodeDns(makeQuery(8, 'h7.big.test.', TYPE.A)), KEY, hmac, { now: T0 });
  r = ask(q.bytes);
  assert.equal(r.m.answers[0]?.data.kind === 'A' && r.m.answers[0].data.address, '192.0.2.7');
  assert.ok(verifyTsig(tsigOf(r.raw), [KEY], hmac, { now: T0, requestMac: q.mac }).ok);
  const none = decoded(a.answer(q.bytes, { transport: 'udp' })[0]!);
  assert.equal(none.rcode, RCODE_NOTAUTH);
});

test('Authority: a signed UDP answer that fits only unsigned is truncated, with room left for its signature', () => {
  let text = '$ORIGIN t.test.\n@ 300 SOA ns hostmaster 1 3600 600 86400 300\n@ NS ns\nns A 192.0.2.1\n';
  for (let i = 0; i < 28; i++) text += `many A 192.0.2.${i}\n`;
  const z = Zone.parse('t.test.', text);
  if ('errors' in z) throw new Error(z.errors.join('\n'));
  const b = new Authority([z]);
  const plain = b.answer(encodeDns(makeQuery(3, 'many.t.test.', TYPE.A)), { transport: 'udp' })[0]!;
  assert.equal(decoded(plain).answers.length, 28);
  assert.ok(plain.length > 512 - 80, `${plain.length} octets unsigned: a signature would not fit`);
  const q = signMessage(encodeDns(makeQuery(3, 'many.t.test.', TYPE.A)), KEY, hmac, { now: T0 });
  const r = b.answer(q.bytes, { transport: 'udp', tsig: tsigOpts() })[0]!;
  assert.ok(r.length <= 512, `${r.length} octets`);
  assert.deepEqual([decoded(r).tc, decoded(r).answers.length], [true, 0]);
  assert.ok(verifyTsig(tsigOf(r), [KEY], hmac, { now: T0, requestMac: q.mac }).ok);
});

test('a client verifies answers in order: the first signed, up to 99 unsigned between, each signed one over all before it', () => {
  const q = signMessage(encodeDns(makeQuery(4, 'big.test.', TYPE.AXFR)), KEY, hmac, { now: T0 });
  const msgs = new Authority([bigZone()]).answer(encodeDns(makeQuery(4, 'big.test.', TYPE.AXFR)), { transport: 'tcp', allowAxfr: true });
  assert.ok(msgs.length >= 3);
  // Sign as a server that signs the first and the last only (RFC 8945 §5.3.1 allows it).
  const first = signMessage(msgs[0]!, KEY, hmac, { now: T0, requestMac: q.mac });
  const middle = msgs.slice(1, -1);
  const joined = Buffer.concat(middle.map((m) => Buffer.from(m)));
  const lastSigned = signMessage(msgs.at(-1)!, KEY, hmac, { now: T0, requestMac: first.mac, timersOnly: true });
  // The last one's MAC must cover the unsigned ones: re-sign over their concatenation.
  const cover = signMessage(Buffer.concat([joined, Buffer.from(msgs.at(-1)!)]), KEY, hmac, {
    now: T0,
    requestMac: first.mac,
    timersOnly: true,
  });
  const last = Buffer.concat([Buffer.from(msgs.at(-1)!), Buffer.from(cover.bytes.subarray(joined.length + msgs.at(-1)!.length))]);
  last.writeUInt16BE(last.readUInt16BE(10) + 1, 10);
  const check = (seq: Uint8Array[]): (string | undefined)[] => {
    const v = new TsigResponseVerifier(KEY, hmac, q.mac);
    return seq.map((b) => v.next(b, decoded(b), T0)?.error);
  };
  assert.deepEqual(
    check([first.bytes, ...middle, last]),
    [first.bytes, ...middle, last].map(() => undefined),
  );
  assert.match(check([first.bytes, ...middle, lastSigned.bytes]).at(-1)!, /does not verify \(BADSIG\)/, 'a MAC that skips the unsigned');
  assert.match(check([msgs[0]!])[0]!, /not signed/);
  const v = new TsigResponseVerifier(KEY, hmac, q.mac);
  v.next(first.bytes, decoded(first.bytes), T0);
  for (let i = 0; i < 99; i++) assert.equal(v.next(msgs[1]!, decoded(msgs[1]!), T0), undefined);
  assert.match(v.next(msgs[1]!, decoded(msgs[1]!), T0)!.error, /more than 99/);
});

// splitTsig and the TSIG RDATA parser field by field, for survivors of the first mutation run of tsig.ts
// (9bfa609): Time Signed above 32 bits (`*` as `/`), the Original ID put back (the put16 removed), another
// additional record before the TSIG (the additional filter removed or made true), a TSIG in the answer or authority section (each
// `some` made false or emptied), class and TTL checked, the MAC size, Other Len and the algorithm name's
// bounds, and the algorithm name's escapes (each part of the printable test made true or loosened).
test('splitTsig: each field read back exactly; every malformed or misplaced TSIG is FORMERR', () => {
  const q = encodeDns({ ...makeQuery(0x1234, 'a.test.', TYPE.A), additional: [] });
  const time = 2 ** 40 + 5;
  const s = signMessage(q, KEY, hmac, { now: time, other: new Uint8Array([1, 2, 3]) });
  const split = (b: Uint8Array) => splitTsig(b, decoded(b));
  const ok = split(s.bytes);
  assert.ok(typeof ok === 'object');
  assert.deepEqual(
    [
      ok.record.keyName,
      ok.record.algorithm,
      ok.record.timeSigned,
      ok.record.fudge,
      ok.record.originalId,
      ok.record.error,
      [...ok.record.other],
    ],
    ['xfr-key.', 'hmac-sha256.', time, 300, 0x1234, 0, [1, 2, 3]],
  );
  assert.deepEqual([...ok.record.mac], [...s.mac]);
  assert.deepEqual(ok.unsigned, q);
  // A forwarder changed the ID: the unsigned message has the original one back.
  const moved = Uint8Array.from(s.bytes);
  moved[0] = 0x99;
  const m2 = split(moved);
  assert.ok(typeof m2 === 'object');
  assert.deepEqual(m2.unsigned, q);
  // With another additional record before the TSIG.
  const withGlue = encodeDns({
    ...makeQuery(7, 'a.test.', TYPE.A),
    additional: [{ name: 'a.test.', type: TYPE.A, class: 1, ttl: 0, data: { kind: 'A', address: '192.0.2.1' } }],
  });
  assert.equal(typeof split(signMessage(withGlue, KEY, hmac, { now: time }).bytes), 'object');
  // TSIG records in other sections.
  const tsigRr = decoded(s.bytes).additional[0]!;
  for (const section of ['answers', 'authority'] as const) {
    const b = encodeDns({ ...decoded(q), [section]: [tsigRr] });
    assert.equal(split(b), 'formerr', section);
  }
  // The RR's fixed fields and the RDATA's inner lengths.
  const rr = q.length + 9; // 'xfr-key.' on the wire is 9 octets
  const rdata = rr + 10;
  const alg = rdata + 13; // 'hmac-sha256.' is 13 octets
  const mac = alg + 10;
  const tail = mac + 32;
  const bad = (at: number, v: number, width: 1 | 2 | 4 = 2): Uint8Array => {
    const b = Buffer.from(s.bytes);
    if (width === 1) b.writeUInt8(v, at);
    else if (width === 2) b.writeUInt16BE(v, at);
    else b.writeUInt32BE(v, at);
    return b;
  };
  assert.equal(split(bad(rr + 2, 1)), 'formerr', 'class IN');
  assert.equal(split(bad(rr + 4, 1, 4)), 'formerr', 'TTL 1');
  assert.equal(split(bad(alg + 8, 33)), 'formerr', 'MAC Size one more');
  assert.equal(split(bad(tail + 4, 4)), 'formerr', 'Other Len one more');
  assert.equal(split(bad(tail + 4, 2)), 'formerr', 'Other Len one less');
  assert.equal(split(bad(rdata, 64, 1)), 'formerr', 'a label of 64');
  assert.equal(split(bad(rdata + 12, 1, 1)), 'formerr', 'the name runs into the fields');
  // The algorithm's name with octets that must be escaped: a dot, a space, a backslash, DEL, and upper case.
  const odd = Buffer.from(s.bytes);
  Buffer.from([0x61, 0x2e, 0x20, 0x5c, 0x7f, 0x41]).copy(odd, rdata + 5);
  const o = split(odd);
  assert.ok(typeof o === 'object');
  assert.equal(o.record.algorithm, 'hmaca\\046\\032\\092\\127a6.');
  // RDATA too short for the fields after the name.
  const short = Buffer.concat([Buffer.from(s.bytes.subarray(0, rdata)), Buffer.from([0x00, 1, 2, 3])]);
  short.writeUInt16BE(4, rdata - 2);
  assert.equal(split(short), 'formerr', 'four octets after the root name');
});
