/**
 * The seccomp program itself, run through a classic-BPF interpreter: what
 * docs/spt.md says is allowed is what the filter allows, and every argument
 * check (descriptors, pids, block offsets and lengths in 64 bits) holds at
 * its edges and against a reference on random inputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { buildFilter, CHECKED, OP, UNCHECKED, type Insn, type SealPlan } from '../src/targets/spt/filter.ts';

/** Runs the program on one system call: nr and up to six 64-bit arguments. */
function run(prog: Insn[], nr: number, args: (number | bigint)[] = [], arch = 0xc000003e): number {
  const data = new DataView(new ArrayBuffer(64));
  data.setUint32(0, nr, true);
  data.setUint32(4, arch, true);
  args.forEach((a, i) => {
    data.setBigUint64(16 + 8 * i, BigInt.asUintN(64, BigInt(a)), true);
  });
  let A = 0,
    X = 0;
  const M = new Uint32Array(16);
  for (let pc = 0; pc < prog.length; pc++) {
    const i = prog[pc]!;
    switch (i.code) {
      case OP.LD_W_ABS:
        A = data.getUint32(i.k, true);
        break;
      case OP.LD_MEM:
        A = M[i.k]!;
        break;
      case OP.LDX_MEM:
        X = M[i.k]!;
        break;
      case OP.ST:
        M[i.k] = A;
        break;
      case OP.TAX:
        X = A;
        break;
      case OP.ADD_X:
        A = (A + X) >>> 0;
        break;
      case OP.ADD_K:
        A = (A + i.k) >>> 0;
        break;
      case OP.JA:
        pc += i.k;
        break;
      case OP.JEQ_K:
        pc += A === i.k ? i.jt : i.jf;
        break;
      case OP.JGT_K:
        pc += A > i.k ? i.jt : i.jf;
        break;
      case OP.JGE_X:
        pc += A >= X ? i.jt : i.jf;
        break;
      case OP.JSET_K:
        pc += (A & i.k) !== 0 ? i.jt : i.jf;
        break;
      case OP.RET_K:
        return i.k;
      default:
        throw new Error(`unexpected opcode ${i.code}`);
    }
  }
  throw new Error('fell off the end');
}

const ALLOW = 0x7fff0000,
  EPERM = 0x00050001,
  KILL = 0x80000000;
const MiB = 1024n * 1024n;
const plan: SealPlan = {
  pid: 1,
  tids: [2, 3, 4],
  ownFds: [5, 6, 7],
  consoleFds: [1, 2],
  netFds: [3],
  blocks: [
    { fd: 4, capacity: 4n * MiB },
    { fd: 8, capacity: 6n * 1024n * MiB },
  ],
};
const p = buildFilter(plan);

test('unchecked calls pass, unlisted ones get EPERM, a foreign architecture is killed', () => {
  for (const nr of Object.values(UNCHECKED)) assert.equal(run(p, nr), ALLOW, `nr ${nr}`);
  for (const [name, nr] of [
    ['open', 2],
    ['openat', 257],
    ['socket', 41],
    ['connect', 42],
    ['bind', 49],
    ['listen', 50],
    ['accept', 43],
    ['execve', 59],
    ['fork', 57],
    ['vfork', 58],
    ['clone', 56],
    ['clone3', 435],
    ['kill', 62],
    ['mount', 165],
    ['unshare', 272],
    ['io_uring_setup', 425],
    ['io_uring_enter', 426],
    ['ptrace', 101],
    ['process_vm_writev', 311],
    ['dup', 32],
    ['pipe2', 293],
    ['ftruncate', 77],
    ['fallocate', 285],
    ['lseek', 8],
    ['setuid', 105],
    ['prctl', 157],
    ['seccomp', 317],
    ['eventfd2', 290],
    ['memfd_create', 319],
    ['inotify_init1', 294],
  ] as const) {
    assert.equal(run(p, nr, [0, 0, 0, 0, 0, 0]), EPERM, name);
  }
  assert.equal(run(p, 0, [3], 0x40000003), KILL);
});

