/**
 * Fata as a user gets it: the tarball `npm pack` makes (nothing published), `fata init` into a folder
 * outside the repository, `npm install` there, then the new project's README commands: its type-check
 * (through the package's exports and their types), its build, `npm start` serving on 127.0.0.1, `npm test`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from './ports.ts';
import { waitForLine } from './netns.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const hasNpm = spawnSync('npm', ['--version'], { encoding: 'utf8' }).status === 0;
/** The environment a user's shell has: not this test runner's (a child `node --test` seeing it would skip its files). */
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT'));

/** A shell without this checkout's node_modules/.bin on PATH: npm runs on the machine's Node, whose engines npm checks. */
const machineEnv = {
  ...env,
  PATH: (env.PATH ?? '')
    .split(':')
    .filter((d) => !d.endsWith('/node_modules/.bin'))
    .join(':'),
};

function sh(cmd: string, args: string[], cwd: string, timeoutMs = 180_000, shEnv = env): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd, env: shEnv, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** npm pack of this checkout into `dir`: the tarball's path and the files it holds. */
function pack(dir: string): { tarball: string; files: string[] } {
  const r = sh('npm', ['pack', '--json', '--pack-destination', dir], ROOT);
  assert.equal(r.status, 0, r.out);
  const info = JSON.parse(r.out.slice(r.out.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  return { tarball: join(dir, info[0]!.filename), files: info[0]!.files.map((f) => f.path) };
}

test('the tarball holds the CLI, the sources, the docs, the API reference and the systemd unit, and no tests, bench or build output', {
  skip: !hasNpm && 'npm is not installed',
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fata-pack-'));
  try {
    const { files } = pack(dir);
    for (const f of [
      'bin/fata',
      'bin/fata.mjs',
      'src/index.ts',
      'src/cli/init.ts',
      'src/tender/spt-tender.c',
      'docs/api/fata.md',
      'contrib/fata.service', // docs/daemon.md and the README tell users to copy it from the package.
      'README.md',
    ])
      assert.ok(files.includes(f), `${f} is missing from the tarball`);
    assert.deepEqual(
      files.filter((f) => /\.test\.ts$|^(test|bench|examples|out|reports)\/|(^|\/)dist\//.test(f)),
      [],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fata init, npm install from the tarball, then the project type-checks, builds, serves on 127.0.0.1 (npm start) and passes its test (npm test); npx fata init from the installed package', {
  skip: !hasNpm && 'npm is not installed',
  timeout: 600_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fata-user-'));
  try {
    const { tarball } = pack(dir);
    const project = join(dir, 'my-service');
    const init = sh(join(ROOT, 'bin/fata'), ['init', `--fata=${tarball}`, project], dir);
    assert.equal(init.status, 0, init.out);
    assert.ok(existsSync(join(project, 'README.md')) && existsSync(join(project, 'test/service.test.ts')));
    // The README's first command, in two parts: npm install here (a fresh folder, so npm may use its cache), npm start below.
    assert.match(readFileSync(join(project, 'README.md'), 'utf8'), /npm install && npm start/);
    const install = sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], project, 300_000, machineEnv);
    assert.equal(install.status, 0, install.out);
    assert.doesNotMatch(install.out, /EBADENGINE/, "npm warns about the engines of fata or one of its dependencies on the machine's Node");
    assert.ok(existsSync(join(project, 'node_modules/fata/src/index.ts')), 'fata is installed from the tarball');
    checkTypes(project);
    importsDirectly(project);
    const help = sh(join(project, 'node_modules/.bin/fata'), ['--help'], project);
    assert.equal(help.status, 0, help.out);
    assert.match(help.out, /fata init/);
    // From a shell whose PATH has no pinned engine on it: bin/fata finds the one npm put beside fata, itself.
    const bare = spawnSync(join(project, 'node_modules/.bin/fata'), ['--help'], {
      cwd: project,
      env: { ...env, PATH: '/usr/bin:/bin' },
      encoding: 'utf8',
    });
    assert.equal(bare.status, 0, bare.stderr);
    assert.equal(bare.stderr, '', 'bin/fata did not find the pinned engine beside fata');
    // npx finds the installed package's bin, whose init makes the same project.
    const again = sh('npx', ['fata', 'init', join(dir, 'second')], project);
    assert.equal(again.status, 0, again.out);
    assert.equal(readFileSync(join(dir, 'second/main.ts'), 'utf8'), readFileSync(join(project, 'main.ts'), 'utf8'));
    const build = sh(join(project, 'node_modules/.bin/fata'), ['build', '.'], project);
    assert.equal(build.status, 0, build.out);
    assert.ok(existsSync(join(project, 'dist/my-service.fata')), build.out);
    await serves(project);
    const t = sh('npm', ['test'], project, 300_000);
    assert.equal(t.status, 0, t.out);
    assert.match(t.out, /pass 1\n[\s\S]*fail 0/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The project type-checks against the installed package's types, and a misspelt device does not. */
function checkTypes(project: string): void {
  const tsc = join(project, 'node_modules/.bin/tsc');
  const ok = sh(tsc, ['-p', '.'], project);
  assert.equal(ok.status, 0, ok.out);
  const main = readFileSync(join(project, 'main.ts'), 'utf8');
  writeFileSync(join(project, 'typo.ts'), main.replace('async ({ service }', 'async ({ servce }'));
  const bad = sh(tsc, ['-p', '.'], project);
  rmSync(join(project, 'typo.ts'));
  assert.notEqual(bad.status, 0, 'a misspelt device type-checks: the types did not come through the exports');
  assert.match(bad.out, /typo\.ts.*servce/);
}

/** A project's own code imports Fata outside `fata build` with `node --import fata/register`; without it Node refuses .ts under node_modules. */
function importsDirectly(project: string): void {
  const node = join(project, 'node_modules/.bin/node');
  const code =
    "const { service, net } = await import('fata'); const { Scheduler } = await import('fata/sim'); console.log(typeof service, typeof net, typeof Scheduler);";
  const bare = sh(node, ['--input-type=module', '-e', code], project);
  assert.notEqual(bare.status, 0, 'Node now strips types under node_modules: fata/register may be unneeded');
  assert.match(bare.out, /ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING/);
  const registered = sh(node, ['--import', 'fata/register', '--input-type=module', '-e', code], project);
  assert.equal(registered.status, 0, registered.out);
  assert.equal(registered.out, 'function function function\n');
}

/** `npm start` (the README's command) serves GET / on 127.0.0.1 with the greeting a boot argument gives. */
async function serves(project: string): Promise<void> {
  const [port] = await freePorts(1);
  const child = spawn('npm', ['start', '--', `--port=${port}`, '--greeting=hello from the package test'], {
    cwd: project,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    await waitForLine(child, /event=serving/, 120_000);
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'hello from the package test\n');
  } finally {
    await stopGroup(child.pid!);
  }
}

/** Stops npm, its shell and the engine (the whole process group): SIGTERM, then SIGKILL after 5 s; returns once all are gone. */
async function stopGroup(pgid: number): Promise<void> {
  const alive = (): boolean => {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (alive()) process.kill(-pgid, 'SIGTERM');
  for (let i = 0; alive(); i++) {
    if (i === 100) process.kill(-pgid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('npm install -g puts fata on PATH, and it runs an image on the engine installed beside it', {
  skip: !hasNpm && 'npm is not installed',
  timeout: 300_000,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fata-global-'));
  try {
    const { tarball } = pack(dir);
    const prefix = join(dir, 'prefix');
    // A global install into a prefix of its own, not the machine's, as `npm install -g fata` makes one.
    const install = sh('npm', ['install', '-g', `--prefix=${prefix}`, '--prefer-offline', tarball], dir, 300_000);
    assert.equal(install.status, 0, install.out);
    const fata = join(prefix, 'bin', 'fata');
    const help = sh(fata, ['--help'], dir);
    assert.equal(help.status, 0, help.out);
    assert.match(help.out, /^usage: fata build/);
    const built = sh(join(ROOT, 'bin/fata'), ['build', '--no-typecheck', 'examples/hello'], ROOT);
    assert.equal(built.status, 0, built.out);
    const ran = sh(fata, ['run', join(ROOT, 'examples/hello/dist/hello.fata')], dir);
    assert.equal(ran.status, 0, ran.out);
    assert.match(ran.out, /engine="node v24\.21\.0"[\s\S]*event=hello/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
