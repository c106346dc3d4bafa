import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseJson, pointer } from './json.ts';
import { validate } from './schema.ts';
import { type HostPolicy, loadHostPolicy } from './policy.ts';
import type { DaemonView, RunningUnikernel } from './check.ts';
import { describeStep, plan } from './plan.ts';

test('parseJson: the value JSON.parse gives, and where each member and element starts', () => {
  const text = '{\n  "a": [1, {"b": "x"}],\n  "c~/d": null\n}\n';
  const r = parseJson(text);
  assert.ok(!('error' in r));
  assert.deepEqual(r.value, JSON.parse(text));
  assert.deepEqual(r.positions.get(''), { value: { line: 1, column: 1 } });
  assert.deepEqual(r.positions.get('/a'), { value: { line: 2, column: 8 }, key: { line: 2, column: 3 } });
  assert.deepEqual(r.positions.get('/a/1/b'), { value: { line: 2, column: 18 }, key: { line: 2, column: 13 } });
  assert.deepEqual(r.positions.get(pointer(['c~/d'])), { value: { line: 3, column: 11 }, key: { line: 3, column: 3 } });
  assert.equal(pointer(['c~/d']), '/c~0~1d');
});

test('parseJson: a syntax error, a key given twice, trailing text — each with its line and column; no input throws', () => {
  assert.deepEqual(parseJson('{\n  "a": 1\n  "b": 2\n}'), {
    error: "expected ',' or '}' after a member, found '\"'",
    at: { line: 3, column: 3 },
  });
  assert.deepEqual(parseJson('{"a": 1,\n "a": 2}'), { error: 'the key "a" is given twice in this object', at: { line: 2, column: 2 } });
  assert.deepEqual(parseJson('[1] x'), { error: "expected the end of the file after the value, found 'x'", at: { line: 1, column: 5 } });
  assert.deepEqual(parseJson('{"a": tru}'), {
    error: "expected a value (an object, array, string, number, true, false or null), found 't'",
    at: { line: 1, column: 7 },
  });
  assert.match((parseJson('"a\nb"') as { error: string }).error, /control character/);
  assert.match((parseJson('') as { error: string }).error, /found the end of the file/);
  fc.assert(
    fc.property(fc.string(), (s) => {
      const r = parseJson(s);
      let expected: unknown;
      try {
        expected = JSON.parse(s);
      } catch {
        return 'error' in r;
      }
      // What JSON.parse accepts, this accepts the same, unless a key repeats (which it refuses on purpose).
      return 'error' in r ? /given twice/.test(r.error) : JSON.stringify(r.value) === JSON.stringify(expected);
    }),
  );
  // "__proto__" is a member like any other (fast-check found the parser setting the prototype instead).
  const proto = parseJson('{"":{"__proto__":false}}');
  assert.ok(!('error' in proto));
  assert.equal(JSON.stringify(proto.value), '{"":{"__proto__":false}}');
  assert.equal(Object.getPrototypeOf((proto.value as Record<string, object>)[''])!, Object.prototype);
  fc.assert(
    fc.property(fc.json(), (s) => {
      const r = parseJson(s);
      return !('error' in r) && JSON.stringify(r.value) === JSON.stringify(JSON.parse(s));
    }),
  );
});

test('validate: unknown keys (at the key), required members, types, ranges, patterns, maps and alternatives', () => {
  const s = {
    type: 'object',
    required: ['n'],
    properties: {
      n: { type: 'integer', minimum: 1, maximum: 9 },
      m: { type: 'object', keys: { pattern: /^[a-z]+$/, hint: 'lower case' }, values: { type: 'boolean' } },
      e: { anyOf: [{ type: 'string', enum: ['x'] }, { type: 'integer' }], hint: '"x" or a number' },
    },
  } as const;
  assert.deepEqual(validate({ n: 3, m: { ok: true }, e: 'x' }, s), []);
  assert.deepEqual(validate({ n: 10, m: { Bad: true, ok: 1 }, e: 'y', z: 1 }, s), [
    { path: '/n', message: 'must be at most 9' },
    { path: '/m/Bad', key: true, message: '"Bad" is not lower case' },
    { path: '/m/ok', message: 'must be true or false, not an integer' },
    { path: '/e', message: 'must be "x" or a number' },
    { path: '/z', key: true, message: 'unknown key "z"; known here: n, m, e' },
  ]);
  assert.deepEqual(validate({}, s), [{ path: '', message: 'needs "n"' }]);
  assert.deepEqual(validate([], s), [{ path: '', message: 'must be an object, not an array' }]);
});

