/**
 * The spt seal's seccomp program, as data: which x86_64 system calls the
 * sealed engine may make and, for every call that names a process, a
 * descriptor, an offset or a length, which arguments. Pure (no koffi, no
 * node:*), so the tests run the program through an interpreter and the docs
 * table is checked against it. Installed by ./seccomp.ts; see docs/spt.md.
 *
 * Argument checks compare the low 32 bits where the kernel truncates the
 * argument to an int (descriptors, pids, fcntl and ioctl commands), and the
 * whole 64 bits where it does not (pread64/pwrite64 offset and length).
 */

/** What the engine holds when it seals, recorded by the bootstrap before any service code exists. */
export interface SealPlan {
  /** The engine's own pid, as it sees itself (1 in its own PID namespace). */
  readonly pid: number;
  /** Its threads' ids as it sees them (no thread starts after the seal). */
  readonly tids: readonly number[];
  /** The engine's own plumbing: its epoll, eventfd and pipe descriptors (all created after exec). */
  readonly ownFds: readonly number[];
  /** Console descriptors: write only (1 and 2). */
  readonly consoleFds: readonly number[];
  /** Tap descriptors: read and write whole frames. */
  readonly netFds: readonly number[];
  /** Block descriptors with their capacity in bytes: positional I/O inside [0, capacity) only. */
  readonly blocks: readonly { readonly fd: number; readonly capacity: bigint }[];
}

/** x86_64 system calls the sealed engine may make whatever their arguments. */
export const UNCHECKED: Readonly<Record<string, number>> = {
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
};

/** Unchecked calls a busy engine makes most (strace -c of the sealed website under wrk: after read and write, which lead the program), tested first. */
const HOT_UNCHECKED = ['futex', 'mprotect', 'madvise', 'getpid', 'munmap', 'brk', 'poll', 'ppoll'] as const;

/** x86_64 system calls allowed only with the arguments checked below, and what is checked. */
export const CHECKED: Readonly<Record<string, { readonly nr: number; readonly rule: string }>> = {
  close: { nr: 3, rule: 'descriptors it holds' },
  fstat: { nr: 5, rule: 'descriptors it holds' },
  fsync: { nr: 74, rule: 'descriptors it holds' },
  read: { nr: 0, rule: 'taps and own descriptors' },
  readv: { nr: 19, rule: 'taps and own descriptors' },
  write: { nr: 1, rule: 'console (1, 2), taps and own descriptors' },
  writev: { nr: 20, rule: 'console (1, 2), taps and own descriptors' },
  pread64: { nr: 17, rule: 'block descriptors, offset + length inside the capacity' },
  pwrite64: { nr: 18, rule: 'block descriptors, offset + length inside the capacity' },
  mmap: { nr: 9, rule: 'MAP_ANONYMOUS only (no file is mapped)' },
  tgkill: { nr: 234, rule: 'its own process only' },
  sched_getparam: { nr: 143, rule: 'pid 0, its own or one of its threads' },
  sched_getscheduler: { nr: 145, rule: 'pid 0, its own or one of its threads' },
  sched_getaffinity: { nr: 204, rule: 'pid 0, its own or one of its threads' },
  epoll_wait: { nr: 232, rule: 'own descriptors' },
  epoll_ctl: { nr: 233, rule: 'own descriptors' },
  epoll_pwait: { nr: 281, rule: 'own descriptors' },
  epoll_pwait2: { nr: 441, rule: 'own descriptors' },
  fcntl: { nr: 72, rule: 'F_GETFD, F_SETFD, F_GETFL on descriptors it holds; F_SETFL on taps and own descriptors' },
  ioctl: { nr: 16, rule: 'TCGETS only' },
  membarrier: { nr: 324, rule: 'its own process (the private commands), never the global ones' },
};

export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const RET_KILL_PROCESS = 0x80000000;
export const RET_ERRNO_EPERM = 0x00050000 | 1;
export const RET_ALLOW = 0x7fff0000;

/** Classic BPF opcodes this program uses. */
export const OP = {
  LD_W_ABS: 0x20,
  LD_MEM: 0x60,
  LDX_MEM: 0x61,
  ST: 0x02,
  TAX: 0x07,
  ADD_X: 0x0c,
  ADD_K: 0x04,
  JA: 0x05,
  JEQ_K: 0x15,
  JGT_K: 0x25,
  JGE_X: 0x3d,
  JSET_K: 0x45,
  RET_K: 0x06,
} as const;

export interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** Offsets in struct seccomp_data: nr, arch, then six 64-bit arguments (little-endian). */
const NR = 0,
  ARCH = 4;
