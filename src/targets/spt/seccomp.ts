/**
 * The spt seal: `prctl(PR_SET_NO_NEW_PRIVS)` then a seccomp BPF filter on
 * every thread (SECCOMP_FILTER_FLAG_TSYNC). Default deny: a system call not
 * on the list fails with EPERM (so the engine reports it, rather than dying
 * mid-write); the architecture is checked first and a foreign one kills.
 * See docs/spt.md for the list beside solo5-spt's and why each entry is there.
 */
import { koffi } from '../node/libc.ts';

const lib = koffi.load('libc.so.6');
const prctl = lib.func('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)');
const SockFilter = koffi.struct('fata_sock_filter', { code: 'uint16_t', jt: 'uint8_t', jf: 'uint8_t', k: 'uint32_t' });
const SockFprog = koffi.struct('fata_sock_fprog', { len: 'uint16_t', filter: koffi.pointer(SockFilter) });
const seccompCall = lib.func('long syscall(long nr, unsigned int op, unsigned int flags, _In_ fata_sock_fprog *prog)');

const PR_SET_NO_NEW_PRIVS = 38;
const SYS_SECCOMP = 317;
const SECCOMP_SET_MODE_FILTER = 1;
const SECCOMP_FILTER_FLAG_TSYNC = 1;
const AUDIT_ARCH_X86_64 = 0xc000003e;
const RET_KILL_PROCESS = 0x80000000;
const RET_ERRNO_EPERM = 0x00050000 | 1;
const RET_ALLOW = 0x7fff0000;
const LD_ABS_W = 0x20, JEQ_K = 0x15, RET_K = 0x06;
/** Offsets in struct seccomp_data. */
const NR = 0, ARCH = 4, ARG0_LO = 16;

/**
 * x86_64 system calls the sealed engine may make, whatever their arguments:
 * memory, threads already running, signals, time, waiting on the event
 * loop, and I/O on descriptors it already holds (it cannot make new ones:
 * open, socket, pipe, dup, eventfd, epoll_create, io_uring_* are absent).
 */
export const ALLOWED: Record<string, number> = {
  read: 0, write: 1, close: 3, fstat: 5, poll: 7, mmap: 9, mprotect: 10, munmap: 11, brk: 12,
  rt_sigaction: 13, rt_sigprocmask: 14, rt_sigreturn: 15, readv: 19, writev: 20, sched_yield: 24,
  mremap: 25, madvise: 28, nanosleep: 35, getpid: 39, exit: 60, fsync: 74,
  sigaltstack: 131, sched_getparam: 143, sched_getscheduler: 145, gettid: 186, futex: 202, sched_getaffinity: 204, clock_gettime: 228,
  clock_getres: 229, clock_nanosleep: 230, exit_group: 231, epoll_wait: 232, epoll_ctl: 233, tgkill: 234,
  ppoll: 271, epoll_pwait: 281, getrandom: 318, membarrier: 324, rseq: 334, epoll_pwait2: 441,
};

/** Calls allowed only when one argument takes one of a few values. */
export interface ArgRule { readonly nr: number; readonly arg: number; readonly values: readonly number[]; readonly why: string }

const F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, TCGETS = 0x5401;

export function argRules(blockFds: readonly number[]): ArgRule[] {
  return [
    { nr: 17, arg: 0, values: blockFds, why: 'pread64 on block devices only (as solo5-spt)' },
    { nr: 18, arg: 0, values: blockFds, why: 'pwrite64 on block devices only (as solo5-spt)' },
    { nr: 72, arg: 1, values: [F_GETFD, F_SETFD, F_GETFL, F_SETFL], why: 'fcntl flags only; F_DUPFD would make descriptors' },
    { nr: 16, arg: 1, values: [TCGETS], why: 'ioctl TCGETS only (is stdout a terminal?); TIOCSTI and the rest stay out' },
  ];
}