const FILE = `{
  "version": 1,
  "networks": { "n0": { "cidr": "10.9.0.1/24" } },
  "volumes": { "data": { "size": "4M" } },
  "unikernels": {
    "web": {
      "image": "web.fata",
      "memoryMb": 128,
      "nets": { "service": { "bridge": "n0", "mac": "02:00:00:00:00:0A" } },
      "blocks": { "storage": { "volume": "data" } },
      "bootArgs": ["--ipv4=10.9.0.2/24"],
      "restart": "on-failure"
    }
  }
}
`;

test('loadHostPolicy: the declarations, with relative images from the file and defaults filled in', () => {
  const p = loadHostPolicy('/etc/fata/host.json', FILE) as HostPolicy;
  assert.ok(!('problems' in p));
  assert.deepEqual(p.networks, [{ name: 'n0', cidr: '10.9.0.1/24', nat: false, dhcp: undefined }]);
  assert.deepEqual(p.volumes, [{ name: 'data', bytes: 4 << 20 }]);
  assert.deepEqual(p.unikernels, [
    {
      name: 'web',
      image: '/etc/fata/web.fata',
      signer: undefined,
      memMb: 128,
      nets: [{ dev: 'service', bridge: 'n0', mac: '02:00:00:00:00:0a' }],
      blocks: [{ dev: 'storage', volume: 'data' }],
      bootArgs: ['--ipv4=10.9.0.2/24'],
      restart: { kind: 'on-failure', codes: [255] },
      maxRestarts: 0,
    },
  ]);
  assert.equal(p.where('/unikernels/web/memoryMb'), '/etc/fata/host.json:8:19');
  assert.equal(p.where('/unikernels/web/nothing/here'), '/etc/fata/host.json:6:12', 'the nearest enclosing value');
});

test('loadHostPolicy: each schema problem names the file, line and column', () => {
  const cases: [string, string, RegExp][] = [
    ['"memoryMb": 128', '"memoryMb": 16', /^\/h\.json:8:19 \/unikernels\/web\/memoryMb must be at least 64$/],
    ['"memoryMb": 128', '"memory": 128', /^\/h\.json:8:7 \/unikernels\/web\/memory unknown key "memory"; known here: image, signer/],
    ['"mac": "02:00:00:00:00:0A"', '"mac": "02:00"', /^\/h\.json:9:53 \/unikernels\/web\/nets\/service\/mac "02:00" is not a MAC address/],
    [
      '"restart": "on-failure"',
      '"restart": "sometimes"',
      /^\/h\.json:12:18 \/unikernels\/web\/restart must be "never", "always", "on-failure"/,
    ],
    ['"web": {', '"Web!": {', /^\/h\.json:6:5 \/unikernels\/Web! "Web!" is not a unikernel name/],
    ['"size": "4M"', '"size": "4 megs"', /^\/h\.json:4:34 \/volumes\/data\/size must be a size like "64M"/],
    ['"size": "4M"', '"size": 1000', /^\/h\.json:4:34 \/volumes\/data\/size a volume size is a positive multiple of 512 bytes$/],
    ['"version": 1', '"version": 2', /^\/h\.json:2:14 \/version must be at most 1$/],
    ['"image": "web.fata",', '', /^\/h\.json:6:12 \/unikernels\/web needs "image"$/],
    [
      '"bootArgs": ["--ipv4=10.9.0.2/24"],',
      '"bootArgs": ["--ipv4=10.9.0.2/24"]',
      /^\/h\.json:12:7 {2}expected ',' or '}' after a member, found '"'$/,
    ],
  ];
  for (const [from, to, re] of cases) {
    assert.ok(FILE.includes(from), from);
    const r = loadHostPolicy('/h.json', FILE.replace(from, to));
    assert.ok('problems' in r, `${to} passed`);
    const [first] = r.problems;
    assert.match(`${first!.at} ${first!.path} ${first!.message}`, re);
  }
  const unread = loadHostPolicy('/nonexistent/policy.json');
  assert.ok('problems' in unread);
  assert.match(unread.problems[0]!.message, /cannot read it \(ENOENT\)/);
});

