/**
 * The native spt tender (src/tender/spt-tender.c), compiled on first use
 * with the system C compiler into node_modules/.cache/fata/spt-tender.
 * With it, `fata run IMAGE` for an spt image starts one engine instead of
 * two (bin/fata takes that path); without a compiler everything still
 * works through the JavaScript tender, only slower to boot.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FATA_ROOT } from './paths.ts';

const SOURCE = join(FATA_ROOT, 'src/tender/spt-tender.c');
const OUT = join(FATA_ROOT, 'node_modules', '.cache', 'fata', 'spt-tender');

/** Builds the tender if it is missing or older than its source; returns its path, or a reason it cannot be built. */
export function ensureNativeTender(): { path: string } | { error: string } {
  if (process.platform !== 'linux' || process.arch !== 'x64') return { error: 'the native tender is x86_64 Linux only' };
  try {
    if (existsSync(OUT) && statSync(OUT).mtimeMs >= statSync(SOURCE).mtimeMs) return { path: OUT };
    const cc = ['cc', 'gcc', 'clang'].find((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0);
    if (!cc) return { error: 'no C compiler (apt-get install gcc libc6-dev): spt images boot through the JavaScript tender' };
    mkdirSync(join(FATA_ROOT, 'node_modules', '.cache', 'fata'), { recursive: true });
    const tmp = `${OUT}.${process.pid}.tmp`;
    const r = spawnSync(cc, ['-O2', '-Wall', '-o', tmp, SOURCE], { encoding: 'utf8' });
    if (r.status !== 0) return { error: `compiling the native tender failed: ${r.stderr.trim().split('\n').slice(0, 3).join(' ')}` };
    renameSync(tmp, OUT);
    return { path: OUT };
  } catch (e) {
    return { error: `cannot build the native tender: ${(e as Error).message}` };
  }
}
