/**
 * Who is asking: the uid of the process at the other end of the socket (SO_PEERCRED, which the kernel fills in
 * and a client cannot forge), mapped to an owner by the policy file (`--policy=FILE`, docs/daemon.md). Without a
 * policy everyone who can open the socket is the one owner `default`, under the daemon's limits. With one, root
 * is the administrator (sees everything; the daemon's limits only), each mapped user acts as its owner (sees only
 * its own unikernels and volumes, within its owner's limits), and anyone else is refused.
 */
import { readFileSync } from 'node:fs';
import { FataError } from '../host/errors.ts';
import { koffi } from '../targets/node/libc.ts';
import { NAME, type Limits, type Owner } from './create.ts';

export interface Who {
  readonly owner: string;
  /** Sees and manages every owner's unikernels and volumes. */
  readonly admin: boolean;
  /** A remote client's owner with the delegations above it (./remote.ts); a local owner's comes from the policy file. */
  readonly scope?: Owner;
  /** A remote client's commands (its certificate names them); undefined: every command. */
  readonly commands?: ReadonlySet<string>;
}

export const DEFAULT_OWNER = 'default';
export const ADMIN: Who = { owner: 'root', admin: true };

export interface Policy {
  /** uid → owner. */
  readonly users: ReadonlyMap<number, string>;
  readonly limits: ReadonlyMap<string, Limits>;
}

const getsockopt = koffi.load('libc.so.6').func('int getsockopt(int fd, int level, int name, _Out_ uint8_t *value, _Inout_ uint32_t *len)');
const SOL_SOCKET = 1,
  SO_PEERCRED = 17;

/** The uid of the peer of Unix socket `fd`, or undefined. */
export function peerUid(fd: number): number | undefined {
  const cred = new Uint8Array(12); // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
  const len = [12];
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, len) !== 0) return undefined;
  return new DataView(cred.buffer).getUint32(4, true);
}

function uidOf(user: unknown, passwd: string): number {
  if (typeof user === 'number' && Number.isInteger(user) && user >= 0) return user;
  const line = typeof user === 'string' ? passwd.split('\n').find((l) => l.startsWith(`${user}:`)) : undefined;
  if (!line) throw new FataError('FATA_POLICY', `policy: no local user '${String(user)}' (a name in /etc/passwd or a uid)`);
  return Number(line.split(':')[2]);
}

function limitsOf(owner: string, o: Record<string, unknown>): Limits {
  const n = (k: string): number | undefined => {
    const v = o[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
      throw new FataError('FATA_POLICY', `policy: ${owner}.${k} must be a whole number`);
    return v;
  };
  const bridges = o.bridges;
  if (bridges !== undefined && (!Array.isArray(bridges) || !bridges.every((b) => typeof b === 'string')))
    throw new FataError('FATA_POLICY', `policy: ${owner}.bridges must be a list of bridge names`);
  return { maxUnikernels: n('maxUnikernels'), maxMemoryMb: n('maxMemoryMb'), maxVolumeBytes: n('maxVolumeBytes'), bridges };
}

/** Reads `{"owners": {"NAME": {"users": ["alice", 1001], "maxUnikernels": 4, "maxMemoryMb": 1024, "bridges": ["br0"], "maxVolumeBytes": 1073741824}}}`. */
export function loadPolicy(path: string): Policy {
  let v: { owners?: Record<string, Record<string, unknown>> };
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new FataError('FATA_POLICY', `cannot read the policy ${path}: ${(e as Error).message}`);
  }
  if (!v?.owners || typeof v.owners !== 'object')
    throw new FataError('FATA_POLICY', `${path}: write it as {"owners": {"NAME": {"users": [...], …}}}`);
  const passwd = readFileSync('/etc/passwd', 'utf8');
  const users = new Map<number, string>(),
    limits = new Map<string, Limits>();
  for (const [owner, o] of Object.entries(v.owners)) {
    if (!NAME.test(owner) || owner === ADMIN.owner) throw new FataError('FATA_POLICY', `policy: '${owner}' cannot name an owner`);
    if (!Array.isArray(o.users)) throw new FataError('FATA_POLICY', `policy: ${owner}.users must list local users or uids`);
    for (const u of o.users) {
      const uid = uidOf(u, passwd);
      if (uid === 0) throw new FataError('FATA_POLICY', `policy: root is the administrator; it cannot belong to '${owner}'`);
      if (users.has(uid)) throw new FataError('FATA_POLICY', `policy: uid ${uid} belongs to two owners`);
      users.set(uid, owner);
    }
    limits.set(owner, limitsOf(owner, o));
  }
  return { users, limits };
}

/** Who the peer with `uid` is under `policy`, or why it may not ask anything. */
export function whoIs(uid: number | undefined, policy: Policy | undefined): Who | { error: string } {
  if (!policy) return { owner: DEFAULT_OWNER, admin: true };
  if (uid === 0) return ADMIN;
  const owner = uid === undefined ? undefined : policy.users.get(uid);
  if (!owner) return { error: `uid ${uid ?? '?'} is no owner here; the operator maps local users to owners in the daemon's --policy file` };
  return { owner, admin: false };
}
