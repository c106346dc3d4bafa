/**
 * `npm run bench [-- --quick]`: every benchmark in bench/ with its reference
 * measured in the same run, one ratio table, BENCHMARKS.md and
 * bench/chart.svg rewritten. --quick (about 2 minutes) runs each briefly
 * and warns where a ratio fell more than 15% below the last recorded run of
 * the same kind; it never fails on a number.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpus, release } from 'node:os';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Result } from './lib.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const quick = process.argv.includes('--quick');
const mode = quick ? 'quick' : 'full';
const say = (s: string): void => {
  process.stdout.write(s + '\n');
};

const BENCHES: { name: string; args: string[]; quickArgs: string[]; what: string }[] = [
  { name: 'rx-path', args: ['1000000'], quickArgs: ['200000'], what: 'in-process receive path vs an allocating parse' },
  {
    name: 'dns-path',
    args: ['200000', '5'],
    quickArgs: ['50000', '3'],
    what: 'in-process DNS answers through the dns-server image, repeated mix vs each name spelled anew',
  },
  { name: 'boot', args: ['10'], quickArgs: ['5'], what: 'spt boot and RSS vs a bare engine start' },
  { name: 'tcp', args: ['500'], quickArgs: ['100'], what: 'bulk TCP vs the kernel over veth' },
  { name: 'http', args: ['8'], quickArgs: ['2'], what: 'website vs nginx and plain Node http' },
  { name: 'dns', args: ['8'], quickArgs: ['2'], what: 'authoritative DNS server vs NSD' },
  { name: 'density', args: ['250'], quickArgs: ['20'], what: 'sealed websites under fata daemon vs bare engines' },
  { name: 'tcp-memory', args: ['1000'], quickArgs: ['200'], what: 'TCP connection memory, idle and busy, vs the kernel' },
  {
    name: 'wan',
    args: ['50', '3'],
    quickArgs: ['2', '1'],
    what: 'one TCP connection on long and lossy paths through fata relay vs the kernel',
  },
];

// Debian peers, installed when we are root and they are missing.
if (process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v apt-get']).status === 0) {
  const need = ['nginx-light', 'wrk', 'netcat-openbsd', 'iproute2', 'procps', 'openssl', 'dnsperf', 'nsd', 'knot-dnsutils'].filter(
    (p) => spawnSync('dpkg', ['-s', p], { stdio: 'ignore' }).status !== 0,
  );
  if (need.length) {
    say(`bench: installing ${need.join(' ')} from Debian`);
    spawnSync('apt-get', ['install', '-y', '-qq', ...need], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
}

const results: Result[] = [];
const skipped: string[] = [];
const t0 = Date.now();
for (const [i, b] of BENCHES.entries()) {
  say(`\n[${i + 1}/${BENCHES.length}] ${b.name}: ${b.what} (${Math.round((Date.now() - t0) / 1000)} s so far)`);
  const args = quick ? b.quickArgs : b.args;
  const child = spawn(process.execPath, [join(ROOT, 'bench', `${b.name}.ts`), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let buf = '';
  const line = (l: string): void => {
    if (l.startsWith('BENCH ')) results.push(JSON.parse(l.slice(6)) as Result);
    else if (l.startsWith('SKIP ')) {
      skipped.push(l.slice(5));
      say(`  skipped: ${l.slice(5)}`);
    } else if (l.trim()) say(`  ${l}`);
  };
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const ls = buf.split('\n');
    buf = ls.pop()!;
    ls.forEach(line);
  });
  child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  if (buf) line(buf);
  if (code !== 0) {
    skipped.push(`${b.name}: exited with ${code}`);
    say(`  ${b.name} failed (exit ${code}); going on`);
  }
}

// Compare with the last run of the same kind.
const store = join(ROOT, 'bench/results.json');
const history = existsSync(store) ? (JSON.parse(readFileSync(store, 'utf8')) as Record<string, { date: string; results: Result[] }>) : {};
const before = history[mode] ?? history.full;
const warnings: string[] = [];
if (before) {
  for (const r of results) {
    const old = before.results.find((o) => o.bench === r.bench && o.metric === r.metric);
    if (typeof old?.ratio === 'number' && typeof r.ratio === 'number' && r.ratio < old.ratio * 0.85) {
      warnings.push(
        `${r.bench} · ${r.metric}: ratio ${r.ratio.toFixed(2)} vs ${old.ratio.toFixed(2)} on ${before.date} (−${((1 - r.ratio / old.ratio) * 100).toFixed(0)}%)`,
      );
    }
  }
}

const fmt = (v: number | null | undefined): string => {
  if (typeof v !== 'number' || !Number.isFinite(v)) return 'n/a';
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
};
/** The ratio, or why there is none: a reference with no result, or no reference at all (blank). */
const ratioCell = (r: Result): string => {
  if (typeof r.ratio === 'number' && Number.isFinite(r.ratio)) return `${r.ratio.toFixed(2)}×`;
  return r.reference !== undefined ? 'n/a (no result)' : '';
};
const rows = results.map((r) => {
  const floor =
    r.floor !== undefined ? `${+r.floor.toFixed(2)}× ${typeof r.ratio === 'number' && r.ratio >= r.floor ? 'met' : 'MISSED'}` : '';
  return [
    r.bench,
    r.metric,
    `${fmt(r.value)} ${r.unit}`,
    r.reference !== undefined ? `${fmt(r.reference)} ${r.unit} (${r.referenceName})` : '',
    ratioCell(r),
    floor,
  ];
});
const header = ['bench', 'measurement', 'Fata', 'reference, same run', 'ratio', 'floor'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
say('\n' + [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n'));
say('\nratio: above 1 means Fata does better than the reference (for latency and time, reference ÷ Fata).');
for (const w of warnings) say(`warning: dropped more than 15%: ${w}`);
for (const s of skipped) say(`skipped: ${s}`);

// BENCHMARKS.md, the chart, and the record. Runs made by hand apart from this runner (density at its full count
// on a machine a quick run shares) are kept in bench/measured-apart.md, which BENCHMARKS.md carries after the table.
const APART = join(ROOT, 'bench/measured-apart.md');
const date = new Date().toISOString().slice(0, 10);
const engine = process.version;
const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), Linux ${release()}, engine Node ${engine}`;
writeFileSync(store, JSON.stringify({ ...history, [mode]: { date, machine, results } }, null, 2) + '\n');
writeFileSync(join(ROOT, 'bench/chart.svg'), chart(results, `Fata ÷ reference, ${mode} run, ${date}`));
const md = `# Benchmarks

Written by \`npm run bench${quick ? ' -- --quick' : ''}\` on ${date}: ${machine}. Every reference
was measured in the same run on the same machine; shared, noisy machines
make single runs vary by 10–20%, so read ratios, not absolute numbers.
Ratios above 1 mean Fata does better (for latency and time: reference ÷ Fata).

![ratios](bench/chart.svg)

| ${header.join(' | ')} |
| ${header.map(() => '---').join(' | ')} |
${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}
${skipped.length ? `\nSkipped: ${skipped.join('; ')}.\n` : ''}${warnings.length ? `\nDrops of more than 15% against ${before!.date}: ${warnings.join('; ')}.\n` : ''}
## Commands

| bench | command (as root) | what it runs |
| --- | --- | --- |
${BENCHES.map((b) => `| ${b.name} | \`node bench/${b.name}.ts ${(quick ? b.quickArgs : b.args).join(' ')}\` | ${b.what} |`).join('\n')}