test('close, fstat, fsync and fcntl reads only on descriptors it holds; membarrier only on itself', () => {
  for (const nr of [3, 5, 74]) {
    for (const fd of [0, 1, 2, 3, 4, 5, 8]) assert.equal(run(p, nr, [fd]), ALLOW, `${nr}(${fd})`);
    assert.equal(run(p, nr, [40]), EPERM, `${nr}(40)`);
  }
  assert.equal(run(p, 72, [40, 3]), EPERM, 'F_GETFL on a descriptor it does not hold');
  for (const cmd of [0, 8, 16, 32, 64, 128, 256]) assert.equal(run(p, 324, [cmd]), ALLOW, `membarrier ${cmd}`);
  for (const cmd of [1, 2, 4]) assert.equal(run(p, 324, [cmd]), EPERM, `membarrier global ${cmd}`);
});

test('read and write only on the descriptors they belong to', () => {
  for (const fd of [3, 5, 6, 7]) {
    assert.equal(run(p, 0, [fd]), ALLOW, `read ${fd}`);
    assert.equal(run(p, 19, [fd]), ALLOW, `readv ${fd}`);
    assert.equal(run(p, 1, [fd]), ALLOW, `write ${fd}`);
  }
  for (const fd of [1, 2]) {
    assert.equal(run(p, 1, [fd]), ALLOW, `write console ${fd}`);
    assert.equal(run(p, 20, [fd]), ALLOW, `writev console ${fd}`);
    assert.equal(run(p, 0, [fd]), EPERM, `read console ${fd}`);
  }
  for (const fd of [0, 4, 8, 9, 40, 41, 0x100000028n]) {
    assert.equal(run(p, 0, [fd]), EPERM, `read ${fd}`);
    assert.equal(run(p, 1, [fd]), EPERM, `write ${fd}`);
  }
  assert.equal(run(p, 0, [0x100000003n]), ALLOW, 'the kernel reads a descriptor as 32 bits: this is the tap, fd 3');
  assert.equal(run(p, 233, [5]), ALLOW, 'epoll_ctl on its own');
  assert.equal(run(p, 233, [3]), EPERM, 'epoll_ctl elsewhere');
});

test('signals and scheduler queries only on itself', () => {
  assert.equal(run(p, 234, [1, 2, 9]), ALLOW);
  assert.equal(run(p, 234, [777, 777, 9]), EPERM, 'tgkill on another process');
  for (const nr of [143, 145, 204]) {
    for (const pid of [0, 1, 2, 3, 4]) assert.equal(run(p, nr, [pid]), ALLOW, `${nr}(${pid})`);
    assert.equal(run(p, nr, [5000]), EPERM, `${nr}(5000)`);
  }
});

test('memory maps are anonymous; fcntl and ioctl keep to what the engine needs', () => {
  assert.equal(run(p, 9, [0, 4096, 3, 0x22, -1, 0]), ALLOW, 'MAP_PRIVATE|MAP_ANONYMOUS');
  assert.equal(run(p, 9, [0, 4096, 3, 0x01, 4, 0]), EPERM, 'MAP_SHARED of the block file');
  for (const cmd of [1, 2, 3]) assert.equal(run(p, 72, [1, cmd]), ALLOW, `fcntl cmd ${cmd}`);
  assert.equal(run(p, 72, [5, 4, 0o4000]), ALLOW, 'F_SETFL on its own pipe');
  assert.equal(run(p, 72, [1, 4, 0o4000]), EPERM, 'F_SETFL on the console');
  assert.equal(run(p, 72, [0, 4, 0o4000]), EPERM, 'F_SETFL on stdin');
  assert.equal(run(p, 72, [5, 0, 0]), EPERM, 'F_DUPFD');
  assert.equal(run(p, 72, [5, 1030, 0]), EPERM, 'F_DUPFD_CLOEXEC');
  assert.equal(run(p, 16, [1, 0x5401]), ALLOW, 'TCGETS');
  for (const cmd of [0x5412, 0x5421, 0x400454ca, 0x5402]) assert.equal(run(p, 16, [1, cmd]), EPERM, `ioctl ${cmd.toString(16)}`);
});