const argLo = (i: number): number => 16 + 8 * i;
const argHi = (i: number): number => 20 + 8 * i;

const F_GETFD = 1,
  F_SETFD = 2,
  F_GETFL = 3,
  F_SETFL = 4,
  TCGETS = 0x5401,
  MAP_ANONYMOUS = 0x20;
/** membarrier commands that act on this process only: QUERY, and the PRIVATE_EXPEDITED family (plain, SYNC_CORE, RSEQ) with their REGISTERs. */
const MEMBARRIER_PRIVATE = [0, 8, 16, 32, 64, 128, 256];

/** A tiny assembler: jumps name labels, resolved (and range-checked) at the end. */
class Asm {
  private readonly code: { code: number; jt: number | string; jf: number | string; k: number | string }[] = [];
  private readonly labels = new Map<string, number>();
  private n = 0;
  fresh(p: string): string {
    return `${p}${this.n++}`;
  }
  label(l: string): void {
    this.labels.set(l, this.code.length);
  }
  stmt(code: number, k: number | string = 0): void {
    this.code.push({ code, jt: 0, jf: 0, k });
  }
  jump(code: number, k: number, jt: number | string, jf: number | string): void {
    this.code.push({ code, jt, jf, k });
  }
  ld(off: number): void {
    this.stmt(OP.LD_W_ABS, off);
  }
  ret(v: number): void {
    this.stmt(OP.RET_K, v);
  }
  finish(): Insn[] {
    return this.code.map((c, pc) => {
      const rel = (t: number | string): number => {
        if (typeof t === 'number') return t;
        const at = this.labels.get(t);
        if (at === undefined) throw new Error(`seccomp: no label ${t}`);
        return at - pc - 1;
      };
      if (c.code === OP.JA) return { code: c.code, jt: 0, jf: 0, k: rel(c.k) };
      const jt = rel(c.jt),
        jf = rel(c.jf);
      if (jt < 0 || jt > 255 || jf < 0 || jf > 255) throw new Error('seccomp: a conditional jump is out of range');
      return { code: c.code, jt, jf, k: c.k as number };
    });
  }
}

const unique = (xs: readonly number[]): number[] => [...new Set(xs)].sort((a, b) => a - b);

/**
 * pread64/pwrite64(fd, buf, count, offset) on one block device: allowed when the fd is the device's and
 * offset + count <= capacity, in 64-bit arithmetic built from 32-bit halves (count < 2^31, so the low sum
 * carries at most 1); denied when the fd is the device's and the range is not; any other fd falls through.
 */
function blockRange(a: Asm, b: SealPlan['blocks'][number]): void {
  const capHi = Number(b.capacity >> 32n),
    capLo = Number(b.capacity & 0xffffffffn);
  const other = a.fresh('other'),
    ok = a.fresh('ok'),
    no = a.fresh('no');
  const carry = a.fresh('carry'),
    sum = a.fresh('sum'),
    cmpLo = a.fresh('lo');
  a.ld(argLo(0));
  a.jump(OP.JEQ_K, b.fd, 0, other);
  a.ld(argHi(2));
  a.jump(OP.JEQ_K, 0, 0, no); // count < 2^32
  a.ld(argLo(2));
  a.jump(OP.JGT_K, 0x7fffffff, no, 0); // count < 2^31
  a.stmt(OP.TAX); // X = count
  a.ld(argHi(3));
  a.jump(OP.JGT_K, capHi, no, 0); // the offset's high half within the capacity's (no wrap below)
  a.ld(argLo(3));
  a.stmt(OP.ADD_X);
  a.stmt(OP.ST, 0); // M[0] = lo(offset) + count (mod 2^32)
  a.jump(OP.JGE_X, 0, 0, carry); // no carry iff the low sum >= count
  a.ld(argHi(3));
  a.stmt(OP.JA, sum);
  a.label(carry);
  a.ld(argHi(3));
  a.stmt(OP.ADD_K, 1);
  a.label(sum); // A = high half of offset + count
  a.jump(OP.JGT_K, capHi, no, 0);
  a.jump(OP.JEQ_K, capHi, cmpLo, ok);
  a.label(cmpLo);
  a.stmt(OP.LD_MEM, 0);
  a.jump(OP.JGT_K, capLo, no, ok);
  a.label(no);
  a.ret(RET_ERRNO_EPERM);
  a.label(ok);
  a.ret(RET_ALLOW);
  a.label(other);
}

