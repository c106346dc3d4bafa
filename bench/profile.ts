/**
 * Reads a V8 CPU profile (`node --cpu-prof` writes `*.cpuprofile`), prints
 * where the time went — self time by function and by source file — and
 * writes a flame graph (SVG, widest = most time) beside it.
 *
 *   node bench/profile.ts PROFILE.cpuprofile [TOP]
 *
 * How to take one of a unikernel under load: docs/profiling.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples?: number[];
}

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node bench/profile.ts PROFILE.cpuprofile [TOP]\n');
  process.exit(2);
}
const top = Number(process.argv[3] ?? 20);
const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const total = prof.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0) || 1;
const short = (url: string): string =>
  url
    .replace(/^file:\/\//, '')
    .replace(/.*\/(src|node_modules|examples|bench)\//, '$1/')
    .replace(/^node:/, 'node:') || '(engine)';
const label = (n: ProfileNode): string =>
  `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;

const selfBy = new Map<string, number>(),
  fileBy = new Map<string, number>();
for (const n of prof.nodes) {
  const h = n.hitCount ?? 0;
  if (!h) continue;
  selfBy.set(label(n), (selfBy.get(label(n)) ?? 0) + h);
  const f = n.callFrame.url ? short(n.callFrame.url) : `(${n.callFrame.functionName || 'engine'})`;
  fileBy.set(f, (fileBy.get(f) ?? 0) + h);
}
const pct = (h: number): string => `${((h / total) * 100).toFixed(1).padStart(5)}%`;
process.stdout.write(`${file}: ${total} samples\n\nself time by function:\n`);
for (const [k, h] of [...selfBy].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`  ${pct(h)}  ${k}\n`);
process.stdout.write('\nself time by file:\n');
for (const [k, h] of [...fileBy].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`  ${pct(h)}  ${k}\n`);

// Flame graph: each node's width is its total (self + descendants) samples.
const totals = new Map<number, number>();
const sum = (id: number): number => {
  const n = byId.get(id)!;
  let t = n.hitCount ?? 0;
  for (const c of n.children ?? []) t += sum(c);
  totals.set(id, t);
  return t;
};
const root = prof.nodes[0]!;
sum(root.id);
const W = 1400,
  rowH = 17;
const rects: string[] = [];
let depthMax = 0;
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
/** Green for Fata's own code, blue for Node's internals, orange for the rest. */
const hueOf = (url: string): number => {
  if (url.includes('/src/')) return 130;
  if (url.startsWith('node:')) return 210;
  return 30;
};
const draw = (id: number, x: number, depth: number): void => {
  const t = totals.get(id)!;
  const w = (t / total) * W;
  if (w < 0.5) return;
  depthMax = Math.max(depthMax, depth);
  const n = byId.get(id)!;
  const name = label(n);
  const hue = hueOf(n.callFrame.url);
  rects.push(
    `<g><title>${esc(name)} (${pct(t).trim()})</title><rect x="${x.toFixed(1)}" y="${depth * rowH}" width="${w.toFixed(1)}" height="${rowH - 1}" fill="hsl(${hue},55%,${60 + (name.length % 20)}%)"/>` +
      (w > 60 ? `<text x="${(x + 3).toFixed(1)}" y="${depth * rowH + 12}">${esc(name.slice(0, Math.floor(w / 6.5)))}</text>` : '') +
      '</g>',
  );
  let cx = x;
  for (const c of n.children ?? []) {
    draw(c, cx, depth + 1);
    cx += ((totals.get(c) ?? 0) / total) * W;
  }
};
draw(root.id, 0, 0);
const H = (depthMax + 1) * rowH;
// Root at the top (an icicle graph): the stack grows downwards, width is time.
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="monospace" font-size="11">\n${rects.join('\n')}\n</svg>\n`;
const out = file.replace(/\.cpuprofile$/, '') + '.flame.svg';
writeFileSync(out, svg);
process.stdout.write(`\nflame graph: ${out} (green: Fata's src/, blue: Node's own modules, orange: engine and others)\n`);
