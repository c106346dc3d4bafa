/**
 * Test helper: examples/dns-server declares an optional `journal` block
 * device (its dynamic updates; --allow-update needs it). `journalFlag()` makes a
 * zeroed 1 MiB file for one server and returns `--block:journal=FILE`; the
 * files go when the test's process exits.
 */
import { closeSync, mkdtempSync, openSync, rmSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let dir: string | undefined;
let count = 0;

/** A new zeroed journal file, as the flag that attaches it: `--block:journal=FILE`. */
export function journalFlag(bytes = 1 << 20): string {
  if (!dir) {
    const made = mkdtempSync(join(tmpdir(), 'fata-dns-journal-'));
    dir = made;
    process.on('exit', () => rmSync(made, { recursive: true, force: true }));
  }
  const file = join(dir, `journal-${count++}.img`);
  const fd = openSync(file, 'w');
  ftruncateSync(fd, bytes);
  closeSync(fd);
  return `--block:journal=${file}`;
}
