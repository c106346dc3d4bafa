/**
 * Where an image's load time goes before its service runs, phase by phase,
 * in fresh engines (medians of RUNS, default 10): read and verify the image,
 * read its source map, compile the bundle, evaluate it. A profiling aid for
 * the boot row of `bench/boot.ts` (which measures the whole boot against a
 * bare engine), not a comparison of its own. No root needed.
 *
 *   node bench/load-phases.ts [RUNS] [IMAGE...]
 *   (default: examples/ping-serve and examples/website, built for spt first)
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { median, sh } from './lib.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const runs = Number(process.argv[2] ?? 10);
let images = process.argv.slice(3);
if (images.length === 0) {
  for (const ex of ['ping-serve', 'website'])
    sh([process.execPath, join(ROOT, 'bin/fata.mjs'), 'build', '-t', 'spt', '--no-typecheck', join(ROOT, 'examples', ex)]);
  images = ['ping-serve', 'website'].map((ex) => join(ROOT, 'examples', ex, 'dist', `${ex}.fata`));
}

// One fresh engine per run: a second compile in the same process would hit V8's cache.
const probe = `
import { readFileSync } from 'node:fs';
import { readImage } from ${JSON.stringify(join(ROOT, 'src/build/image.ts'))};
import { compileImage, readSourceMap } from ${JSON.stringify(join(ROOT, 'src/tender/load.ts'))};
const p = process.argv[1];
const t0 = performance.now();
const image = readImage(readFileSync(p));
if ('error' in image) throw new Error(image.error);
const t1 = performance.now();
const map = readSourceMap(p, image);
const t2 = performance.now();
const instantiate = compileImage(image, p, map);
const t3 = performance.now();
instantiate();
const t4 = performance.now();
process.stdout.write(JSON.stringify([t1 - t0, t2 - t1, t3 - t2, t4 - t3, map === undefined ? 0 : map.length]));
`;

for (const image of images) {
  const phases: number[][] = [[], [], [], []];
  let mapBytes = 0;
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe, image], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${image}: ${r.stderr}`);
    const got = JSON.parse(r.stdout) as number[];
    for (let k = 0; k < 4; k++) phases[k]!.push(got[k]!);
    mapBytes = got[4]!;
  }
  const [read, map, compile, evaluate] = phases.map((p) => median(p).toFixed(1));
  process.stdout.write(
    `${image.split('/').pop()}: read+verify ${read} ms, source map ${map} ms (${mapBytes} B, parsed only when a stack needs it), compile ${compile} ms, evaluate ${evaluate} ms (medians of ${runs}, ${process.version})\n`,
  );
}
