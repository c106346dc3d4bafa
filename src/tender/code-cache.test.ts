import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CODE_CACHE_DIR, codeCacheDir } from './code-cache.ts';

const SHA = 'ab'.repeat(32);

test('codeCacheDir: only where the image folder opted in with a .v8-cache of our own, closed to others; one folder per SHA-256', () => {
  const root = mkdtempSync(join(tmpdir(), 'fata-code-cache-'));
  const euid = process.geteuid!();
  try {
    const image = join(root, 'x.fata');
    const base = join(root, CODE_CACHE_DIR);
    assert.equal(codeCacheDir(image, SHA, euid), undefined, 'no .v8-cache: no cache');
    mkdirSync(base, { mode: 0o700 });
    chmodSync(base, 0o755);
    assert.equal(codeCacheDir(image, SHA, euid), undefined, 'others may read it: no cache');
    chmodSync(base, 0o700);
    assert.equal(codeCacheDir(image, SHA, euid + 1), undefined, "another user's: no cache");
    assert.equal(codeCacheDir(image, 'not-a-hash', euid), undefined);
    const dir = codeCacheDir(image, SHA, euid);
    assert.equal(dir, join(base, SHA));
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(codeCacheDir(image, SHA, euid), dir, 'there already: the same folder');
    chmodSync(dir, 0o777);
    assert.equal(codeCacheDir(image, SHA, euid), undefined, 'an entry folder open to others is not used');
    rmSync(base, { recursive: true });
    const elsewhere = join(root, 'elsewhere');
    mkdirSync(elsewhere, { mode: 0o700 });
    symlinkSync(elsewhere, base);
    assert.equal(codeCacheDir(image, SHA, euid), undefined, 'a symlink is not followed');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
