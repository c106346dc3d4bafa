import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeRequest, PROTOCOL_VERSION, socketPath } from './protocol.ts';
import { parseCreate, parseSince, parseSize } from './commands.ts';

test('decodeRequest: the version, an id and a known op, or a sentence; arbitrary text never throws', () => {
  assert.deepEqual(decodeRequest('{"v":1,"id":3,"op":"list"}'), { v: 1, id: 3, op: 'list' });
  assert.match(
    (decodeRequest('{"v":2,"id":3,"op":"list"}') as { error: string }).error,
    /version 2 is not spoken here; this daemon speaks v1/,
  );
  assert.equal((decodeRequest('{"v":2,"id":3,"op":"list"}') as { id?: number }).id, 3, 'the refusal can still name the request');
  assert.match((decodeRequest('{"v":1,"op":"list"}') as { error: string }).error, /numeric id/);
  assert.match((decodeRequest('{"v":1,"id":1,"op":"format-disk"}') as { error: string }).error, /unknown op 'format-disk'/);
  assert.match((decodeRequest('[1]') as { error: string }).error, /JSON object/);
  assert.match((decodeRequest('{') as { error: string }).error, /one JSON object per line/);
  fc.assert(fc.property(fc.string(), (s) => typeof decodeRequest(s) === 'object'));
  assert.equal(PROTOCOL_VERSION, 1);
});

test('socketPath: --socket, else FATA_SOCKET, else /run/fata.sock', () => {
  assert.equal(socketPath('/a', { FATA_SOCKET: '/b' }), '/a');
  assert.equal(socketPath(undefined, { FATA_SOCKET: '/b' }), '/b');
  assert.equal(socketPath(undefined, {}), '/run/fata.sock');
});

test('fata create words → the protocol spec', () => {
  const spec = parseCreate(
    [
      'web',
      'img.fata',
      '--net:service=br0@02:00:00:00:00:05',
      '--block:disk=data',
      '--mem=128',
      '--restart-on-fail=1,255',
      '--max-restarts=5',
      '--',
      '--ipv4=10.0.0.2/24',
      '--mem=9',
    ],
    '/srv',
  );
  assert.deepEqual(spec, {
    name: 'web',
    image: '/srv/img.fata',
    nets: [{ dev: 'service', bridge: 'br0', mac: '02:00:00:00:00:05' }],
    blocks: [{ dev: 'disk', volume: 'data' }],
    memMb: 128,
    restart: { kind: 'on-failure', codes: [1, 255] },
    maxRestarts: 5,
    bootArgs: ['--ipv4=10.0.0.2/24', '--mem=9'],
  });
  assert.deepEqual(parseCreate(['a', '/i', '--restart-on-fail'], '/').restart, { kind: 'on-failure', codes: [] });
  assert.deepEqual(parseCreate(['a', '/i', '--restart=always'], '/').restart, { kind: 'always' });
  assert.throws(() => parseCreate(['a', '/i', '--restart-on-fail=300'], '/'), /exit codes are 0-255/);
  assert.throws(() => parseCreate(['a', '/i', '--nett:x=y'], '/'), /unknown flag '--nett:x=y'/);
  assert.throws(() => parseCreate(['a'], '/'), /give NAME and IMAGE/);
});

test('sizes and times', () => {
  assert.equal(parseSize('64M'), 64 << 20);
  assert.equal(parseSize('1G'), 1 << 30);
  assert.equal(parseSize('512'), 512);
  assert.equal(parseSize('2KiB'), 2048);
  assert.equal(parseSize('lots'), undefined);
  assert.equal(parseSince('10m', 1_000_000), 400_000);
  assert.equal(parseSince('2h', 10_000_000), 10_000_000 - 7_200_000);
  assert.equal(parseSince('2026-11-30T22:00:00Z', 0), Date.parse('2026-11-30T22:00:00Z'));
  assert.equal(parseSince('yesterday', 0), undefined);
});