test('pread64/pwrite64: block descriptors only, offset + length inside the capacity (64-bit)', () => {
  const cap = 4n * MiB;
  for (const nr of [17, 18]) {
    assert.equal(run(p, nr, [4, 0, 512, 0]), ALLOW);
    assert.equal(run(p, nr, [4, 0, 512, cap - 512n]), ALLOW, 'the last block');
    assert.equal(run(p, nr, [4, 0, 4096, cap - 512n]), EPERM, 'straddling the end');
    assert.equal(run(p, nr, [4, 0, 512, cap]), EPERM, 'at the capacity');
    assert.equal(run(p, nr, [4, 0, 512, -512n]), EPERM, 'a negative offset');
    assert.equal(run(p, nr, [4, 0, (1n << 32n) + 512n, 0]), EPERM, 'a length above 4 GiB');
    assert.equal(run(p, nr, [4, 0, 0x80000000, 0]), EPERM, 'a length of 2 GiB');
    assert.equal(run(p, nr, [4, 0, 0, cap]), ALLOW, 'nothing at the end');
    assert.equal(run(p, nr, [3, 0, 512, 0]), EPERM, 'the tap');
    assert.equal(run(p, nr, [1, 0, 512, 0]), EPERM, 'the console');
    const big = 6n * 1024n * MiB;
    assert.equal(run(p, nr, [8, 0, 512, big - 512n]), ALLOW, 'the last block of 6 GiB');
    assert.equal(run(p, nr, [8, 0, 1024, 0xffff_fe00n]), ALLOW, 'a low-half carry inside');
    assert.equal(run(p, nr, [8, 0, 1024, big - 512n]), EPERM, 'past 6 GiB');
    assert.equal(run(p, nr, [8, 0, 0x7fffffff, big - 0x7ffffffen]), EPERM, 'one byte past, with a carry');
  }
  assert.equal(run(buildFilter({ ...plan, blocks: [] }), 17, [4, 0, 512, 0]), EPERM, 'no block devices, no pread');
});

test('the block range check agrees with 64-bit arithmetic on random arguments', () => {
  const caps = [4n * MiB, 6n * 1024n * MiB, (1n << 40n) + 512n];
  fc.assert(
    fc.property(
      fc.constantFrom(...caps),
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      fc.constantFrom(0, 1, 2),
      (capacity, offset, count, shape) => {
        // Most random 64-bit values are far out; bring some near the edges.
        if (shape === 1) {
          count %= 1n << 20n;
          offset = capacity - count + (offset % 4096n) - 2048n;
        }
        if (shape === 2) {
          count %= 1n << 31n;
          offset %= capacity;
        }
        offset = BigInt.asUintN(64, offset);
        const prog = buildFilter({ ...plan, blocks: [{ fd: 4, capacity }] });
        const want = count < 1n << 31n && offset <= capacity && offset + count <= capacity ? ALLOW : EPERM;
        assert.equal(run(prog, 18, [4, 0, count, offset]), want, `capacity ${capacity} offset ${offset} count ${count}`);
      },
    ),
    { numRuns: 3000 },
  );
});

test('a large plan still assembles (every jump in range)', () => {
  const many: SealPlan = {
    pid: 1,
    tids: Array.from({ length: 64 }, (_, i) => i + 2),
    ownFds: Array.from({ length: 40 }, (_, i) => i + 40),
    consoleFds: [1, 2],
    netFds: Array.from({ length: 16 }, (_, i) => i + 3),
    blocks: Array.from({ length: 16 }, (_, i) => ({ fd: i + 19, capacity: BigInt(i + 1) * MiB })),
  };
  const prog = buildFilter(many);
  assert.ok(prog.length < 4096, `${prog.length} instructions`);
  assert.equal(run(prog, 18, [34, 0, 512, 16n * MiB - 512n]), ALLOW);
  assert.equal(run(prog, 18, [34, 0, 512, 16n * MiB]), EPERM);
  assert.equal(run(prog, 0, [79]), ALLOW);
  assert.equal(run(prog, 0, [80]), EPERM);
});

test('docs/spt.md names every allowed call', () => {
  const doc = readFileSync(new URL('../docs/spt.md', import.meta.url), 'utf8');
  for (const name of [...Object.keys(UNCHECKED), ...Object.keys(CHECKED)]) {
    assert.ok(doc.includes(`\`${name}\``), `docs/spt.md does not mention ${name}`);
  }
});

