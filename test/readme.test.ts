/**
 * The README's commands, walked. Every line of its ```sh blocks is read from the file (a command added to the
 * README is walked too) and split at `&&`; each step is then, by the first rule of RULES that matches it:
 * run as a user types it — from the checkout's root, by `sh -c`, with a PATH that has no pinned engine on it
 * (npx and npm on the machine's Node) and `fata` as `npm install -g` puts it — and must exit 0 with the output
 * the README implies; or started as the server it is, probed once as the README says, and stopped; or, for a
 * usage line (`fata run [--mem=MB] … IMAGE`), checked against `fata COMMAND --help`; or, for a root-only block
 * (`fata net …`), run whole as root in a network namespace of its own, skipped with the reason otherwise (a
 * failure in CI); or a reviewed exception, with its reason and the test that covers it. A `fata …` or `npm run …` step no rule names is run and must
 * exit 0; any other step no rule names fails, until a rule says what to do with it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from './ports.ts';
import { DIES_WITH_US, netnsSkipReason, waitForLine } from './netns.ts';

const ROOT = new URL('..', import.meta.url).pathname;
/** FATA_README=FILE walks another copy of the README: how a planted broken command is shown to fail this test. */
const README = readFileSync(process.env.FATA_README ?? join(ROOT, 'README.md'), 'utf8');
const CI = process.env.CI === 'true';
const hasNpm = spawnSync('npm', ['--version']).status === 0;
/**
 * A user's shell: not this test runner's environment, no node_modules/.bin of this checkout on PATH (so npx and
 * npm run on the machine's Node, as they do for a user), and this checkout's bin/ first, as a global install's.
 */
const userEnv = ((): NodeJS.ProcessEnv => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT'));
  const path = (env.PATH ?? '').split(':').filter((d) => d !== '' && !d.endsWith('/node_modules/.bin'));
  return { ...env, PATH: [join(ROOT, 'bin'), ...path].join(':') };
})();

export interface Step {
  /** 1-based line of README.md. */
  line: number;
  text: string;
  /** The first step of its block, which says what the block is about (two blocks both say `npm test`). */
  block: string;
  /** The line's comment, after ` # `: what the README says the command does. */
  note: string;
}

