/**
 * File parameters (param.file): the command line names a file and the
 * service gets its contents, read by the tender before the engine starts
 * (node target) or by the bootstrap before the seal (spt, both tenders), so
 * key material never appears on any process's command line, where `ps`
 * shows it to every user.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForLine } from './netns.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const CLI = join(ROOT, 'bin/fata.mjs');
const NATIVE = join(ROOT, 'bin/fata');
const dir = mkdtempSync(join(tmpdir(), 'fata-file-param-'));
chmodSync(dir, 0o755);
after(() => rmSync(dir, { recursive: true, force: true }));
const SECRET = `-----BEGIN PRIVATE KEY-----\nMARKER${process.pid}x${Date.now()}\n-----END PRIVATE KEY-----\n`;
const secretFile = join(dir, 'key.pem');
writeFileSync(secretFile, SECRET, { mode: 0o600 });

const sptSkip = process.arch !== 'x64' ? `the spt allow-list is for x86_64; this is ${process.arch}` : false;

function build(target: 'node' | 'spt'): string {
  const r = spawnSync(process.execPath, [CLI, 'build', '-t', target, 'test/fixtures/file-param'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const image = join(dir, `file-param-${target}.fata`);
  writeFileSync(image, readFileSync(join(ROOT, 'test/fixtures/file-param/dist/file-param.fata')));
  return image;
}

/** Every process's command line on this host that holds `needle`. */
function cmdlinesWith(needle: string): string[] {
  const hits: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
      if (cmd.includes(needle)) hits.push(`${pid}: ${cmd.replace(/\0/g, ' ').slice(0, 200)}`);
    } catch {
      /* gone */
    }
  }
  return hits;
}

const marker = SECRET.split('\n')[1]!;
const runs: [string, 'node' | 'spt', string[], string | false][] = [
  ['node target', 'node', [process.execPath, CLI, 'run'], false],
  ['spt, CLI tender', 'spt', [process.execPath, CLI, 'run'], sptSkip],
  ['spt, native tender', 'spt', [NATIVE, 'run'], sptSkip],
];
for (const [label, target, argv, skip] of runs) {
  test(`${label}: a file parameter's contents reach the service and no command line`, { skip }, async () => {
    const image = build(target);
    const child = spawn(argv[0]!, [...argv.slice(1), image, `--secret=${secretFile}`, '--hold=3000'], { cwd: ROOT });
    try {
      const line = await waitForLine(child, /event=secret /, 60_000);
      assert.match(line, new RegExp(`bytes=${SECRET.length} first="-----BEGIN PRIVATE KEY-----"`));
      // While it runs (engine, supervisor, tender and all), nobody's command line holds the key.
      assert.deepEqual(cmdlinesWith(marker), []);
      // The control: the marker is findable where it is (so the search could have found it).
      assert.ok(readFileSync(secretFile, 'utf8').includes(marker));
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });

  test(`${label}: a file parameter naming a missing file is refused before the service starts, on stderr`, { skip }, () => {
    const image = build(target);
    const r = spawnSync(argv[0]!, [...argv.slice(1), image, `--secret=${join(dir, 'missing.pem')}`], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /--secret=\S*missing\.pem: cannot read it \(ENOENT\); give a file this user can read/);
    assert.doesNotMatch(r.stdout, /event=secret/);
  });
}

test('the image help names a file parameter as FILE', () => {
  const image = build('node');
  const r = spawnSync(process.execPath, [CLI, 'run', image, '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  assert.match(r.stdout + r.stderr, /--secret=FILE\s+a file whose contents the service gets/);
});