test('the tables name each call by its x86_64 number (arch/x86/entry/syscalls/syscall_64.tbl), as many as docs/spt.md counts', () => {
  assert.deepEqual(
    { ...UNCHECKED },
    {
      poll: 7,
      mprotect: 10,
      munmap: 11,
      brk: 12,
      rt_sigaction: 13,
      rt_sigprocmask: 14,
      rt_sigreturn: 15,
      sched_yield: 24,
      mremap: 25,
      madvise: 28,
      nanosleep: 35,
      getpid: 39,
      exit: 60,
      sigaltstack: 131,
      gettid: 186,
      futex: 202,
      clock_gettime: 228,
      clock_getres: 229,
      clock_nanosleep: 230,
      exit_group: 231,
      ppoll: 271,
      getrandom: 318,
      rseq: 334,
    },
  );
  const nrs = Object.fromEntries(Object.entries(CHECKED).map(([name, c]) => [name, c.nr]));
  assert.deepEqual(nrs, {
    close: 3,
    fstat: 5,
    fsync: 74,
    read: 0,
    readv: 19,
    write: 1,
    writev: 20,
    pread64: 17,
    pwrite64: 18,
    mmap: 9,
    tgkill: 234,
    sched_getparam: 143,
    sched_getscheduler: 145,
    sched_getaffinity: 204,
    epoll_wait: 232,
    epoll_ctl: 233,
    epoll_pwait: 281,
    epoll_pwait2: 441,
    fcntl: 72,
    ioctl: 16,
    membarrier: 324,
  });
  const doc = readFileSync(new URL('../docs/spt.md', import.meta.url), 'utf8');
  const n = Object.keys(UNCHECKED).length,
    m = Object.keys(CHECKED).length;
  assert.ok(doc.includes(`That is ${n + m} calls (${n} unchecked, ${m} checked)`), `docs/spt.md does not count ${n} + ${m}`);
  // Every checked call is allowed for some arguments (each has its own block), and denied for a descriptor nobody holds.
  const args: Record<string, (number | bigint)[]> = {
    mmap: [0, 4096, 3, 0x22, -1, 0],
    fcntl: [1, 1],
    ioctl: [1, 0x5401],
    pread64: [4, 0, 512, 0],
  };
  args.pwrite64 = args.pread64!;
  args.membarrier = [0];
  for (const [name, { nr }] of Object.entries(CHECKED)) {
    const allowed = args[name] ?? [name.startsWith('sched') || name === 'tgkill' ? 1 : 5];
    assert.equal(run(p, nr, allowed), ALLOW, `${name}(${allowed.join(', ')})`);
  }
});

test('every instruction is a struct sock_filter: 16-bit code, 8-bit jumps, 32-bit k, every jump inside the program', () => {
  for (const prog of [p, buildFilter({ ...plan, blocks: [], netFds: [], ownFds: [] })]) {
    prog.forEach((i, pc) => {
      assert.ok(Number.isInteger(i.code) && i.code >= 0 && i.code <= 0xffff, `code at ${pc}`);
      assert.ok(Number.isInteger(i.k) && i.k >= 0 && i.k <= 0xffffffff, `k at ${pc}: ${i.k}`);
      for (const j of [i.jt, i.jf]) assert.ok(Number.isInteger(j) && j >= 0 && j <= 255, `jump at ${pc}`);
      const furthest = pc + 1 + (i.code === OP.JA ? i.k : Math.max(i.jt, i.jf));
      if (i.code !== OP.RET_K) assert.ok(furthest < prog.length, `a jump at ${pc} leaves the program`);
    });
    assert.equal(prog.at(-1)?.code, OP.RET_K, 'the program ends in a return');
  }
});

test('F_SETFL with no tap and no descriptor of its own: refused everywhere, F_GETFL still allowed', () => {
  const bare = buildFilter({ ...plan, netFds: [], ownFds: [], blocks: [] });
  for (const fd of [0, 1, 2, 5]) assert.equal(run(bare, 72, [fd, 4, 0o4000]), EPERM, `F_SETFL on ${fd}`);
  for (const fd of [0, 1, 2]) assert.equal(run(bare, 72, [fd, 3]), ALLOW, `F_GETFL on ${fd}`);
  assert.equal(run(bare, 0, [3]), EPERM, 'read with no tap');
  assert.equal(run(bare, 232, [5]), EPERM, 'epoll_wait with no descriptor of its own');
});

