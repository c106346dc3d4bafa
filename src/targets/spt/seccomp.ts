/**
 * The spt seal, applied by the bootstrap to its own process before any
 * service code exists: resource limits, the drop to an unprivileged user,
 * then `prctl(PR_SET_NO_NEW_PRIVS)` and the seccomp program of ./filter.ts
 * on every thread (SECCOMP_FILTER_FLAG_TSYNC). Every function returns 'ok'
 * or a sentence saying what failed; see docs/spt.md for the whole order.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { koffi } from '../node/libc.ts';
import { buildFilter, type Insn, type SealPlan } from './filter.ts';

const lib = koffi.load('libc.so.6');
const prctl = lib.func('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)');
const SockFilter = koffi.struct('fata_sock_filter', { code: 'uint16_t', jt: 'uint8_t', jf: 'uint8_t', k: 'uint32_t' });
koffi.struct('fata_sock_fprog', { len: 'uint16_t', filter: koffi.pointer(SockFilter) });
const seccompCall = lib.func('long syscall(long nr, unsigned int op, unsigned int flags, _In_ fata_sock_fprog *prog)');
const setrlimit = lib.func('int setrlimit(int resource, _In_ uint8_t *rlim)');
const setgroups = lib.func('int setgroups(unsigned long size, void *list)');
// glibc applies these to every thread of the process (its setxid broadcast), as the kernel alone would not.
const setresgid = lib.func('int setresgid(unsigned int r, unsigned int e, unsigned int s)');
const setresuid = lib.func('int setresuid(unsigned int r, unsigned int e, unsigned int s)');
const unshareCall = lib.func('int unshare(int flags)');

const PR_SET_PDEATHSIG = 1,
  PR_SET_DUMPABLE = 4,
  PR_SET_NO_NEW_PRIVS = 38;
const SIGKILL = 9;
const SYS_SECCOMP = 317;
const SECCOMP_SET_MODE_FILTER = 1;
const SECCOMP_FILTER_FLAG_TSYNC = 1;
export const RLIMIT_FSIZE = 1,
  RLIMIT_DATA = 2,
  RLIMIT_CORE = 4,
  RLIMIT_NOFILE = 7;

const fail = (what: string): string => `${what} failed (errno ${koffi.errno()})`;

/** setrlimit(resource, {limit, limit}). */
export function limit(resource: number, value: bigint): 'ok' | string {
  const r = new Uint8Array(16);
  const v = new DataView(r.buffer);
  v.setBigUint64(0, value, true);
  v.setBigUint64(8, value, true);
  return (setrlimit(resource, r) as number) === 0 ? 'ok' : fail(`setrlimit(${resource}, ${value})`);
}

/** No core dumps, and no /proc/PID/mem or ptrace by the same user: the service's memory stays its own. */
export function noCoreDumps(): 'ok' | string {
  const c = limit(RLIMIT_CORE, 0n);
  if (c !== 'ok') return c;
  return (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) as number) === 0 ? 'ok' : fail('prctl(PR_SET_DUMPABLE, 0)');
}

/** The engine dies with whoever started it (re-armed after the drop: a change of uid clears it). */
export function dieWithParent(): 'ok' | string {
  return onParentDeath(SIGKILL);
}

/** prctl(PR_SET_PDEATHSIG): `signal` when the parent goes (the tender asks for SIGTERM, to stop its engine first). */
export function onParentDeath(signal: number): 'ok' | string {
  return (prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0) as number) === 0 ? 'ok' : fail('prctl(PR_SET_PDEATHSIG)');
}

export interface Account {
  readonly uid: number;
  readonly gid: number;
  readonly name: string;
}

/**
 * `NAME`, `UID` or `UID:GID`; empty means the default: the dedicated `fata`
 * account when the host has one, else `nobody`. Read from /etc/passwd.
 */