\`npm run bench\` runs them all (about 10 minutes); \`npm run bench -- --quick\` in about 2.
Details of each, the profiles and what they found: [bench/README.md](bench/README.md).
${existsSync(APART) ? `\n${readFileSync(APART, 'utf8')}` : ''}`;
writeFileSync(join(ROOT, 'BENCHMARKS.md'), md);
say(`\nwrote BENCHMARKS.md, bench/chart.svg and bench/results.json (${Math.round((Date.now() - t0) / 1000)} s)`);

/** A horizontal bar per ratio, a line at 1×, a tick at each floor. */
function chart(rs: Result[], title: string): string {
  const withRatio = rs.filter((r) => typeof r.ratio === 'number' && Number.isFinite(r.ratio));
  const max = Math.max(2, ...withRatio.map((r) => r.ratio!));
  const W = 900,
    left = 360,
    barW = W - left - 60,
    rowH = 22,
    top = 40;
  const H = top + withRatio.length * rowH + 30;
  const x = (v: number): number => left + (Math.min(v, max) / max) * barW;
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const bars = withRatio
    .map((r, i) => {
      const y = top + i * rowH;
      const good = r.floor !== undefined ? r.ratio! >= r.floor : r.ratio! >= 1;
      return (
        `<text x="${left - 8}" y="${y + 15}" text-anchor="end">${esc(`${r.bench}: ${r.metric}`)}</text>` +
        `<rect x="${left}" y="${y + 4}" width="${(x(r.ratio!) - left).toFixed(1)}" height="${rowH - 8}" fill="${good ? '#2f6f4e' : '#b5533c'}"/>` +
        `<text x="${(x(r.ratio!) + 4).toFixed(1)}" y="${y + 15}">${r.ratio!.toFixed(2)}×</text>` +
        (r.floor !== undefined
          ? `<line x1="${x(r.floor)}" x2="${x(r.floor)}" y1="${y + 2}" y2="${y + rowH - 2}" stroke="#000" stroke-width="2"/>`
          : '')
      );
    })
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="system-ui, sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="${left}" y="22" font-size="15" font-weight="600">${esc(title)}</text>
<line x1="${x(1)}" x2="${x(1)}" y1="${top}" y2="${H - 24}" stroke="#888" stroke-dasharray="4 3"/>
<text x="${x(1)}" y="${H - 8}" text-anchor="middle" fill="#555">1× (equal to the reference); black ticks: the issue's floor</text>
${bars}
</svg>
`;
}
