/**
 * The parts of the spt seal that can run in a test without sealing the test:
 * which account the engine drops to (resolveAccount, from a passwd text),
 * the resource limits and parent-death signal it sets, with the kernel's
 * own view read back (/proc/self/limits, PR_GET_PDEATHSIG), the sentences a
 * failed call returns, and the namespace flags (linux/sched.h). Sealing and
 * the drop itself are exercised in test/spt.test.ts, in a child process.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { koffi } from '../node/libc.ts';
import {
  CLONE_NEWNS,
  denyIoUringForChildren,
  dieWithParent,
  dropPrivileges,
  ENGINE_NAMESPACES,
  limit,
  noCoreDumps,
  onParentDeath,
  RLIMIT_CORE,
  RLIMIT_DATA,
  RLIMIT_FSIZE,
  RLIMIT_NOFILE,
  resolveAccount,
  unshare,
} from './seccomp.ts';

const passwd = [
  'root:x:0:0:root:/root:/bin/bash',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'sync:x:4:0:sync:/bin:/bin/sync',
  'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
  'fata:x:998:997::/:/usr/sbin/nologin',
  'weird:x:abc:1::/:/bin/false',
  'oddgid:x:7:g::/:/bin/false',
  'short:x:5',
  'four:x:1234:1235',
  'toor:x:0:1000::/root:/bin/sh',
  'uidpre:x:a5:5::/:/bin/false',
  'uidsuf:x:5a:5::/:/bin/false',
  'gidpre:x:5:a5::/:/bin/false',
  'gidsuf:x:5:5a::/:/bin/false',
  '',
].join('\n');

test('an account by name, by UID or UID:GID; root never', () => {
  assert.deepEqual(resolveAccount('daemon', passwd), { uid: 1, gid: 1, name: 'daemon' });
  assert.deepEqual(resolveAccount('fata', passwd), { uid: 998, gid: 997, name: 'fata' });
  assert.deepEqual(resolveAccount('four', passwd), { uid: 1234, gid: 1235, name: 'four' }, 'a line of just four fields');
  assert.deepEqual(resolveAccount('1000', passwd), { uid: 1000, gid: 1000, name: '1000' });
  assert.deepEqual(resolveAccount('1000:2000', passwd), { uid: 1000, gid: 2000, name: '1000:2000' });
  assert.deepEqual(resolveAccount('4294967294:4294967294', passwd), { uid: 4294967294, gid: 4294967294, name: '4294967294:4294967294' });
  const zero = (spec: string): string => `--user=${spec}: the engine never runs as uid or gid 0; name an unprivileged account`;
  for (const spec of ['0', '0:1000', '1000:0', '4294967295', '4294967295:1000', '1:4294967295', '00'])
    assert.deepEqual(resolveAccount(spec, passwd), { error: zero(spec) }, spec);
  assert.deepEqual(resolveAccount('root', passwd), {
    error: "--user=root: that account is root's; the engine must drop to an unprivileged one",
  });
  assert.deepEqual(resolveAccount('toor', passwd), {
    error: "--user=toor: that account is root's; the engine must drop to an unprivileged one",
  });
  assert.deepEqual(resolveAccount('sync', passwd), {
    error: "--user=sync: that account is root's; the engine must drop to an unprivileged one",
  });
  const none = (spec: string): string =>
    `--user=${spec}: no such account in /etc/passwd; create it (useradd --system --no-create-home fata) or give UID:GID`;
  for (const spec of [
    'nosuch',
    'weird',
    'oddgid',
    'short',
    'uidpre',
    'uidsuf',
    'gidpre',
    'gidsuf',
    ' 1000',
    '1000:',
    ':1000',
    '1000:2000:3',
    'x1000',
    '1000x',
  ])
    assert.deepEqual(resolveAccount(spec, passwd), { error: none(spec) }, spec);
});

test('the default account: fata if the host has one, else nobody, else 65534', () => {
  assert.deepEqual(resolveAccount('', passwd), { uid: 998, gid: 997, name: 'fata' });
  const noFata = passwd.replace(/^fata:.*$/m, '');
  assert.deepEqual(resolveAccount('', noFata), { uid: 65534, gid: 65534, name: 'nobody' });
  assert.deepEqual(resolveAccount('', 'nobody:x:65000:65001::/:/bin/false'), { uid: 65000, gid: 65001, name: 'nobody' });
  assert.deepEqual(resolveAccount('', ''), { uid: 65534, gid: 65534, name: '65534' });
  assert.deepEqual(resolveAccount('', 'fata:x:0:0::/:/bin/sh'), {
    error: "--user=fata: that account is root's; the engine must drop to an unprivileged one",
  });
  // Without a passwd text it reads the host's, which has root.
  assert.deepEqual(resolveAccount('root'), { error: "--user=root: that account is root's; the engine must drop to an unprivileged one" });
});

const lib = koffi.load('libc.so.6');
const prctlValue = lib.func('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)');
const prctlGet = lib.func('int prctl(int option, _Out_ int *value, unsigned long a3, unsigned long a4, unsigned long a5)');
const deathSignal = (): number => {
  const out = [0];
  assert.equal(prctlGet(2 /* PR_GET_PDEATHSIG */, out, 0, 0, 0), 0);
  return out[0]!;
};
/** The soft and hard limit /proc/self/limits shows for one resource. */
function shown(label: string): string[] {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(label));
  assert.ok(line, label);
  return line.slice(26).trim().split(/\s+/).slice(0, 2);
}

