/**
 * The rules of ARCHITECTURE.md that a program can check: the portable core
 * imports nothing from node:* and reads no ambient time or randomness, and
 * layers import only downward.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const CORE = ['src/wire', 'src/net', 'src/http', 'src/storage', 'src/link', 'src/sim', 'src/devices'];

function sources(dir: string): string[] {
  let out: string[] = [];
  let names: string[];
  try { names = readdirSync(dir); } catch { return out; }
  for (const n of names) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out = out.concat(sources(p));
    else if (n.endsWith('.ts') && !n.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const importsOf = (file: string): string[] =>
  [...readFileSync(file, 'utf8').matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g)].map((m) => m[1]!);

test('the portable core imports nothing from node:* or any package', () => {
  const bad: string[] = [];
  for (const dir of CORE) {
    for (const f of sources(dir)) {
      for (const spec of importsOf(f)) if (!spec.startsWith('.')) bad.push(`${f} imports ${spec}`);
    }
  }
  assert.deepEqual(bad, []);
  assert.ok(sources('src/net').length >= 5, 'the check saw the sources');
});

test('the portable core reads no clock, timer or randomness of its own', () => {
  const bad: string[] = [];
  for (const dir of CORE) {
    for (const f of sources(dir)) {
      const text = readFileSync(f, 'utf8');
      for (const re of [/Date\.now\(/, /setTimeout\(/, /setInterval\(/, /Math\.random\(/, /performance\.now\(/, /process\./]) {
        if (re.test(text)) bad.push(`${f}: ${re}`);
      }
    }
  }
  assert.deepEqual(bad, []);
});

test('imports go one way: wire never imports net, link or sim; devices import nothing', () => {
  const rules: [string, RegExp][] = [
    ['src/devices', /./],
    ['src/wire', /\/(net|link|sim|runtime|targets)\//],
    ['src/link', /\/(net|sim|runtime|targets)\//],
    ['src/sim', /\/(net|runtime|targets)\//],
    ['src/net', /\/(link|sim|runtime|targets)\//],
  ];
  const bad: string[] = [];
  for (const [dir, forbidden] of rules) {
    for (const f of sources(dir)) {
      for (const spec of importsOf(f)) {
        if (dir === 'src/devices' ? true : forbidden.test(spec)) bad.push(`${f} imports ${spec}`);
      }
    }
  }
  assert.deepEqual(bad, []);
});
