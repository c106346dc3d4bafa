/**
 * npm's EBADENGINE warnings, from package-lock.json: every package a user of fata installs (its dependencies,
 * not its devDependencies, which npm never installs for a dependent or a global install) accepts every Node
 * that fata's own `engines.node` accepts, so `npm install fata` on any Node fata claims prints none; and the
 * devDependencies that want a newer Node (only `npm ci` in a checkout warns about them) are exactly the
 * reviewed list below, each named in the README with why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;

type Version = [number, number, number];
type Comparator = { op: '>=' | '>' | '<' | '<=' | '='; v: Version };

function cmp(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

function parts(s: string): number[] {
  if (!/^\d+(\.(\d+|x|\*)){0,2}$/.test(s)) throw new Error(`'${s}' is not a version this test reads: extend parseRange`);
  return s
    .split('.')
    .filter((p) => /^\d+$/.test(p))
    .map(Number);
}

/** One comparator of npm's range syntax as the lock file has them (`^20.19.0`, `>= 20.19.0`, `20`, `~1.2.3`, `<22`). */
function comparators(token: string): Comparator[] {
  const m = /^(\^|~|>=|<=|>|<|=)?(.*)$/.exec(token)!;
  const op = m[1] ?? '';
  const p = parts(m[2]!);
  const v: Version = [p[0] ?? 0, p[1] ?? 0, p[2] ?? 0];
  if (op === '>=' || op === '>' || op === '<' || op === '<=') return [{ op, v }];
  if (op === '^')
    return [
      { op: '>=', v },
      { op: '<', v: v[0] > 0 ? [v[0] + 1, 0, 0] : [0, v[1] + 1, 0] },
    ];
  if (op === '~' || p.length === 2)
    return [
      { op: '>=', v },
      { op: '<', v: [v[0], v[1] + 1, 0] },
    ];
  if (p.length === 1)
    return [
      { op: '>=', v },
      { op: '<', v: [v[0] + 1, 0, 0] },
    ];
  return [{ op: '=', v }];
}

/** A range: alternatives joined by `||`, each a set of comparators that must all hold. */
function parseRange(range: string): Comparator[][] {
  return range.split('||').map((alt) =>
    alt
      .trim()
      .replace(/(>=|<=|>|<|=|\^|~)\s+/g, '$1')
      .split(/\s+/)
      .filter((t) => t !== '' && t !== '*' && t !== 'x')
      .flatMap(comparators),
  );
}

function satisfies(v: Version, range: Comparator[][]): boolean {
  const holds = (c: Comparator): boolean => {
    const d = cmp(v, c.v);
    if (c.op === '>=') return d >= 0;
    if (c.op === '>') return d > 0;
    if (c.op === '<') return d < 0;
    if (c.op === '<=') return d <= 0;
    return d === 0;
  };
  return range.some((alt) => alt.every(holds));
}

/** The Node versions where two ranges can differ: each bound they name, just below it, and every major from 14 to 40. */
function candidates(...ranges: Comparator[][][]): Version[] {
  const out: Version[] = [];
  for (let major = 14; major <= 40; major++) out.push([major, 0, 0]);
  for (const c of ranges.flat(2)) {
    const [a, b, p] = c.v;
    out.push(c.v, [a, b, p + 1]);
    if (p > 0) out.push([a, b, p - 1]);
    else if (b > 0) out.push([a, b - 1, 999]);
    else if (a > 0) out.push([a - 1, 999, 999]);
  }
  return out;
}

/** A Node that `outer` accepts and `inner` does not, if there is one. */
function escapes(outer: string, inner: string): string | undefined {
  const o = parseRange(outer);
  const i = parseRange(inner);
  const v = candidates(o, i).find((c) => satisfies(c, o) && !satisfies(c, i));
  return v?.join('.');
}

