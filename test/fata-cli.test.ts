/**
 * `fata build` and `fata run` end to end, as a user runs them: reproducible
 * images, the embedded hello without root, boot arguments and --help, and
 * every start-up error saying what to do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bigValue } from './fixtures/biglog/main.ts';
import { readImage } from '../src/build/image.ts';
import { runnableCheckout } from './unprivileged.ts';
import { waitForLine } from './netns.ts';
import { freePorts } from './ports.ts';

const ROOT = new URL('..', import.meta.url).pathname;

/** Runs the command npx runs (package.json's bin, a shell front door to the CLI and the native spt tender) of checkout `root`. */
function fata(
  args: string[],
  opts: { uid?: number; timeoutMs?: number; root?: string } = {},
): { status: number | null; out: string; err: string } {
  const root = opts.root ?? ROOT;
  const r = spawnSync(join(root, 'bin', 'fata'), args, {
    cwd: root,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 120_000,
    uid: opts.uid,
    gid: opts.uid,
    maxBuffer: 64 << 20,
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

/** A copy of an example of checkout `root` at the same depth (out/NAME-xxxx), so its relative imports still resolve. */
function tempCopy(example: string, root = ROOT): string {
  mkdirSync(join(root, 'out'), { recursive: true });
  const dir = mkdtempSync(join(root, 'out', 'hello-'));
  cpSync(join(root, example), dir, { recursive: true, filter: (p) => !p.includes('/dist') });
  return dir;
}

/**
 * Who runs `fata` "as an unprivileged user", and from which checkout: under root, nobody (65534)
 * from a copy it can reach (this checkout may be in a home only its owner can enter); otherwise
 * the test's own account from this checkout.
 */
function unprivileged(): { uid?: number; root: string; remove(): void } {
  if (process.getuid?.() !== 0) return { root: ROOT, remove: () => {} };
  const copy = runnableCheckout(65534);
  return { uid: 65534, root: copy.root, remove: copy.remove };
}

test('two clean builds of each example are byte-identical, and the image records the engine', () => {
  for (const ex of ['examples/hello', 'examples/ping-serve', 'examples/block-test', 'examples/website']) {
    for (const t of ['node', 'spt']) {
      const images: Buffer[] = [];
      for (let i = 0; i < 2; i++) {
        rmSync(join(ROOT, ex, 'dist'), { recursive: true, force: true });
        const r = fata(['build', '-t', t, ...(t === 'node' && ex.includes('ping') ? ['--net=direct'] : []), ex]);
        assert.equal(r.status, 0, r.err);
        const name = ex.split('/')[1]!;
        images.push(readFileSync(join(ROOT, ex, 'dist', `${name}.fata`)));
      }
      assert.ok(images[0]!.equals(images[1]!), `${ex} -t ${t}: two builds differ`);
      const header = images[0]!.toString('utf8', 0, 4000);
      assert.match(header, new RegExp(`"engine":"node ${process.version}"`));
      assert.match(header, new RegExp(`"target":"${t}"`));
    }
  }
});

test('two copies of the website made at different times build to the same bytes; Last-Modified comes from SOURCE_DATE_EPOCH, else from the content', () => {
  // Not the environment's SOURCE_DATE_EPOCH: the point is what happens without it.
  const env = { ...process.env };
  delete env.SOURCE_DATE_EPOCH;
  const build = (dir: string, epoch?: string): { bytes: Buffer; modified: Record<string, number | undefined> } => {
    const r = spawnSync(join(ROOT, 'bin', 'fata'), ['build', '-t', 'node', dir], {
      cwd: ROOT,
      encoding: 'utf8',
      env: epoch ? { ...env, SOURCE_DATE_EPOCH: epoch } : env,
    });
    assert.equal(r.status, 0, r.stderr);
    const bytes = readFileSync(join(dir, 'dist', 'website.fata'));
    const image = readImage(bytes);
    assert.ok(!('error' in image), 'error' in image ? image.error : '');
    return {
      bytes,
      modified: Object.fromEntries(image.manifest.devices.filter((d) => d.type === 'assets').map((d) => [d.name, d.modifiedMs])),
    };
  };
  const a = tempCopy('examples/website');
  const b = mkdtempSync(join(ROOT, 'out', 'website-'));
  try {
    const first = build(a); // Also makes a's development certificate, which the second copy then carries.
    // The second copy is made later, and every file in it carries another time (a checkout or a copy made a day earlier).
    cpSync(a, b, { recursive: true, filter: (p) => !p.includes('/dist') });
    const dayBefore = new Date(Date.now() - 86_400_000);
    for (const f of readdirSync(b, { recursive: true, withFileTypes: true }))
      if (f.isFile()) utimesSync(join(f.parentPath, f.name), dayBefore, dayBefore);
    const second = build(b);
    assert.deepEqual(second.modified, first.modified);
    assert.ok(second.bytes.equals(first.bytes), 'two copies of one folder give two different images');
    // The content date is a past date (2000 to 2019), in whole seconds, and moves when the content does.
    for (const ms of Object.values(first.modified))
      assert.ok(ms! % 1000 === 0 && ms! >= Date.UTC(2000, 0, 1) && ms! < Date.UTC(2020, 0, 1), `modifiedMs ${ms}`);
    writeFileSync(join(b, 'htdocs', 'hello.txt'), readFileSync(join(b, 'htdocs', 'hello.txt'), 'utf8') + 'changed\n');
    const changed = build(b);
    assert.notEqual(changed.modified.htdocs, first.modified.htdocs, 'a changed file changes Last-Modified');
    assert.equal(changed.modified.tls, first.modified.tls, 'another device keeps its own');
    // SOURCE_DATE_EPOCH, when set, is the date of every assets device.
    assert.deepEqual(build(b, '1700000000').modified, { htdocs: 1_700_000_000_000, tls: 1_700_000_000_000 });
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test('fata run examples/hello (the bin npx runs) prints the greeting as an unprivileged user', () => {
  const { uid: asUser, root, remove } = unprivileged();
  const dir = tempCopy('examples/hello', root);
  try {
    if (asUser !== undefined) spawnSync('chown', ['-R', `${asUser}:${asUser}`, dir]);
    const r = fata(['run', dir, '--greeting=Hello from Fata', '--times=2'], { uid: asUser, root });
    assert.equal(r.status, 0, r.err);
    assert.equal(r.out.match(/event=hello greeting="Hello from Fata"/g)?.length, 2, r.out);
    assert.match(r.out, /event=cmdline argv="--greeting=Hello from Fata --times=2"/);
    assert.match(r.out, /event=boot target=node engine="node v24/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    remove();
  }
});

test('IMAGE --help lists the boot arguments; bad ones are usage errors', () => {
  const help = fata(['run', 'examples/hello', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.out, /--greeting=TEXT\s+what to print \(default "Hello, World"\)/);
  assert.match(help.out, /--logs=LEVEL/);
  const bad = fata(['run', 'examples/hello', '--times=0']);
  assert.equal(bad.status, 1);
  // Said by the tender on stderr, before the unikernel starts (so nothing on stdout).
  assert.match(bad.err, /--times=0 must be a whole number from 1 to 100/);
  assert.equal(bad.out, '');
  const unknown = fata(['run', 'examples/hello', '--nope=1']);
  assert.match(unknown.err, /unknown boot argument --nope; --help lists/);
  const level = fata(['run', 'examples/hello', '-l', 'loud']);
  assert.match(level.err, /--logs=loud is not a level/);
});

test('start-up errors name the device or flag and say what to do', () => {
  fata(['build', '-t', 'spt', 'examples/ping-serve']);
  fata(['build', '-t', 'spt', 'examples/block-test']);
  const cases: [string[], RegExp][] = [
    [['run', 'examples/ping-serve/dist/ping-serve.fata'], /net device 'service' is declared but not attached; add --net:service=TAP/],
    [['run', 'examples/block-test/dist/block-test.fata'], /block device 'storage' is declared but not attached; add --block:storage=FILE/],
    [
      ['run', '--block:storage=/dev/null', '--block:extra=/dev/null', 'examples/block-test/dist/block-test.fata'],
      /--block:extra attaches a device the image does not declare/,
    ],
    [
      ['run', '--net:service=tap0', '--net-mac:service=zz:00:00:00:00:01', 'examples/ping-serve/dist/ping-serve.fata'],
      /is not a MAC address; write it like 02:00:00:00:00:01/,
    ],
    [['run', '--net:service=tap0', '--net-mac:service=01:00:00:00:00:01', 'examples/ping-serve/dist/ping-serve.fata'], /group address/],
    [['run', '--bogus', 'examples/hello'], /unknown flag '--bogus'/],
    [['run', 'examples/ping-serve/dist/ping-serve.fata', '--ipv4=10.0.0.300/24'], /not attached|is not an address with a prefix/],
    [['run', 'no/such/thing'], /no image or service folder at 'no\/such\/thing'/],
    [['build', '-t', 'spt', '--net=socket', 'examples/hello'], /spt target has no host sockets/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ];
  for (const [args, want] of cases) {
    const r = fata(args);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.err}${r.out}`);
    assert.match(r.err + r.out, want, args.join(' '));
  }
});

test('a corrupted image is refused with its hash mismatch; a non-image says so', () => {
  fata(['build', 'examples/hello']);
  const dir = mkdtempSync(join(tmpdir(), 'fata-img-'));
  try {
    const img = join(dir, 'hello.fata');
    copyFileSync(join(ROOT, 'examples/hello/dist/hello.fata'), img);
    const b = readFileSync(img);
    b[b.length - 10]! ^= 0x20; // An image is far longer than 10 bytes.
    writeFileSync(img, b);
    const r = fata(['run', img]);
    assert.equal(r.status, 1);
    assert.match(
      r.err,
      /FATA_BAD_IMAGE: .*hello\.fata is corrupted: its SHA-256 is [0-9a-f]{64}, the header says [0-9a-f]{64}; rebuild it/,
    );
    writeFileSync(img, 'not an image');
    assert.match(fata(['run', img]).err, /is not a Fata image/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a 1 MiB log line is written whole, in order, and the next line follows it, on both targets', () => {
  // Every 8 bytes of the value name their own position, so a console that repeats, drops or reorders a chunk
  // fails here, not only one that cuts the line short.
  const want = bigValue(1024);
  for (const t of process.arch === 'x64' ? ['node', 'spt'] : ['node']) {
    const r = fata(['run', '-t', t, 'test/fixtures/biglog', '--kib=1024']);
    assert.equal(r.status, 0, `${t}: ${r.err}`);
    const lines = r.out.split('\n');
    const at = lines.findIndex((l) => l.includes('event=big '));
    assert.ok(at >= 0, `${t}: no event=big line`);
    assert.match(lines[at]!, /^ts=\S+ level=info src=biglog event=big line=[0-9a-f]/, `${t}: the line's head`);
    const got = lines[at]!.slice(lines[at]!.indexOf(' line=') + 6);
    let diff = 0;
    while (diff < got.length && diff < want.length && got.charCodeAt(diff) === want.charCodeAt(diff)) diff++;
    assert.ok(
      got.length === want.length && diff === want.length,
      `${t}: ${got.length} of ${want.length} bytes; first difference at byte ${diff}: got ${JSON.stringify(got.slice(diff, diff + 24))}, want ${JSON.stringify(want.slice(diff, diff + 24))}`,
    );
    assert.match(lines[at + 1] ?? '', /^ts=\S+ level=info src=biglog event=after-big$/, `${t}: the next line follows it`);
  }
});

test("exit codes are Solo5's: 0, 1, and 255 for an abort, on both targets", {
  skip: process.arch !== 'x64' ? 'spt is x86_64 only' : false,
}, () => {
  for (const t of ['node', 'spt']) {
    const abort = fata(['run', '-t', t, 'test/fixtures/abort', '--how=throw']);
    assert.equal(abort.status, 255, `${t}: ${abort.err}${abort.out}`);
    assert.match(abort.out, /level=error src=abort event=abort error="deliberate failure"/);
    assert.equal(fata(['run', '-t', t, 'test/fixtures/abort', '--how=fail']).status, 1);
    assert.equal(fata(['run', '-t', t, 'test/fixtures/abort', '--how=ok']).status, 0);
  }
});

test('the embedded default: fata run examples/website serves htdocs on 127.0.0.1 over HTTP and HTTPS, no root', async () => {
  const { uid: asUser, root, remove } = unprivileged();
  const dir = tempCopy('examples/website', root);
  const [port, tlsPort] = await freePorts(2);
  if (asUser !== undefined) spawnSync('chown', ['-R', `${asUser}:${asUser}`, dir]);
  const child = spawn(join(root, 'bin', 'fata'), ['run', dir, `--http-port=${port}`, `--https-port=${tlsPort}`], {
    cwd: root,
    uid: asUser,
    gid: asUser,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    await waitForLine(child, /event=serving/, 60_000).catch(() => {}); // The assertion below shows what it printed instead.
    assert.match(out, /event=serving files=\d+ http=http:\/\/127\.0\.0\.1:/, out);
    const page = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(page.status, 200);
    assert.equal(await page.text(), readFileSync(join(dir, 'htdocs/index.html'), 'utf8'));
    const missing = await fetch(`http://127.0.0.1:${port}/nowhere`);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /404/);
    const tls = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: tlsPort, path: '/hello.txt', rejectUnauthorized: false }, (res) => {
        let b = '';
        res.on('data', (d: Buffer) => {
          b += d.toString();
        });
        res.on('end', () => resolve(b));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(tls, readFileSync(join(dir, 'htdocs/hello.txt'), 'utf8'));
    assert.match(out, /event=access remote=127\.0\.0\.1 method=GET target=\/ status=200/);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
    remove();
  }
});
