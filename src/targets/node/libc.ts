/**
 * The few libc calls the node target needs, bound once through koffi.
 * Pointer arguments take a `Uint8Array` that koffi passes without copying.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type koffiModule from 'koffi';

/**
 * koffi's native module straight from its prebuilt package: koffi's own
 * entry point spends about 8 ms of every engine start on platform
 * detection (a third of what spt adds to a bare start). It is opened with
 * `process.dlopen`, which is all `require` does for a `.node` file, after
 * looking for it in `node_modules` of this file's folder and each one above
 * (as Node's resolution would, with string operations only): `require`'s
 * resolver ran enough of the engine's path code (`normalizeString`) to
 * have it optimized during boot, and touched 3.4 MiB more of the engine's
 * own code (docs/profiling.md, "Boot: what the engine touches"). The full
 * package is the fallback wherever the prebuilt path differs (musl, other
 * arches).
 */
function loadKoffi(): typeof koffiModule {
  const prebuilt = `@koromix/koffi-${process.platform}-${process.arch}/${process.platform}_${process.arch}/koffi.node`;
  // The bootstrap's CommonJS bundle has __filename (its import.meta.url would be made from it through node:url).
  const here = typeof __filename === 'string' ? __filename : fileURLToPath(import.meta.url);
  for (let dir = here.slice(0, here.lastIndexOf('/')); dir !== ''; dir = dir.slice(0, dir.lastIndexOf('/'))) {
    const file = `${dir}/node_modules/${prebuilt}`;
    if (!existsSync(file)) continue;
    const m = { exports: {} as typeof koffiModule };
    process.dlopen(m, file);
    return m.exports;
  }
  const m = createRequire(import.meta.url)('koffi') as typeof koffiModule & { default?: typeof koffiModule };
  return m.default ?? m;
}

/** koffi, loaded once for every binding in the node and spt targets. */
export const koffi = loadKoffi();
const lib = koffi.load('libc.so.6');

export const libc = {
  open: lib.func('int open(const char *path, int flags)'),
  close: lib.func('int close(int fd)'),
  read: lib.func('long read(int fd, _Out_ uint8_t *buf, unsigned long count)'),
  write: lib.func('long write(int fd, const uint8_t *buf, unsigned long count)'),
  ioctl: lib.func('int ioctl(int fd, unsigned long request, _Inout_ uint8_t *arg)'),
  /** ioctl whose argument is a value, not a pointer (TUNSETOFFLOAD). */
  ioctlValue: lib.func('ioctl', 'int', ['int', 'unsigned long', 'unsigned long']),
  socket: lib.func('int socket(int domain, int type, int protocol)'),
  poll: lib.func('int poll(_Inout_ uint8_t *fds, unsigned long nfds, int timeout)'),
  eventfd: lib.func('int eventfd(unsigned int initval, int flags)'),
  strerror: lib.func('const char *strerror(int errnum)'),
  /** fcntl with an integer argument (F_GETFD, F_SETFD, F_GETFL, F_SETFL). */
  fcntl: lib.func('int fcntl(int fd, int cmd, int arg)'),
  /** socketpair(2): the two descriptors land in `sv` (two little-endian ints). */
  socketpair: lib.func('int socketpair(int domain, int type, int protocol, _Out_ uint8_t *sv)'),
  setsockopt: lib.func('int setsockopt(int fd, int level, int name, const uint8_t *value, unsigned int len)'),
  /** sendto(2) with a `struct sockaddr` (the user-mode gateway's ICMP ping socket). */
  sendto: lib.func('long sendto(int fd, const uint8_t *buf, unsigned long len, int flags, const uint8_t *addr, unsigned int addrlen)'),
  /** recvfrom(2): the sender's `struct sockaddr` into `addr`, its length into `addrlen` (one int, in and out). */
  recvfrom: lib.func(
    'long recvfrom(int fd, _Out_ uint8_t *buf, unsigned long len, int flags, _Out_ uint8_t *addr, _Inout_ uint8_t *addrlen)',
  ),
  /** setns(2): the calling thread joins the namespace `fd` names (`nstype` 0: whatever kind it is). */
  setns: lib.func('int setns(int fd, int nstype)'),
};

export function errno(): number {
  return koffi.errno();
}

export function describeErrno(e = koffi.errno()): string {
  return `${libc.strerror(e) as string} (errno ${e})`;
}

export const O_RDWR = 0o2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const EAGAIN = 11;
export const EINTR = 4;
export const POLLIN = 0x1;
/** socket(2) type flags. */
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;
