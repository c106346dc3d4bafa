/** The seccomp program itself: what the docs say is allowed is what the filter allows. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ALLOWED, argRules, buildFilter } from '../src/targets/spt/seccomp.ts';

/** A tiny BPF interpreter for the instructions the builder emits. */
function run(prog: ReturnType<typeof buildFilter>, nr: number, args: number[], arch = 0xc000003e): number {
  let a = 0;
  for (let pc = 0; pc < prog.length; pc++) {
    const i = prog[pc]!;
    if (i.code === 0x20) a = i.k === 0 ? nr : i.k === 4 ? arch : args[(i.k - 16) / 8] ?? 0;
    else if (i.code === 0x15) pc += a === i.k ? i.jt : i.jf;
    else if (i.code === 0x06) return i.k;
    else throw new Error(`unexpected opcode ${i.code}`);
  }
  throw new Error('fell off the end');
}

const ALLOW = 0x7fff0000, EPERM = 0x00050001, KILL = 0x80000000;

test('listed calls pass, unlisted ones get EPERM, a foreign architecture is killed', () => {
  const p = buildFilter({ blockFds: [4] });
  assert.ok(p.length < 256, 'short enough to be cheap');
  for (const nr of Object.values(ALLOWED)) assert.equal(run(p, nr, []), ALLOW, `nr ${nr}`);
  for (const [name, nr] of [['openat', 257], ['socket', 41], ['connect', 42], ['execve', 59], ['clone', 56], ['clone3', 435],
    ['io_uring_setup', 425], ['io_uring_enter', 426], ['ptrace', 101], ['dup', 32], ['pipe2', 293]] as const) {
    assert.equal(run(p, nr, []), EPERM, name);
  }
  assert.equal(run(p, 0, [], 0x40000003), KILL);
});

test('argument rules: pread/pwrite on block fds only, fcntl without F_DUPFD, ioctl TCGETS only', () => {
  const p = buildFilter({ blockFds: [4, 6] });
  assert.equal(run(p, 17, [4]), ALLOW);
  assert.equal(run(p, 18, [6]), ALLOW);
  assert.equal(run(p, 17, [5]), EPERM);
  assert.equal(run(p, 72, [1, 3]), ALLOW);
  assert.equal(run(p, 72, [1, 0]), EPERM, 'F_DUPFD');
  assert.equal(run(p, 16, [1, 0x5401]), ALLOW);
  assert.equal(run(p, 16, [1, 0x5412]), EPERM, 'TIOCSTI');
  assert.equal(run(buildFilter({ blockFds: [] }), 17, [3]), EPERM, 'no block devices, no pread');
  assert.equal(argRules([]).length, 4);
});

test('docs/spt.md names every allowed call', () => {
  const doc = readFileSync(new URL('../docs/spt.md', import.meta.url), 'utf8');
  for (const name of [...Object.keys(ALLOWED), 'pread64', 'pwrite64', 'fcntl', 'ioctl']) {
    assert.ok(doc.includes(`\`${name}\``), `docs/spt.md does not mention ${name}`);
  }
});