interface Insn { code: number; jt: number; jf: number; k: number }
const stmt = (code: number, k: number): Insn => ({ code, jt: 0, jf: 0, k });
const jump = (k: number, jt: number, jf: number): Insn => ({ code: JEQ_K, jt, jf, k });

export function buildFilter(opts: { blockFds: readonly number[] }): Insn[] {
  const p: Insn[] = [
    stmt(LD_ABS_W, ARCH),
    jump(AUDIT_ARCH_X86_64, 1, 0),
    stmt(RET_K, RET_KILL_PROCESS),
    stmt(LD_ABS_W, NR),
  ];
  for (const nr of Object.values(ALLOWED)) p.push(jump(nr, 0, 1), stmt(RET_K, RET_ALLOW));
  for (const r of argRules(opts.blockFds)) {
    // if (nr == N) { A = arg; if (A == v1) allow; …; deny } else skip the block (A still holds nr).
    p.push(jump(r.nr, 0, r.values.length * 2 + 2), stmt(LD_ABS_W, ARG0_LO + 8 * r.arg));
    for (const v of r.values) p.push(jump(v, 0, 1), stmt(RET_K, RET_ALLOW));
    p.push(stmt(RET_K, RET_ERRNO_EPERM), stmt(LD_ABS_W, NR));
  }
  p.push(stmt(RET_K, RET_ERRNO_EPERM));
  return p;
}

const SYS_IO_URING_SETUP = 425;
const RET_ERRNO_ENOSYS = 0x00050000 | 38;

/**
 * For the tender, on the thread about to spawn the engine: make
 * io_uring_setup fail with ENOSYS (inherited across fork and exec under
 * no_new_privs). libuv then keeps to epoll and never holds a ring, and a
 * ring would let a sealed process open files behind seccomp's back. Only
 * this thread of the tender is affected, and only new rings.
 */
export function denyIoUringForChildren(): 'ok' | string {
  if (process.arch !== 'x64') return `the spt seal has an allow-list for x86_64 only, not ${process.arch}`;
  if ((prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) as number) !== 0) return `prctl(PR_SET_NO_NEW_PRIVS) failed (errno ${koffi.errno()})`;
  const filter = [
    stmt(LD_ABS_W, ARCH),
    jump(AUDIT_ARCH_X86_64, 1, 0),
    stmt(RET_K, RET_KILL_PROCESS),
    stmt(LD_ABS_W, NR),
    jump(SYS_IO_URING_SETUP, 0, 1),
    stmt(RET_K, RET_ERRNO_ENOSYS),
    stmt(RET_K, RET_ALLOW),
  ];
  const r = seccompCall(SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, 0, { len: filter.length, filter }) as number;
  return r === 0 ? 'ok' : `seccomp filter for the engine failed (errno ${koffi.errno()})`;
}

const PR_SET_PDEATHSIG = 1;
const SIGKILL = 9;

/** The engine dies with its tender, so that a killed `fata run` never leaves a sealed orphan holding a tap. */
export function dieWithParent(): 'ok' | string {
  return (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) as number) === 0 ? 'ok' : `prctl(PR_SET_PDEATHSIG) failed (errno ${koffi.errno()})`;
}

/** Seals this process and all its threads; returns 'ok' or why it could not. */
export function seal(opts: { blockFds: readonly number[] }): 'ok' | string {
  if (process.arch !== 'x64') return `the spt seal has an allow-list for x86_64 only, not ${process.arch}`;
  if ((prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) as number) !== 0) return `prctl(PR_SET_NO_NEW_PRIVS) failed (errno ${koffi.errno()})`;
  const filter = buildFilter(opts);
  const r = seccompCall(SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, { len: filter.length, filter }) as number;
  if (r !== 0) return `seccomp(SET_MODE_FILTER, TSYNC) returned ${r} (errno ${koffi.errno()}); is seccomp enabled in this kernel?`;
  return 'ok';
}

export { SockFprog };