export function resolveAccount(spec: string, passwd = safeRead('/etc/passwd')): Account | { error: string } {
  const users = new Map<string, { uid: number; gid: number }>();
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f.length >= 4 && /^\d+$/.test(f[2]!) && /^\d+$/.test(f[3]!)) users.set(f[0]!, { uid: Number(f[2]), gid: Number(f[3]) });
  }
  const numeric = /^(\d+)(?::(\d+))?$/.exec(spec);
  if (numeric) {
    const uid = Number(numeric[1]),
      gid = numeric[2] !== undefined ? Number(numeric[2]) : uid;
    if (uid === 0 || gid === 0 || uid > 0xfffffffe || gid > 0xfffffffe)
      return { error: `--user=${spec}: the engine never runs as uid or gid 0; name an unprivileged account` };
    return { uid, gid, name: spec };
  }
  const name = spec || (users.has('fata') ? 'fata' : 'nobody');
  const u = users.get(name);
  if (!u)
    return spec
      ? { error: `--user=${spec}: no such account in /etc/passwd; create it (useradd --system --no-create-home fata) or give UID:GID` }
      : { uid: 65534, gid: 65534, name: '65534' };
  if (u.uid === 0 || u.gid === 0) return { error: `--user=${name}: that account is root's; the engine must drop to an unprivileged one` };
  return { ...u, name };
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/**
 * As root: no supplementary groups, then gid and uid (real, effective and
 * saved) to the account's, which empties every capability set of every
 * thread. As another user: nothing to drop, but no capability may remain.
 * Checked afterwards on every thread from /proc/self/task.
 */
export function dropPrivileges(account: Account): 'ok' | string {
  if (process.geteuid!() === 0) {
    if ((setgroups(0, null) as number) !== 0) return fail('setgroups(0)');
    if ((setresgid(account.gid, account.gid, account.gid) as number) !== 0) return fail(`setresgid(${account.gid})`);
    if ((setresuid(account.uid, account.uid, account.uid) as number) !== 0) return fail(`setresuid(${account.uid})`);
  }
  for (const tid of readdirSync('/proc/self/task')) {
    const status = safeRead(`/proc/self/task/${tid}/status`);
    const uids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status);
    const caps = /^CapEff:\s+([0-9a-f]+)/m.exec(status);
    if (!uids || !caps) continue; // The thread ended meanwhile.
    if (uids.slice(1).some((u) => u === '0')) return `thread ${tid} still runs as root after the drop`;
    if (/[1-9a-f]/.test(caps[1]!))
      return `thread ${tid} still holds capabilities (${caps[1]}); run fata as root (it drops to --user) or as a user with none`;
  }
  return 'ok';
}

const CLONE_NEWNS = 0x00020000,
  CLONE_NEWUTS = 0x04000000,
  CLONE_NEWIPC = 0x08000000,
  CLONE_NEWPID = 0x20000000,
  CLONE_NEWNET = 0x40000000;
/** The namespaces the engine gets, as the native tender gives them: no other process visible, no host network. */
export const ENGINE_NAMESPACES = CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET;
export { CLONE_NEWNS };

/** unshare(2) on the calling thread: the JavaScript tender's walls for the engine it is about to spawn. */
export function unshare(flags: number): 'ok' | string {
  return (unshareCall(flags) as number) === 0 ? 'ok' : fail(`unshare(0x${flags.toString(16)})`);
}

function install(filter: Insn[], flags: number): 'ok' | string {
  if (process.arch !== 'x64') return `the spt seal has an allow-list for x86_64 only, not ${process.arch}`;
  if ((prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) as number) !== 0) return fail('prctl(PR_SET_NO_NEW_PRIVS)');
  const r = seccompCall(SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, flags, { len: filter.length, filter }) as number;
  if (r !== 0) return `seccomp(SET_MODE_FILTER) returned ${r} (errno ${koffi.errno()}); is seccomp enabled in this kernel?`;
  return 'ok';
}

/** Seals this process and all its threads with the program for `plan`. */
export function seal(plan: SealPlan): 'ok' | string {
  return install(buildFilter(plan), SECCOMP_FILTER_FLAG_TSYNC);
}

/**
 * For the JavaScript tender, on the thread about to spawn the engine:
 * io_uring_setup fails with ENOSYS (inherited across fork and exec under
 * no_new_privs). libuv then keeps to epoll and never holds a ring, and a
 * ring would let a sealed process open files behind seccomp's back. Only
 * this thread of the tender is affected, and only new rings.
 */
export function denyIoUringForChildren(): 'ok' | string {
  const LD = 0x20,
    JEQ = 0x15,
    RET = 0x06;
  return install(
    [
      { code: LD, jt: 0, jf: 0, k: 4 },
      { code: JEQ, jt: 1, jf: 0, k: 0xc000003e },
      { code: RET, jt: 0, jf: 0, k: 0x80000000 },
      { code: LD, jt: 0, jf: 0, k: 0 },
      { code: JEQ, jt: 0, jf: 1, k: 425 /* io_uring_setup */ },
      { code: RET, jt: 0, jf: 0, k: 0x00050000 | 38 /* ENOSYS */ },
      { code: RET, jt: 0, jf: 0, k: 0x7fff0000 },
    ],
    0,
  );
}