/** Every step of every line of the ```sh blocks in `md`: a comment after ` # ` kept apart, `a && b` as two steps. */
export function readmeSteps(md: string): Step[] {
  const steps: Step[] = [];
  let inSh = false;
  let block = '';
  md.split('\n').forEach((raw, i) => {
    if (/^```/.test(raw)) {
      inSh = !inSh && /^```(sh|bash|shell)\s*$/.test(raw);
      block = '';
      return;
    }
    if (!inSh) return;
    const cmd = raw.replace(/\s+#\s.*$/, '').trim();
    const note = /\s#\s+(.*)$/.exec(raw)?.[1]?.trim() ?? '';
    if (cmd === '') return;
    for (const part of cmd.split(/\s+&&\s+/)) {
      const text = part.replace(/\s+&$/, '');
      if (block === '') block = text;
      steps.push({ line: i + 1, text, block, note });
    }
  });
  return steps;
}

type Outcome = { status: number | null; out: string; err: string };

function shell(cmd: string, cwd = ROOT, timeoutMs = 240_000): Outcome {
  const r = spawnSync('sh', ['-c', cmd], { cwd, env: userEnv, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`'${cmd}' did not finish in ${timeoutMs / 1000} s (a server? give it a serve rule): ${r.error.message}`);
  return { status: r.status, out: r.stdout, err: r.stderr };
}

function exits0(cmd: string, r: Outcome): void {
  assert.equal(r.status, 0, `'${cmd}' exited ${r.status}:\n${r.err}${r.out}`);
  assert.doesNotMatch(r.err, /EBADENGINE/, `'${cmd}' printed EBADENGINE`);
}

/** A README output line (`ts=… level=info …`) as a pattern: `…` is anything, ports as given, `ua=` any agent. */
function readmeLine(event: string, ports: Record<string, number>): RegExp {
  const line = README.split('\n').find((l) => l.startsWith('ts=') && l.includes(` event=${event} `));
  assert.ok(line, `the README shows no 'event=${event}' line`);
  let src = line.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&').replace(/…/g, '.*?');
  for (const [from, to] of Object.entries(ports)) src = src.replaceAll(`:${from}`, `:${to}`);
  return new RegExp(`^${src.replace(/ua=\S+/, 'ua=\\S+')}$`);
}

/** Starts `cmd` as a server, hands its stdout lines to `probe`, then stops its whole process group; returns what it printed. */
async function serve(cmd: string, probe: (lines: () => string[], child: ReturnType<typeof spawn>) => Promise<void>): Promise<string> {
  const child = spawn('sh', ['-c', cmd], { cwd: ROOT, env: userEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  try {
    await probe(() => out.split('\n'), child);
  } finally {
    await stopGroup(child.pid!);
  }
  assert.doesNotMatch(err, /EBADENGINE/, `'${cmd}' printed EBADENGINE`);
  return out;
}

/** SIGTERM to the group (npx, its shell, the engine), SIGKILL after 5 s; returns once all are gone. */
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

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !cond(); await new Promise((r) => setTimeout(r, 50)))
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs / 1000} s`);
}

/** GET as curl sends it (no Accept-Encoding, so the file itself and not a compressed variant); HTTPS as `curl -k`: the development certificate is self-signed. */
function curl(url: string): Promise<{ status: number; body: string }> {
  const get = url.startsWith('https:') ? httpsGet : httpGet;
  return new Promise((resolve, reject) => {
    get(url, { rejectUnauthorized: false, headers: { 'user-agent': 'curl/8.0' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/** `npx fata run examples/website`: serves :8080 and :8443 with the log lines the README shows (free ports here). */
async function serveWebsite(step: Step): Promise<void> {
  const [http, https] = await freePorts(2);
  const cmd = `${step.text} --http-port=${http} --https-port=${https}`;
  const ports = { 8080: http, 8443: https };
  await serve(cmd, async (lines, child) => {
    await waitForLine(child, /event=serving/, 240_000);
    assert.ok(
      lines().some((l) => readmeLine('serving', ports).test(l)),
      `no line like the README's:\n${lines().join('\n')}`,
    );
    const index = readFileSync(join(ROOT, 'examples/website/htdocs/index.html'), 'utf8');
    assert.deepEqual(await curl(`http://127.0.0.1:${http}/`), { status: 200, body: index });
    const access = readmeLine('access', ports);
    await until(`no line like ${access} in:\n${lines().join('\n')}\n`, () => lines().some((l) => access.test(l)));
    assert.deepEqual(await curl(`https://127.0.0.1:${https}/`), { status: 200, body: index });
  });
}

/** The user-mode networking line: the unikernel sealed, the host's 127.0.0.1:8080 forwarded to it (a free port here). */
async function serveUsernet(step: Step): Promise<void> {
  const [port] = await freePorts(1);
  const cmd = step.text.replace('hostfwd=tcp:127.0.0.1:8080-', `hostfwd=tcp:127.0.0.1:${port}-`);
  assert.notEqual(cmd, step.text, 'the README no longer forwards 127.0.0.1:8080: update this rule');
  await serve(cmd, async (_lines, child) => {
    await waitForLine(child, /event=serving/, 120_000);
    const index = readFileSync(join(ROOT, 'examples/website/htdocs/index.html'), 'utf8');
    assert.deepEqual(await curl(`http://127.0.0.1:${port}/`), { status: 200, body: index });
  });
}