test('pread64/pwrite64: a length of 2 GiB is refused even inside a larger device; an offset past 4 GiB cannot wrap its low half in', () => {
  const big = 6n * 1024n * MiB;
  for (const nr of [17, 18]) {
    assert.equal(run(p, nr, [8, 0, 0x7fffffff, 0]), ALLOW, '2 GiB - 1 inside 6 GiB');
    assert.equal(run(p, nr, [8, 0, 0x80000000, 0]), EPERM, '2 GiB inside 6 GiB (docs/spt.md: length below 2 GiB)');
    assert.equal(run(p, nr, [8, 0, 0xffffffff, 0]), EPERM, '4 GiB - 1 inside 6 GiB');
    // 4 MiB device: the offset's high half is 0 like the capacity's, the low sum carries into it.
    assert.equal(run(p, nr, [4, 0, 0x200, 0xffff_ff00n]), EPERM, 'offset near 4 GiB on a 4 MiB device');
    assert.equal(run(p, nr, [4, 0, 0x100, 0xffff_ff00n]), EPERM, 'ending exactly at 4 GiB on a 4 MiB device');
    // 6 GiB device (high half 1): a sum whose high half is 2 is past it whatever its low half.
    assert.equal(run(p, nr, [8, 0, 0x1000, 0x1_ffff_f800n]), EPERM, 'carrying into 8 GiB');
    assert.equal(run(p, nr, [8, 0, 0x1000, big - 0x1000n]), ALLOW, 'the last 4 KiB of 6 GiB');
  }
});

/** The largest plan `grow(n)` assembles as n grows, and the n that is refused (the first past it). */
function largest(grow: (n: number) => SealPlan): { prog: Insn[]; n: number } {
  let prog: Insn[] | undefined;
  for (let n = 0; n < 600; n++) {
    try {
      prog = buildFilter(grow(n));
    } catch (e) {
      assert.equal((e as Error).message, 'seccomp: a conditional jump is out of range');
      assert.ok(prog, 'the smallest plan assembles');
      return { prog, n };
    }
  }
  assert.fail('a plan with hundreds of descriptors or threads is refused');
}
const longestJump = (prog: Insn[]): number => Math.max(...prog.filter((i) => i.code !== OP.JA).map((i) => Math.max(i.jt, i.jf)));

test('conditional jumps reach 255 ahead: a plan is refused exactly when one would need more, never assembled wrong', () => {
  const consoles = (n: number): SealPlan => ({ ...plan, consoleFds: [1, 2, ...Array.from({ length: n }, (_, i) => 1000 + i)] });
  const c = largest(consoles);
  assert.equal(longestJump(c.prog), 255, 'the largest plan it assembles uses the longest jump there is (a miss)');
  assert.equal(run(c.prog, 1, [1000 + c.n - 2]), ALLOW, 'the last console descriptor of the largest plan');
  assert.equal(run(c.prog, 72, [1000, 4, 0o4000]), EPERM, 'F_SETFL on a console descriptor, across the longest jump');
  assert.equal(run(c.prog, 72, [1000, 3]), ALLOW, 'F_GETFL on it');
  assert.equal(run(c.prog, 72, [5, 4, 0o4000]), ALLOW, 'F_SETFL on its own pipe');
  assert.deepEqual(buildFilter(consoles(c.n - 1)), c.prog, 'the same plan, the same program');
  const threads = (n: number): SealPlan => ({ ...plan, tids: Array.from({ length: n }, (_, i) => 2 + i) });
  const t = largest(threads);
  assert.equal(longestJump(t.prog), 255, 'the largest plan it assembles uses the longest jump there is (a match)');
  assert.equal(run(t.prog, 143, [2]), ALLOW, 'sched_getparam on the first thread, across the longest jump');
  assert.equal(run(t.prog, 143, [t.n]), ALLOW, 'on the last');
  assert.equal(run(t.prog, 143, [t.n + 1]), EPERM, 'past it');
  const wideOwn = { ...plan, ownFds: Array.from({ length: 300 }, (_, i) => 100 + i) };
  assert.throws(() => buildFilter(wideOwn), /^Error: seccomp: a conditional jump is out of range$/);
});