test('limits: both soft and hard set, as the kernel then reports them; a refused one says which and errno', () => {
  assert.deepEqual([RLIMIT_FSIZE, RLIMIT_DATA, RLIMIT_CORE, RLIMIT_NOFILE], [1, 2, 4, 7]);
  assert.equal(limit(RLIMIT_FSIZE, (1n << 40n) + 4096n), 'ok');
  assert.deepEqual(shown('Max file size'), ['1099511631872', '1099511631872']);
  assert.equal(limit(RLIMIT_DATA, 1n << 44n), 'ok');
  assert.deepEqual(shown('Max data size'), ['17592186044416', '17592186044416']);
  assert.equal(limit(9999, 16n), 'setrlimit(9999, 16) failed (errno 22)');
  assert.equal(noCoreDumps(), 'ok');
  assert.deepEqual(shown('Max core file size'), ['0', '0']);
  assert.equal(prctlValue(3 /* PR_GET_DUMPABLE */, 0, 0, 0, 0), 0, 'not dumpable: no /proc/PID/mem or ptrace by the same user');
});

after(() => onParentDeath(0));

test('the parent-death signal: SIGKILL for the engine, any signal for the tender; an invalid one is refused', () => {
  assert.equal(dieWithParent(), 'ok');
  assert.equal(deathSignal(), 9);
  assert.equal(onParentDeath(15), 'ok');
  assert.equal(deathSignal(), 15);
  assert.equal(onParentDeath(65), 'prctl(PR_SET_PDEATHSIG) failed (errno 22)');
  assert.equal(deathSignal(), 15, 'unchanged');
  assert.equal(onParentDeath(0), 'ok');
  assert.equal(deathSignal(), 0);
});

test('namespaces: the flags of linux/sched.h; an unknown flag is refused with it in hex', () => {
  assert.equal(ENGINE_NAMESPACES, 0x20000000 | 0x08000000 | 0x04000000 | 0x40000000);
  assert.equal(CLONE_NEWNS, 0x00020000);
  assert.equal(unshare(0), 'ok');
  assert.equal(unshare(0x1), 'unshare(0x1) failed (errno 22)');
});

test('dropPrivileges checks every thread afterwards: with root left in a uid it says which thread, and changes nothing itself', () => {
  // Only the effective uid is given up (glibc applies it to every thread), so the real and saved uid stay 0: the check must see them.
  const seteuid = lib.func('int seteuid(unsigned int euid)');
  assert.equal(seteuid(65534), 0);
  let r: string;
  try {
    r = dropPrivileges({ uid: 65534, gid: 65534, name: 'nobody' });
  } finally {
    assert.equal(seteuid(0), 0);
  }
  assert.match(r, /^thread \d+ still runs as root after the drop$/);
  assert.equal(process.geteuid!(), 0);
});

// Last: it installs a filter on this thread (harmless to a test: libuv falls back from io_uring to epoll, as it does for the engine).
test('denyIoUringForChildren: after it, io_uring_setup fails with ENOSYS on this thread, under no_new_privs; other calls still work', () => {
  const syscall = lib.func('long syscall(long nr, unsigned long a1, _Inout_ uint8_t *a2)');
  const params = new Uint8Array(120);
  assert.equal(prctlValue(39 /* PR_GET_NO_NEW_PRIVS */, 0, 0, 0, 0), 0);
  assert.equal(denyIoUringForChildren(), 'ok');
  assert.equal(prctlValue(39, 0, 0, 0, 0), 1, 'no_new_privs, which a filter needs without CAP_SYS_ADMIN and keeps across exec');
  assert.equal(syscall(425, 1, params), -1);
  assert.equal(koffi.errno(), 38, 'ENOSYS: libuv then keeps to epoll');
  assert.equal(prctlValue(3 /* PR_GET_DUMPABLE */, 0, 0, 0, 0), 0, 'other calls pass');
});