/** `npm ci`: in this shared checkout it would replace node_modules under running processes, so a dry run in a copy — which fails as npm ci would when package.json and the lock disagree. */
function npmCiDryRun(step: Step): void {
  const dir = mkdtempSync(join(tmpdir(), 'fata-readme-ci-'));
  try {
    for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(ROOT, f), join(dir, f));
    const r = shell(`${step.text} --dry-run --ignore-scripts --no-audit --no-fund`, dir);
    assert.equal(r.status, 0, r.err + r.out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `npx fata init my-service`, in a folder of its own inside the checkout (npx finds the checkout's fata there, not the registry's). */
function init(step: Step): void {
  const dir = join(ROOT, 'out', `readme-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    const r = shell(step.text, dir);
    exits0(step.text, r);
    assert.match(r.out, /cd \S*my-service && npm install && npm start/, "init no longer prints the README's next command");
    for (const f of ['package.json', 'tsconfig.json', 'config.ts', 'main.ts', 'README.md', 'test/service.test.ts'])
      assert.ok(existsSync(join(dir, 'my-service', f)), `fata init made no ${f}, which the README's comment names`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A usage line (`fata run [--mem=MB] … IMAGE|DIR`): `fata COMMAND --help` exits 0 and shows the command, each choice and each flag. */
function synopsis(step: Step): void {
  const words = step.text.split(/\s+/).slice(1);
  const cmd: string[] = [];
  for (const w of words) {
    if (!/^[a-z][a-z|]*$/.test(w)) break;
    cmd.push(w);
  }
  const choices = cmd.at(-1)?.includes('|') ? cmd.pop()!.split('|') : [];
  const r = shell(`fata ${cmd.join(' ')} --help`);
  exits0(`fata ${cmd.join(' ')} --help`, r);
  for (const c of choices) assert.match(r.out, new RegExp(`fata ${cmd.join(' ')} ${c} `), `--help shows no 'fata ${cmd.join(' ')} ${c}'`);
  for (const flag of step.text.match(/(?<![\w-])--?[a-z][a-z-]*/g) ?? [])
    assert.ok(r.out.includes(flag), `'fata ${cmd.join(' ')} --help' does not show ${flag}, which the README's usage line has`);
}

/** `match` is tried on the step, `in` (when given) on the first step of its block. */
/** A network namespace of a block's own, with a state folder; what it started is stopped and it is removed after `fn`. */
interface Ns {
  state: string;
  run(cmd: string): Outcome;
  /** Starts `cmd` in the namespace (it dies with this test even if the test is killed); `output()`: its stdout and stderr so far. */
  start(cmd: string): { child: ChildProcess; output: () => string };
}

async function inNamespace(env: (state: string) => NodeJS.ProcessEnv, fn: (ns: Ns) => Promise<void>): Promise<void> {
  const name = `fata-readme-${process.pid}`;
  const state = mkdtempSync(join(tmpdir(), 'fata-readme-ns-'));
  chmodSync(state, 0o755); // The sealed engine runs as an unprivileged account and reads from here.
  const e = env(state);
  const argv = (cmd: string): string[] => ['netns', 'exec', name, 'sh', '-c', cmd];
  const started: ChildProcess[] = [];
  const ns: Ns = {
    state,
    run: (cmd) => {
      const r = spawnSync('ip', argv(cmd), { cwd: ROOT, env: e, encoding: 'utf8', timeout: 120_000 });
      return { status: r.status, out: r.stdout, err: r.stderr };
    },
    start: (cmd) => {
      const child = spawn(DIES_WITH_US[0]!, [...DIES_WITH_US.slice(1), 'ip', ...argv(cmd)], { cwd: ROOT, env: e, detached: true });
      started.push(child);
      let out = '';
      const add = (d: Buffer): void => {
        out += d.toString();
      };
      child.stdout!.on('data', add);
      child.stderr!.on('data', add);
      return { child, output: () => out };
    },
  };
  assert.equal(spawnSync('ip', ['netns', 'add', name]).status, 0, `ip netns add ${name}`);
  try {
    ns.run('ip link set lo up');
    await fn(ns);
  } finally {
    for (const c of started) await stopGroup(c.pid!);
    spawnSync('ip', ['netns', 'del', name]);
    rmSync(state, { recursive: true, force: true });
  }
}

/**
 * The host-network block, as root, in a network namespace of its own (its 10.0.0.0/24 never leaves it): each
 * step as written, by `ip netns exec NS sh -c`, with Fata's state in a temporary folder (FATA_STATE_DIR; the
 * README's is /var/lib/fata) and the DHCP keeper tied to this test (FATA_NET_TIE_TO). `fata run` is started and
 * must lease what its comment says (10.0.0.1xx) and serve index.html there; the forward must name the address
 * it leased; `fata net list` must show the network, NAT, DHCP, the tap and the forward; destroy leaves no bridge.
 */
async function hostNetBlock(steps: Step[]): Promise<void> {
  const env = (state: string): NodeJS.ProcessEnv => ({ ...userEnv, FATA_STATE_DIR: state, FATA_NET_TIE_TO: String(process.pid) });
  await inNamespace(env, async (ns) => {
    let leased = '';
    for (const step of steps) {
      if (/^fata run /.test(step.text)) {
        leased = await leasesAndServes(step, ns.start(step.text).output, ns.run);
        continue;
      }
      const r = ns.run(step.text);
      exits0(step.text, r);
      if (/^fata net forward /.test(step.text))
        assert.ok(step.text.endsWith(` ${leased}:8080`), `the README forwards to another address than the unikernel leased (${leased})`);
      if (/^fata net list\b/.test(step.text))
        for (const want of ['n0', '10.0.0.0/24', 'nat', 'dhcp running', 'taps tap0', `tcp:8080→${leased}:8080`])
          assert.ok(r.out.includes(want), `fata net list shows no '${want}':\n${r.out}`);
      if (/^fata net destroy /.test(step.text)) assert.notEqual(ns.run('ip link show n0').status, 0, 'the bridge is still there');
    }
  });
}

/**
 * The daemon block, as root, in a network namespace of its own: the bridge and 10.0.0.1/24 as written, the
 * daemon's state in a temporary folder instead of /var/lib/fata and its socket there (FATA_SOCKET); `fata create`
 * starts the website, `fata list` shows it running under the columns its comment names, curl gets index.html
 * from 10.0.0.2, `console --follow` shows its log and `stats --follow` its numbers (each started, read, stopped),
 * and after `fata destroy` the list has no web.
 */
async function daemonBlock(steps: Step[]): Promise<void> {
  const env = (state: string): NodeJS.ProcessEnv => ({ ...userEnv, FATA_SOCKET: join(state, 'fata.sock') });
  await inNamespace(env, async (ns) => {
    for (const step of steps) {
      if (/^fata daemon /.test(step.text)) {
        const cmd = step.text.replace('--state-dir=/var/lib/fata', `--state-dir=${join(ns.state, 'state')}`);
        assert.notEqual(cmd, step.text, 'the README no longer says --state-dir=/var/lib/fata: update this block');
        const { output } = ns.start(cmd);
        await until(`the daemon did not say it listens:\n${output()}`, () => /listening on /.test(output()), 60_000);
      } else if (/ --follow$/.test(step.text)) {
        const { output } = ns.start(step.text);
        const want = /^fata console /.test(step.text) ? /event=serving/ : /^web running rss \S+ cpu /m;
        await until(`'${step.text}' showed nothing like ${want}:\n${output()}`, () => want.test(output()), 30_000);
      } else if (/^curl /.test(step.text)) {
        let r = ns.run(`${step.text} -s --max-time 3`);
        for (let i = 0; r.status !== 0 && i < 20; i++, r = ns.run(`${step.text} -s --max-time 3`)) await sleep(500);
        assert.equal(r.out, readFileSync(join(ROOT, 'examples/website/htdocs/index.html'), 'utf8'), r.err);
      } else {
        let r = ns.run(step.text);
        // Just created, web may still be starting: fata list is asked again until it says running.
        for (let i = 0; /^fata list$/.test(step.text) && !/^web\s+running\s/m.test(r.out) && i < 60; i++, r = ns.run(step.text))
          await sleep(500);
        daemonStep(step, r);
      }
    }
    assert.doesNotMatch(ns.run('fata list').out, /^web /m, 'web is still listed after fata destroy');
  });
}

/** A one-shot step of the daemon block: exit 0, and `fata list` as its comment says (its columns) with web running. */
function daemonStep(step: Step, r: Outcome): void {
  exits0(step.text, r);
  if (/^fata list$/.test(step.text)) {
    assert.deepEqual(r.out.split('\n')[0]!.trim().split(/\s+/), step.note.split(/\s+/), "fata list's columns are not the README's");
    assert.match(r.out, /^web\s+running\s/m);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The README's `fata run` on the tap: leases the address its comment says (`leases 10.0.0.1xx`: x a digit) and serves index.html there. */
async function leasesAndServes(step: Step, output: () => string, run: (cmd: string) => Outcome): Promise<string> {
  const said = /leases (\S+)/.exec(step.note)?.[1];
  assert.ok(said, `the README's comment on '${step.text}' no longer says what it leases`);
  await until(`'${step.text}' did not serve:\n${output()}`, () => /event=serving/.test(output()), 120_000);
  const out = output();
  const up = /event=net-up .*ipv4=([\d.]+)\//.exec(out);
  assert.ok(up, `no net-up line with an address:\n${out}`);
  assert.match(up[1]!, new RegExp(`^${said.replace(/\./g, '\\.').replace(/x/g, '\\d')}$`), `leased ${up[1]}, the README says ${said}`);
  const page = run(`curl -s --max-time 10 http://${up[1]}:8080/`);
  assert.equal(page.out, readFileSync(join(ROOT, 'examples/website/htdocs/index.html'), 'utf8'));
  return up[1]!;
}

type Rule = { match: RegExp; in?: RegExp; why: string } & (
  | { run: (step: Step) => void | Promise<void>; needsNpm?: boolean }
  | { runBlock: (steps: Step[]) => Promise<void>; skip: () => string | undefined }
  | { except: string; coveredBy: string }
);

/**
 * What to do with each README step, first match wins. `except` entries are the reviewed exceptions: each says
 * why the step is not run here, and names the test file that runs it (which must exist).
 */
const RULES: Rule[] = [
  { match: /^npm ci$/, why: 'installs', run: npmCiDryRun, needsNpm: true },
  { match: /^npx fata run examples\/website$/, why: 'a server', run: serveWebsite, needsNpm: true },
  { match: /^npx fata run --net:service=user,hostfwd=/, why: 'a server', run: serveUsernet, needsNpm: true },
  { match: /^npx fata init my-service$/, why: 'makes a project', run: init, needsNpm: true },
  {
    match: /^npm test$/,
    in: /^npm ci\b/,
    why: 'the whole suite',
    except: 'the suite this test is part of; test/readme.test.ts checks that every npm script the README names exists',
    coveredBy: 'test/readme.test.ts',
  },
  {
    match: /^(cd my-service|npm install|npm start|npm test)$/,
    in: /^npx fata init\b/,
    why: 'the new project',
    except:
      'the project fata init makes depends on fata from the registry, where it is not published; test/package.test.ts runs these commands in a project made from the tarball npm pack makes',
    coveredBy: 'test/package.test.ts',
  },
  { match: /^fata .*(\[|…|\b[A-Z]{2,})/, why: 'a usage line', run: synopsis },
  {
    match:
      /^(fata build -t spt examples\/website$|ip (link|addr) |fata daemon |fata (create|list|console|stats|destroy)\b|curl http:\/\/10\.0\.0\.2:)/,
    in: /^fata build -t spt examples\/website$/,
    why: 'root, the host: run in a namespace',
    runBlock: daemonBlock,
    skip: () => netnsSkipReason(['curl']) ?? (process.arch !== 'x64' ? 'the spt allow-list is for x86_64' : undefined),
  },
  {
    match: /^(fata net |fata run --net:service=tap0 |ip (tuntap add dev tap0|link set tap0) )/,
    in: /^fata net create\b/,
    why: 'root, the host: run in a namespace',
    runBlock: hostNetBlock,
    skip: () => netnsSkipReason(['nft', 'curl', 'sysctl']) ?? (process.arch !== 'x64' ? 'the spt allow-list is for x86_64' : undefined),
  },
];

function ruleFor(step: Step): Rule | undefined {
  return RULES.find((r) => r.match.test(step.text) && (r.in === undefined || r.in.test(step.block)));
}

test('the walker reads sh blocks only, drops comments, splits &&, and every rule is used by a README step', () => {
  const md = '```sh\na && b   # one\n\nc &\n```\n```ts\nnot(a, command)\n```\n```\nts=… output\n```\n```sh\nd\n```\n';
  assert.deepEqual(readmeSteps(md), [
    { line: 2, text: 'a', block: 'a', note: 'one' },
    { line: 2, text: 'b', block: 'a', note: 'one' },
    { line: 4, text: 'c', block: 'a', note: '' },
    { line: 13, text: 'd', block: 'd', note: '' },
  ]);
  const steps = readmeSteps(README);
  assert.ok(steps.length >= 20, `only ${steps.length} steps read from the README: has its format changed?`);
  for (const rule of RULES)
    assert.ok(
      steps.some((s) => ruleFor(s) === rule),
      `no README step matches ${rule.match} (${rule.why}): the README changed; remove or update the rule`,
    );
});

test('every npm script the README names (in code or prose) exists in package.json', () => {
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const named = [...README.matchAll(/\bnpm (?:run ([\w:-]+)|(test|start)\b)/g)].map((m) => m[1] ?? m[2]!);
  assert.ok(named.length >= 10, `only ${named.length} npm scripts found in the README`);
  for (const s of new Set(named)) assert.ok(scripts[s], `the README says 'npm run ${s}', which package.json does not define`);
});

test('the README steps not run here are the reviewed exceptions, each with its reason and the test that runs it instead', (t) => {
  for (const step of readmeSteps(README)) {
    const rule = ruleFor(step);
    if (!rule || !('except' in rule)) continue;
    assert.ok(existsSync(join(ROOT, rule.coveredBy)), `${rule.coveredBy}, named for '${step.text}', is gone`);
    t.diagnostic(`README.md:${step.line}: ${step.text} — ${rule.except}`);
  }
});

const blocksDone = new Set<Rule>();
for (const step of readmeSteps(README)) {
  const rule = ruleFor(step);
  const name = `README.md:${step.line}: ${step.text}`;
  if (rule && 'except' in rule) continue;
  if (rule && 'runBlock' in rule) {
    if (blocksDone.has(rule)) continue;
    blocksDone.add(rule);
    const steps = readmeSteps(README).filter((s) => ruleFor(s) === rule);
    test(`${name} … (the block, ${rule.why})`, { skip: rule.skip(), timeout: 600_000 }, () => rule.runBlock(steps));
    continue;
  }
  const needsNpm = !rule || rule.needsNpm === true || /^np[mx] /.test(step.text);
  test(name, { skip: needsNpm && !hasNpm && !CI && 'npm is not installed', timeout: 600_000 }, async () => {
    if (rule) return await rule.run(step);
    assert.match(step.text, /^(npx fata|fata|npm run) /, `no rule in test/readme.test.ts says how to check this README step: add one`);
    exits0(step.text, shell(step.text));
  });
}