const running = (over: Partial<RunningUnikernel> = {}): RunningUnikernel => ({
  name: 'web',
  state: 'running',
  image: { sha256: 'a'.repeat(64), source: '/etc/fata/web.fata', name: 'web' },
  nets: [{ dev: 'service', bridge: 'n0', mac: '02:00:00:00:00:0a', tap: 'fk0000-1-0' }],
  blocks: [{ dev: 'storage', volume: 'data' }],
  memMb: 128,
  restartPolicy: { kind: 'on-failure', codes: [255] },
  maxRestarts: 0,
  bootArgs: ['--ipv4=10.9.0.2/24'],
  ...over,
});

const view = (unikernels: RunningUnikernel[], volumes = [{ name: 'data', bytes: 4 << 20 }]): DaemonView => ({
  owner: 'default',
  admin: true,
  limits: {},
  ownerLimits: undefined,
  trust: false,
  stateDir: '/var/lib/fata',
  unikernels,
  volumes,
});

test('plan: nothing when the daemon runs what the file declares; each kind of difference its step, in order', () => {
  const p = loadHostPolicy('/etc/fata/host.json', FILE) as HostPolicy;
  const sha = new Map([['web', 'a'.repeat(64)]]);
  const nets = [{ name: 'n0', cidr: '10.9.0.1/24', nat: false, forwards: [] }];
  const up = (): boolean => true;
  assert.deepEqual(plan(p, view([running()]), sha, nets, up), []);
  // A network whose state exists but whose bridge does not (a create cut short) is made again.
  assert.deepEqual(plan(p, view([running()]), sha, nets, () => false).map(describeStep), [
    'make again network n0 (10.9.0.1/24, no nat): its bridge is missing',
  ]);
  // Everything missing: network, volume, unikernel — in that order.
  assert.deepEqual(plan(p, view([], []), sha, [], up).map(describeStep), [
    'create network n0 (10.9.0.1/24, no nat)',
    'create volume data (4 MiB)',
    `create web (declared): /etc/fata/web.fata ${'a'.repeat(12)}, 128 MB, service=n0@02:00:00:00:00:0a storage=data, -- --ipv4=10.9.0.2/24`,
  ]);
  // Only the image: an update. Anything else: destroyed and created again, keeping a MAC the file leaves out.
  const newer = new Map([['web', 'b'.repeat(64)]]);
  assert.deepEqual(plan(p, view([running()]), newer, nets, up), [
    { op: 'update', name: 'web', image: '/etc/fata/web.fata', sha256: 'b'.repeat(64), from: 'a'.repeat(64) },
  ]);
  const noMac = loadHostPolicy('/etc/fata/host.json', FILE.replace(', "mac": "02:00:00:00:00:0A"', '')) as HostPolicy;
  const steps = plan(noMac, view([running({ memMb: 256, nets: [{ ...running().nets[0]!, mac: '02:aa:00:00:00:01' }] })]), newer, nets, up);
  assert.deepEqual(steps.map(describeStep), [
    `destroy web (to create it again: image ${'a'.repeat(12)} → ${'b'.repeat(12)}; memory 256 → 128 MB)`,
    `create web (again: image ${'a'.repeat(12)} → ${'b'.repeat(12)}; memory 256 → 128 MB): /etc/fata/web.fata ${'b'.repeat(12)}, 128 MB, service=n0@02:aa:00:00:00:01 storage=data, -- --ipv4=10.9.0.2/24`,
  ]);
  // Not declared: destroyed, unikernels before volumes.
  const extra = plan(
    p,
    view(
      [running(), running({ name: 'old', blocks: [] })],
      [
        { name: 'data', bytes: 4 << 20 },
        { name: 'junk', bytes: 512 },
      ],
    ),
    sha,
    nets,
    up,
  );
  assert.deepEqual(extra.map(describeStep), ['destroy old (not declared)', 'destroy volume junk (not declared; its data goes)']);
  for (const [over, phrase] of [
    [{ bootArgs: [] }, "boot arguments '' → '--ipv4=10.9.0.2/24'"],
    [{ restartPolicy: { kind: 'always' } }, 'restart always → on-failure 255'],
    [{ maxRestarts: 3 }, 'maxRestarts 3 → 0'],
    [{ blocks: [] }, 'blocks - → storage=data'],
    [{ nets: [{ ...running().nets[0]!, bridge: 'br9' }] }, 'nets service=br9@02:00:00:00:00:0a → service=n0@02:00:00:00:00:0a'],
  ] as [Partial<RunningUnikernel>, string][]) {
    const s = plan(p, view([running(over)]), sha, nets, up);
    assert.equal(s.length, 2, phrase);
    assert.equal(describeStep(s[0]!), `destroy web (to create it again: ${phrase})`);
  }
});
