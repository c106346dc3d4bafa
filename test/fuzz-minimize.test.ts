/**
 * `npm run fuzz -- --minimize-corpus`: the corpus keeps what reaches blocks
 * no smaller entry reaches, and always its seeds and crashes. A file of its
 * own: one V8 coverage session a process, started before the code it
 * measures (src/runtime/args.ts here) first runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CoverageGuide } from '../bench/fuzz/coverage.ts';

test('minimizeCorpus: a duplicate and a larger entry down the same path go; seeds, crashes and a new path stay', async () => {
  const guide = new CoverageGuide('/src/runtime/args.ts');
  const { minimizeCorpus } = await import('../bench/fuzz/run.ts');
  const { parseBootArgs } = await import('../src/runtime/args.ts');
  const dir = mkdtempSync(join(tmpdir(), 'fata-cmin-'));
  try {
    const put = (name: string, text: string): void => writeFileSync(join(dir, name), text);
    put('seed-help.bin', '--help');
    put('crash-old.bin', '--ipv4=nonsense');
    put('b-same-as-seed.bin', '--help');
    put('z-address.bin', '--ipv4=10.0.0.2/24\n--ipv4-gateway=10.0.0.1');
    put('a0-address-longer.bin', '--ipv4=10.0.0.22/24\n--ipv4-gateway=10.0.0.1');
    const target = {
      name: 'args',
      maxLen: 256,
      seeds: () => [],
      run: (b: Uint8Array): void => {
        parseBootArgs(new TextDecoder().decode(b).split('\n'), {});
      },
    };
    const r = await minimizeCorpus(target, guide, new URL(`${pathToFileURL(dir).href}/`));
    assert.deepEqual(readdirSync(dir).sort(), ['crash-old.bin', 'seed-help.bin', 'z-address.bin']);
    assert.deepEqual([...r.removed].sort(), ['a0-address-longer.bin', 'b-same-as-seed.bin']);
    assert.equal(r.before, 5);
    assert.equal(r.after, 3);
    assert.ok(r.blocks > 0, 'blocks covered are counted');
    assert.equal(r.blocksKept, r.blocks, 'what stays covers what the whole corpus did');
    assert.equal(r.bytesAfter, 6 + 15 + 42);
  } finally {
    guide.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
