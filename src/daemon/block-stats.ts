/**
 * A unikernel's block I/O, counted by the host's kernel: perf tracepoint
 * counters on `syscalls:sys_enter_pread64` and `sys_enter_pwrite64`, attached
 * to the tender before it forks the engine (inherited by every process it
 * starts), each filtered on one block device's descriptor in the engine.
 *
 * Why here and not elsewhere: a sealed engine may be hostile, so what it
 * says about itself is not a statistic. The tender is not on the block
 * path (the engine calls pread64/pwrite64 on the file itself, as Solo5's
 * spt does), and `/proc/PID/io` mixes the block calls with the tap's and
 * the console's (`syscr`, `rchar`) or counts only what missed the page
 * cache (`read_bytes`). The seal lets the engine reach a block file only
 * through pread64/pwrite64 on that device's descriptor (no dup, no readv,
 * no file mmap: src/targets/spt/filter.ts), so counting those calls by
 * descriptor counts all of it, and the engine cannot change the count.
 *
 * Bytes: a counting event cannot add up a field, so there is one counter
 * per bit of the `count` argument (`fd == N && count & 2^b`): the bytes are
 * the sum of 2^b times each. The seal holds every call within the device's
 * capacity, so the bits up to its bit length cover every call. They are
 * the bytes asked for; a call within the capacity of a regular file gets
 * all of them.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, readFileSync, readSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { koffi } from '../targets/node/libc.ts';

export interface BlockCounters {
  /** pread64 calls on the device. */
  readonly reads: number;
  /** pwrite64 calls on the device. */
  readonly writes: number;
  readonly readBytes: number;
  readonly writtenBytes: number;
}

const lib = koffi.load('libc.so.6');
const perfEventOpen = lib.func('long syscall(long nr, const uint8_t *attr, int pid, int cpu, int group, unsigned long flags)');
const ioctlString = lib.func('ioctl', 'int', ['int', 'unsigned long', 'const char *']);
const SYS_PERF_EVENT_OPEN = 298; // x86_64, the only architecture the spt seal is written for.
const PERF_TYPE_TRACEPOINT = 2;
const PERF_ATTR_SIZE_VER1 = 72;
const ATTR_INHERIT = 1n << 1n;
const PERF_FLAG_FD_CLOEXEC = 8;
const PERF_EVENT_IOC_SET_FILTER = 0x40082406;

type Ids = { readonly pread64: number; readonly pwrite64: number };
let ids: Ids | string | undefined;

/** The two tracepoints' ids, from a mounted tracefs, else from one mounted on a temporary folder for a moment. */
function tracepointIds(): Ids | string {
  if (ids !== undefined) return ids;
  const read = (dir: string): Ids => ({
    pread64: Number(readFileSync(join(dir, 'events/syscalls/sys_enter_pread64/id'), 'utf8')),
    pwrite64: Number(readFileSync(join(dir, 'events/syscalls/sys_enter_pwrite64/id'), 'utf8')),
  });
  const mounted = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[2] === 'tracefs')
    .map((f) => f[1]!);
  for (const m of mounted) {
    try {
      ids = read(m);
      return ids;
    } catch {
      /* another tracefs, or no syscall events in it */
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'fata-tracefs-'));
  try {
    execFileSync('mount', ['-t', 'tracefs', 'nodev', dir], { stdio: 'ignore' });
    try {
      ids = read(dir);
    } finally {
      execFileSync('umount', [dir], { stdio: 'ignore' });
    }
  } catch (e) {
    ids = `the kernel's syscall tracepoints are not available (${(e as Error).message.split('\n')[0]}): block statistics need CONFIG_FTRACE_SYSCALLS and root`;
  } finally {
    rmdirSync(dir);
  }
  return ids;
}

function openCounter(pid: number, id: number, filter: string): number {
  const attr = new Uint8Array(PERF_ATTR_SIZE_VER1);
  const v = new DataView(attr.buffer);
  v.setUint32(0, PERF_TYPE_TRACEPOINT, true);
  v.setUint32(4, PERF_ATTR_SIZE_VER1, true);
  v.setBigUint64(8, BigInt(id), true);
  v.setBigUint64(40, ATTR_INHERIT, true);
  const fd = Number(perfEventOpen(SYS_PERF_EVENT_OPEN, attr, pid, -1, -1, PERF_FLAG_FD_CLOEXEC));
  if (fd < 0) throw new Error(`perf_event_open: errno ${koffi.errno()}`);
  if (ioctlString(fd, PERF_EVENT_IOC_SET_FILTER, filter) !== 0) {
    const e = koffi.errno();
    closeSync(fd);
    throw new Error(`perf filter '${filter}': errno ${e}`);
  }
  return fd;
}

function readCounter(fd: number): bigint {
  const b = Buffer.alloc(8);
  return readSync(fd, b, 0, 8, null) === 8 ? b.readBigUint64LE() : 0n;
}

/** One direction of one device: the calls, and one counter per bit of their length. */
class Direction {
  readonly #calls: number;
  readonly #bits: number[];
  constructor(pid: number, id: number, fd: number, capacity: bigint) {
    this.#bits = [];
    // Not the tender's own calls: before it forks the engine, its descriptor `fd` may be another file (ld.so reads each library's headers with pread64).
    const mine = `common_pid != ${pid} && fd == ${fd}`;
    this.#calls = openCounter(pid, id, mine);
    try {
      for (let b = 0; b < capacity.toString(2).length; b++) this.#bits.push(openCounter(pid, id, `${mine} && count & ${1n << BigInt(b)}`));
    } catch (e) {
      this.close();
      throw e;
    }
  }
  calls(): number {
    return Number(readCounter(this.#calls));
  }
  bytes(): number {
    return Number(this.#bits.reduce((sum, fd, b) => sum + (readCounter(fd) << BigInt(b)), 0n));
  }
  close(): void {
    for (const fd of [this.#calls, ...this.#bits]) closeSync(fd);
  }
}

export interface BlockDevice {
  /** Its descriptor in the engine (both tenders: 3 + the number of net devices + its index). */
  readonly fd: number;
  readonly capacity: bigint;
}

/**
 * The counters of one run of a unikernel: opened on `pid` (the process that
 * will start the engine; opened before it does, they count every call its
 * descendants make), readable after it exits, closed by `close`.
 */
export class BlockStats {
  readonly #dirs: { read: Direction; write: Direction }[] = [];

  private constructor() {}

  /** The counters, or why there are none. */
  static open(pid: number, devices: readonly BlockDevice[]): BlockStats | string {
    const t = tracepointIds();
    if (typeof t === 'string') return t;
    const s = new BlockStats();
    try {
      for (const d of devices) {
        const read = new Direction(pid, t.pread64, d.fd, d.capacity);
        try {
          s.#dirs.push({ read, write: new Direction(pid, t.pwrite64, d.fd, d.capacity) });
        } catch (e) {
          read.close();
          throw e;
        }
      }
    } catch (e) {
      s.close();
      return `cannot count block calls: ${(e as Error).message}`;
    }
    return s;
  }

  read(): BlockCounters[] {
    return this.#dirs.map((d) => ({
      reads: d.read.calls(),
      writes: d.write.calls(),
      readBytes: d.read.bytes(),
      writtenBytes: d.write.bytes(),
    }));
  }

  close(): void {
    for (const d of this.#dirs.splice(0)) {
      d.read.close();
      d.write.close();
    }
  }
}
