/**
 * The `fata` front door: usage on stdout with exit 0 when asked for, errors on stderr with exit 1,
 * `fata run DIR` quiet about the build it does, boot-argument mistakes on stderr, the npm scripts,
 * and `fata init`'s refusals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
/** Not this test runner's environment: npm scripts run as from a shell. */
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT'));

function run(cmd: string, args: string[], cwd = ROOT): { status: number | null; out: string; err: string } {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}
const fata = (...args: string[]) => run(join(ROOT, 'bin/fata'), args);

test('fata --help, -h, help and help COMMAND, and COMMAND --help, print usage on stdout and exit 0', () => {
  const cases: [string[], RegExp][] = [
    [['--help'], /usage: fata build[\s\S]*fata run[\s\S]*fata init/],
    [['-h'], /usage: fata build/],
    [['help'], /usage: fata build/],
    [['help', 'run'], /^usage: fata run/],
    [['build', '--help'], /^usage: fata build[\s\S]*--target=node\|spt/],
    [['build', 'examples/hello', '-h'], /^usage: fata build/],
    [['run', '--help'], /^usage: fata run/],
    [['run', '--mem=64', '-h'], /^usage: fata run/],
    [['init', '--help'], /^usage: fata init/],
  ];
  for (const [args, want] of cases) {
    const r = fata(...args);
    assert.equal(r.status, 0, `fata ${args.join(' ')}: ${r.err}`);
    assert.match(r.out, want, `fata ${args.join(' ')}`);
    assert.equal(r.err, '', `fata ${args.join(' ')} wrote to stderr`);
  }
});

test('a wrong command, no command, or help for no such command: usage on stderr, nothing on stdout, exit 1', () => {
  for (const args of [['frobnicate'], [], ['help', 'frobnicate'], ['build', '--frob'], ['init']]) {
    const r = fata(...args);
    assert.equal(r.status, 1, `fata ${args.join(' ')}`);
    assert.equal(r.out, '', `fata ${args.join(' ')} wrote to stdout`);
    assert.match(r.err, /usage: fata/, `fata ${args.join(' ')}`);
  }
});

test("fata run DIR --help: the service's own help first, with no build output before it", () => {
  const r = fata('run', 'examples/hello', '--help');
  assert.equal(r.status, 0, r.err);
  assert.match(r.out, /^usage: fata run \[TENDER FLAGS\] \[--\] hello\.fata/);
  assert.match(r.out, /--greeting=TEXT/);
  assert.doesNotMatch(r.out + r.err, /bytes|build: wrote|total/, 'the size table was printed');
});

test('a boot-argument mistake is said on stderr, before the unikernel starts, and exits 1', () => {
  const r = fata('run', 'examples/hello', '--times=x');
  assert.equal(r.status, 1);
  assert.equal(r.out, '', 'the unikernel started or the error went to stdout');
  assert.match(r.err, /^hello: .*--times/m);
});

test('npm run hello and npm start work from the checkout, with no EBADENGINE', () => {
  const hello = run('npm', ['run', 'hello', '--', '--greeting=from npm']);
  assert.equal(hello.status, 0, hello.err);
  assert.match(hello.out, /event=hello greeting="from npm"/);
  const start = run('npm', ['start', '--', '--help']);
  assert.equal(start.status, 0, start.err);
  assert.match(start.out, /usage: fata run \[TENDER FLAGS\] \[--\] website\.fata/);
  assert.doesNotMatch(hello.err + start.err, /EBADENGINE/);
});

test('fata init refuses a name npm or the image format cannot take, and a folder that is not empty', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fata-init-'));
  try {
    const bad = fata('init', join(dir, 'My Service'));
    assert.equal(bad.status, 1);
    assert.match(bad.err, /FATA_BAD_NAME.*lower-case/);
    mkdirSync(join(dir, 'taken'));
    writeFileSync(join(dir, 'taken', 'x'), 'x');
    const taken = fata('init', join(dir, 'taken'));
    assert.equal(taken.status, 1);
    assert.match(taken.err, /FATA_NOT_EMPTY/);
    const ok = fata('init', join(dir, 'fresh'));
    assert.equal(ok.status, 0, ok.err);
    assert.match(ok.out, /cd .*fresh && npm install && npm start/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The machine's own Node, when it is another version than the pinned engine (Debian's: /usr/bin/node). */
const otherNode = ((): string | undefined => {
  const r = spawnSync('/usr/bin/node', ['--version'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() !== process.version ? r.stdout.trim() : undefined;
})();

test('node bin/fata.mjs under another Node runs on the pinned engine and says so once', {
  skip: !otherNode && 'no other Node than the pinned one at /usr/bin/node',
}, () => {
  const pinned = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).dependencies.node as string;
  rmSync(join(ROOT, 'node_modules/.cache/fata', `engine-note-${otherNode}`), { force: true });
  const first = run('/usr/bin/node', ['bin/fata.mjs', 'run', 'examples/hello', '--greeting=engine']);
  assert.equal(first.status, 0, first.err);
  assert.match(first.out, new RegExp(`engine="node v${pinned.replace(/\./g, '\\.')}"`), 'the unikernel ran on another engine');
  assert.match(
    first.err,
    new RegExp(`running on Fata's pinned engine, Node ${pinned.replace(/\./g, '\\.')} .*not this shell's Node ${otherNode}`),
  );
  const again = run('/usr/bin/node', ['bin/fata.mjs', '--help']);
  assert.equal(again.status, 0, again.err);
  assert.equal(again.err, '', 'the note came twice');
  assert.match(again.out, /^usage: fata build/);
});

test("the README's npx commands for this checkout run as written, with no EBADENGINE", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  for (const cmd of ['npm ci && npx fata run examples/website', 'npx fata run examples/website --help', 'npx fata run examples/hello'])
    assert.ok(readme.includes(cmd), `the README no longer says '${cmd}': update this test with it`);
  const help = run('npx', ['fata', 'run', 'examples/website', '--help']);
  assert.equal(help.status, 0, help.err);
  assert.match(help.out, /--http-port=N/);
  const hello = run('npx', ['fata', 'run', 'examples/hello']);
  assert.equal(hello.status, 0, hello.err);
  assert.match(hello.out, /event=hello greeting="Hello, World"/);
  assert.doesNotMatch(help.err + hello.err, /EBADENGINE/);
});