/**
 * The program. Layout: architecture (a foreign one kills), the unchecked
 * calls, then one block per checked call that loads the argument it checks
 * and allows or denies. Everything else: EPERM (docs/spt.md says why).
 */
export function buildFilter(plan: SealPlan): Insn[] {
  const a = new Asm();
  a.ld(ARCH);
  a.jump(OP.JEQ_K, AUDIT_ARCH_X86_64, 1, 0);
  a.ret(RET_KILL_PROCESS);
  a.ld(NR);
  const own = unique(plan.ownFds),
    nets = unique(plan.netFds);
  const readable = unique([...nets, ...own]);
  const writable = unique([...plan.consoleFds, ...nets, ...own]);
  const held = unique([0, ...plan.consoleFds, ...nets, ...own, ...plan.blocks.map((b) => b.fd)]);
  /**
   * One block per checked call: `if (nr ∈ nrs) { …check(allow, deny)… }`, with its own two
   * return instructions so that every jump stays short; A holds nr again after the block.
   */
  const block = (nrs: readonly number[], check: (allow: string, deny: string) => void): void => {
    const body = a.fresh('body'),
      next = a.fresh('next'),
      allow = a.fresh('allow'),
      deny = a.fresh('deny');
    for (const nr of nrs) a.jump(OP.JEQ_K, nr, body, 0);
    a.stmt(OP.JA, next); // (JA reaches any distance; a conditional jump only 255 ahead.)
    a.label(body);
    check(allow, deny);
    a.label(deny);
    a.ret(RET_ERRNO_EPERM);
    a.label(allow);
    a.ret(RET_ALLOW);
    a.label(next);
  };
  const lowArgIn =
    (arg: number, values: readonly number[]) =>
    (allow: string, deny: string): void => {
      a.ld(argLo(arg));
      values.forEach((v, i) => {
        a.jump(OP.JEQ_K, v >>> 0, allow, i === values.length - 1 ? deny : 0);
      });
      if (values.length === 0) a.stmt(OP.JA, deny);
    };
  // Every system call runs the program from the top: the ones an engine under load makes most come
  // first (frames in and out, the event loop, its threads), then the rest of the unchecked list.
  block([0, 19], lowArgIn(0, readable));
  block([1, 20], lowArgIn(0, writable));
  block([232, 233, 281, 441], lowArgIn(0, own));
  const hot = HOT_UNCHECKED.map((n) => UNCHECKED[n]!);
  for (const nr of [...hot, ...Object.values(UNCHECKED).filter((nr) => !hot.includes(nr))]) {
    a.jump(OP.JEQ_K, nr, 0, 1);
    a.ret(RET_ALLOW);
  }
  block([3, 5, 74], lowArgIn(0, held));
  block([234], lowArgIn(0, [plan.pid]));
  block([143, 145, 204], lowArgIn(0, unique([0, plan.pid, ...plan.tids])));
  block([324], lowArgIn(0, MEMBARRIER_PRIVATE));
  // mmap: anonymous memory only; a file mapping would write a block file behind pwrite64's checks.
  block([9], (allow, deny) => {
    a.ld(argLo(3));
    a.jump(OP.JSET_K, MAP_ANONYMOUS, allow, deny);
  });
  // fcntl: reading flags anywhere; FD_CLOEXEC (descriptor-local); O_NONBLOCK and the rest only on
  // descriptions no other process shares (a caller's terminal must not turn non-blocking under it).
  block([72], (allow, deny) => {
    const setfl = a.fresh('setfl'),
      get = a.fresh('get');
    a.ld(argLo(1));
    a.jump(OP.JEQ_K, F_GETFD, get, 0);
    a.jump(OP.JEQ_K, F_SETFD, get, 0);
    a.jump(OP.JEQ_K, F_GETFL, get, 0);
    a.jump(OP.JEQ_K, F_SETFL, setfl, deny);
    a.label(setfl);
    lowArgIn(0, readable)(allow, deny);
    a.label(get);
    lowArgIn(0, held)(allow, deny);
  });
  // ioctl: "is this a terminal?" and nothing else (TIOCSTI, FIONBIO, TUNSETIFF … stay out).
  block([16], (allow, deny) => {
    a.ld(argLo(1));
    a.jump(OP.JEQ_K, TCGETS, allow, deny);
  });
  // pread64/pwrite64: only on a block device, and only within its capacity (blockRange).
  block([17, 18], (_allow, deny) => {
    for (const b of plan.blocks) blockRange(a, b);
    a.stmt(OP.JA, deny);
  });
  a.ret(RET_ERRNO_EPERM);
  return a.finish();
}