type LockEntry = { version?: string; dev?: boolean; devOptional?: boolean; engines?: { node?: string } | string[] };
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** Each lock entry with an engines.node range that lets in a Node fata's own range accepts: `name@version (range; e.g. Node X)`. */
function tooNarrow(wantDev: boolean): { name: string; what: string }[] {
  const out: { name: string; what: string }[] = [];
  for (const [path, e] of Object.entries(lock.packages)) {
    const range = !Array.isArray(e.engines) ? e.engines?.node : undefined;
    if (path === '' || range === undefined || Boolean(e.dev || e.devOptional) !== wantDev) continue;
    const node = escapes(pkg.engines.node, range);
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    if (node) out.push({ name, what: `${name}@${e.version} wants Node ${range}; fata's ${pkg.engines.node} lets in ${node}` });
  }
  return out;
}

test('the range check itself: subsets, gaps and the forms the lock file uses', () => {
  assert.equal(escapes('^20.19.0 || >=22.12.0', '>= 20.19.0'), undefined);
  assert.equal(escapes('^20.19.0 || >=22.12.0', '^20.17.0 || >=22.9.0'), undefined);
  assert.equal(escapes('>=18', '^20.19.0 || >=22.12.0'), '18.0.0');
  assert.equal(escapes('^20.19.0 || >=22.12.0', '>=22'), '20.19.0');
  assert.equal(escapes('^20.19.0 || >=22.12.0', '^20.19.0 || >=22.13.0'), '22.12.0');
  assert.equal(escapes('>=20', '20 || >=22'), '21.0.0');
  assert.equal(escapes('>=20', '~20.1.0'), '20.0.0');
  assert.throws(() => escapes('>=20', 'lts/*'), /not a version this test reads/);
});

test("every package a user of fata installs accepts every Node fata's engines.node accepts (no EBADENGINE from npm install fata)", () => {
  assert.deepEqual(
    tooNarrow(false).map((p) => p.what),
    [],
    "raise package.json's engines.node to what these need, or say in the README why not",
  );
});

/**
 * The devDependencies, and their dependencies, that want a newer Node than fata accepts: npm ci in a checkout
 * warns EBADENGINE for each (never npm install fata, never npm run or npx). Reviewed: Stryker 10 and the Babel 8
 * its instrumenter uses want Node 22; Stryker's prompts (@inquirer/*) leave out Node 22.12 and 23.0-23.4; cookie 2,
 * under light-my-request (Fastify's injector, examples/frameworks), wants Node 22; so do puppeteer-core and its
 * @puppeteer/browsers (the web console's browser test). Mutation testing, the frameworks and the browser test run
 * on the pinned engine, so the warnings are only noise.
 */
const DEV_EXCEPTIONS: { match: RegExp; readme: string }[] = [
  { match: /^@stryker-mutator\//, readme: 'Stryker 10' },
  { match: /^@babel\//, readme: 'Babel 8' },
  { match: /^@inquirer\//, readme: '`@inquirer/' },
  { match: /^cookie$/, readme: '`cookie`' },
  { match: /^(puppeteer-core|@puppeteer\/browsers)$/, readme: '`puppeteer-core`' },
];

test('the devDependencies that want a newer Node are exactly the reviewed exceptions, each named in the README', () => {
  const narrow = tooNarrow(true);
  assert.deepEqual(
    narrow.filter((p) => !DEV_EXCEPTIONS.some((x) => x.match.test(p.name))).map((p) => p.what),
    [],
    'a new devDependency warns EBADENGINE on npm ci: review it, add it to DEV_EXCEPTIONS and name it in the README',
  );
  for (const x of DEV_EXCEPTIONS) {
    assert.ok(
      narrow.some((p) => x.match.test(p.name)),
      `${x.match} no longer warns: take it out of DEV_EXCEPTIONS and the README`,
    );
    assert.match(readme, new RegExp(`EBADENGINE[^]{0,600}${x.readme.replace(/[`]/g, '.')}`), `the README does not name ${x.readme}`);
  }
});
