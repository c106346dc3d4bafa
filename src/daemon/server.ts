/**
 * `fata daemon`: keeps the declared unikernels running and answers the
 * protocol (./protocol.ts) on a Unix socket. State changes are written
 * (./state.ts) before they are acted on for a destroy, and after the taps
 * exist for a create, so that a crash at any point leaves no ghost and no
 * lost unikernel; what a crash can leave (a tap, an image copy, a volume
 * file, a tender still stopping) is swept at the next start, which then
 * starts every declared unikernel again (docs/daemon.md, Restarts).
 */
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  ftruncateSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
} from 'node:fs';
import { readImage } from '../build/image.ts';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { FataError } from '../host/errors.ts';
import { checkName, checkUpdate, type Limits, type Owner, ownedBy, ownerOf, planCreate, scopesOf } from './create.ts';
import { ADMIN, type Policy, peerUid, type Who, whoIs } from './owners.ts';
import { interfacesWithPrefix, makeTap, removeTap, tapAttached } from './host-net.ts';
import {
  commandOf,
  type CreateSpec,
  decodeRequest,
  type Envelope,
  MAX_LINE_BYTES,
  PROTOCOL_VERSION,
  type Reply,
  type Request,
} from './protocol.ts';
import { remoteWho, type TlsEndpoint, tlsOptions } from './remote.ts';
import { DEFAULT_CONSOLE_BYTES } from './ring.ts';
import { unikernelStats } from './stats.ts';
import {
  codeCachesDir,
  type DaemonState,
  imagesDir,
  type SignerRecord,
  type VolumeRecord,
  loadState,
  saveState,
  type UnikernelRecord,
  volumePath,
  writeAtomic,
} from './state.ts';
import { type SupervisorOptions, type Trust, Unikernel } from './unikernel.ts';
import { signaturePath, verifyImage } from '../build/trust.ts';

export interface DaemonOptions {
  readonly stateDir: string;
  readonly socket: string;
  readonly limits: Limits;
  readonly consoleBytes?: number;
  readonly backoffMs?: number;
  readonly say: (s: string) => void;
  /** The socket's group (--socket-group); default `fata` when the host has it. */
  readonly socketGroup?: string;
  /** Images must be signed by a certificate chaining to this (--trust, --crl): at create, update and every start. */
  readonly trust?: Trust;
  /** At start, keep what was declared stopped until a `restart` or `destroy` says (a scheduler's host: docs/scale-out.md). */
  readonly startWait?: boolean;
  /** Owners and their limits (--policy); without one, everyone is the default owner. */
  readonly policy?: Policy;
  /** The mutual-TLS endpoint (--tls, --ca, --cert, --key, --tls-crl): remote clients with delegated authority. */
  readonly tls?: TlsEndpoint;
}

type Send = (r: Reply) => void;
/** What a streaming request leaves running: called when the client goes. */
export type Cancel = () => void;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Daemon {
  readonly #o: DaemonOptions;
  #state!: DaemonState;
  readonly #uks = new Map<string, Unikernel>();
  readonly #gone = new Map<string, Set<() => void>>();
  /** Unikernels with an update on trial (one at a time each). */
  readonly #updating = new Set<string>();
  #server: Server | undefined;
  #tlsServer: TlsServer | undefined;
  readonly #tlsSockets = new Set<TLSSocket>();
  readonly #sup: SupervisorOptions;
  /** Test-only (docs/daemon.md): the daemon kills itself with SIGKILL at this point of a create, destroy or update. */
  readonly #failpoint = process.env.FATA_DAEMON_FAILPOINT ?? '';

  constructor(o: DaemonOptions) {
    this.#o = o;
    this.#sup = {
      volumePath: (n) => volumePath(o.stateDir, n),
      consoleBytes: o.consoleBytes ?? DEFAULT_CONSOLE_BYTES,
      backoffMs: o.backoffMs ?? 1000,
      maxBackoffMs: 60_000,
      stableMs: 60_000,
      stopGraceMs: 3000,
      trust: o.trust,
    };
  }

  get #tapPrefix(): string {
    return `fk${this.#state.tag}-`;
  }

  async start(): Promise<void> {
    this.#lock();
    this.#state = loadState(this.#o.stateDir);
    // An update the daemon did not see through (it stopped during the trial) is rolled back.
    for (const r of this.#state.unikernels) {
      if (!r.previousImage) continue;
      const { previousImage, ...rest } = r;
      this.#replace({ ...rest, image: previousImage });
    }
    await this.#sweep();
    await this.#listen();
    if (this.#o.tls) await this.#listenTls(this.#o.tls);
    for (const rec of this.#state.unikernels) {
      const u = new Unikernel(rec, this.#sup);
      this.#uks.set(rec.name, u);
      try {
        for (const n of rec.nets) makeTap(n.tap, n.bridge);
        if (this.#o.startWait) {
          u.note('declared before the daemon started: waiting (--start=wait) for restart or destroy');
          continue;
        }
        u.note('declared before the daemon started: starting it again');
        u.start();
      } catch (e) {
        u.state = 'failed';
        u.note(`cannot start: ${(e as Error).message}`);
      }
    }
    this.#o.say(
      `fata daemon: listening on ${this.#o.socket} (protocol v${PROTOCOL_VERSION}), state in ${this.#o.stateDir}, ${this.#uks.size} unikernel(s) declared`,
    );
  }

  /** One daemon per state dir: a second would sweep the first's tenders and taps. The pid in STATE/daemon.pid says who holds it. */
  #lock(): void {
    mkdirSync(this.#o.stateDir, { recursive: true, mode: 0o700 });
    const path = join(this.#o.stateDir, 'daemon.pid');
    let holder = 0;
    try {
      holder = Number(readFileSync(path, 'utf8'));
    } catch {
      /* none yet */
    }
    if (holder && holder !== process.pid && isDaemon(holder))
      throw new FataError(
        'FATA_DAEMON_RUNNING',
        `daemon ${holder} already keeps ${this.#o.stateDir}; stop it first or give another --state-dir`,
      );
    writeAtomic(path, `${process.pid}\n`);
  }

  /** What a crash may have left: tenders still stopping, taps, image copies and volume files nothing declares. */
  async #sweep(): Promise<void> {
    const images = imagesDir(this.#o.stateDir);
    for (const pid of tendersOf(images)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    const taps = new Set(this.#state.unikernels.flatMap((u) => u.nets.map((n) => n.tap)));
    for (const t of interfacesWithPrefix(this.#tapPrefix)) if (!taps.has(t)) removeTap(t);
    const used = new Set(
      this.#state.unikernels
        .flatMap((u) => [u.image.path, ...(u.previousImage ? [u.previousImage.path] : [])])
        .flatMap((p) => [p, signaturePath(p)]),
    );
    const caches = codeCachesDir(this.#o.stateDir);
    for (const f of readdirSync(images))
      if (!used.has(join(images, f)) && join(images, f) !== caches) rmSync(join(images, f), { force: true });
    for (const f of readdirSync(caches))
      if (!used.has(join(images, `${f}.fata`))) rmSync(join(caches, f), { recursive: true, force: true });
    const vols = new Set(this.#state.volumes.map((v) => `${v.name}.img`));
    const vdir = dirname(volumePath(this.#o.stateDir, 'x'));
    for (const f of readdirSync(vdir)) if (!vols.has(f)) rmSync(join(vdir, f), { force: true });
    // A tender killed above lets go of its taps when its engine has gone too.
    for (let i = 0; i < 100 && [...taps].some(tapAttached); i++) await sleep(50);
  }

  async #listen(): Promise<void> {
    const path = this.#o.socket;
    mkdirSync(dirname(path), { recursive: true });
    if (await answers(path))
      throw new FataError('FATA_DAEMON_RUNNING', `a daemon already answers on ${path}; stop it first or give another --socket`);
    rmSync(path, { force: true });
    const server = createServer((s) => this.#connection(s));
    const mask = process.umask(0o117);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => resolve());
      });
    } finally {
      process.umask(mask);
    }
    chmodSync(path, 0o660);
    const gid = groupId(this.#o.socketGroup ?? 'fata');
    if (gid === undefined && this.#o.socketGroup)
      throw new FataError(
        'FATA_BAD_FLAGS',
        `--socket-group=${this.#o.socketGroup}: no such group; make it with 'groupadd ${this.#o.socketGroup}'`,
      );
    if (gid !== undefined) chownSync(path, 0, gid);
    this.#server = server;
  }

  /** The TLS endpoint: mutual TLS 1.3, clients' chains checked against --ca by the handshake (docs/daemon.md, Remote management). */
  async #listenTls(o: TlsEndpoint): Promise<void> {
    const { options, anchors } = tlsOptions(o);
    const server = createTlsServer(options, (s) => this.#tlsConnection(s, o, anchors));
    server.on('tlsClientError', () => {}); // A refused handshake: the client hears the alert or the close.
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(new FataError('FATA_BAD_TLS', `cannot listen on ${o.host}:${o.port} for --tls (${e.code ?? e.message})`)),
      );
      server.listen(o.port, o.host, () => resolve());
    });
    this.#tlsServer = server;
    this.#o.say(`fata daemon: remote management (mutual TLS 1.3) on ${o.host}:${o.port}, clients under ${o.ca}`);
  }

  /** One connection's request lines, each handed to `line` with the reply channel and the connection's cancels. */
  #lines(s: Socket, line: (text: string, send: Send, cancels: Cancel[]) => void): void {
    let buf = '';
    const cancels: Cancel[] = [];
    const send: Send = (r) => {
      if (!s.destroyed) s.write(`${JSON.stringify(r)}\n`);
    };
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      if (buf.length > MAX_LINE_BYTES && !buf.includes('\n')) {
        send({ v: PROTOCOL_VERSION, id: 0, ok: false, error: { code: 'FATA_PROTOCOL', message: 'request line too long' } });
        s.end();
        return;
      }
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) line(l, send, cancels);
    });
    s.on('error', () => {});
    s.on('close', () => {
      for (const c of cancels) c();
    });
  }

  #connection(s: Socket): void {
    const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
    const who = whoIs(fd === undefined ? undefined : peerUid(fd), this.#o.policy);
    this.#lines(s, (line, send, cancels) => this.#request(line, who, send, cancels));
  }

  /**
   * A TLS client: its first request must be `hello` with its intermediates, which says who it is (./remote.ts);
   * requests wait in order until then. A refusal answers that hello and closes the connection.
   */
  #tlsConnection(s: TLSSocket, o: TlsEndpoint, anchors: readonly X509Certificate[]): void {
    this.#tlsSockets.add(s);
    s.on('close', () => this.#tlsSockets.delete(s));
    let who: Who | undefined,
      refused = false,
      ready: Promise<void> = Promise.resolve();
    this.#lines(s, (line, send, cancels) => {
      ready = ready.then(async () => {
        if (refused) return;
        if (who) return this.#request(line, who, send, cancels);
        const req = decodeRequest(line);
        const fail = (code: string, message: string): void => {
          refused = true;
          send({ v: PROTOCOL_VERSION, id: 'error' in req ? (req.id ?? 0) : req.id, ok: false, error: { code, message } });
          s.end();
        };
        if ('error' in req) return fail('FATA_PROTOCOL', req.error);
        if (req.op !== 'hello') return fail('FATA_PROTOCOL', 'over TLS the first request is hello with the client chain (docs/daemon.md)');
        try {
          who = await remoteWho(s, req.chain, o, anchors, this.#o.policy !== undefined);
        } catch (e) {
          const err = e instanceof FataError ? e : new FataError('FATA_INTERNAL', String((e as Error)?.message ?? e));
          return fail(err.code, err.message);
        }
        this.#request(line, who, send, cancels);
      });
    });
  }

  #request(line: string, who: Who | { error: string }, send: Send, cancels: Cancel[]): void {
    const req = decodeRequest(line);
    if ('error' in req) {
      send({ v: PROTOCOL_VERSION, id: req.id ?? 0, ok: false, error: { code: 'FATA_PROTOCOL', message: req.error } });
      return;
    }
    if ('error' in who) {
      send({ v: PROTOCOL_VERSION, id: req.id, ok: false, error: { code: 'FATA_NO_OWNER', message: who.error } });
      return;
    }
    const reply = (result: unknown): void => send({ v: PROTOCOL_VERSION, id: req.id, ok: true, result });
    this.#handle(req, who, reply, (event) => send({ v: PROTOCOL_VERSION, id: req.id, event }), cancels).catch((e: unknown) => {
      const error =
        e instanceof FataError
          ? { code: e.code, message: e.message }
          : { code: 'FATA_INTERNAL', message: String((e as Error)?.message ?? e) };
      send({ v: PROTOCOL_VERSION, id: req.id, ok: false, error });
    });
  }

  /**
   * One request from inside the daemon's process (the web console): its result, or a FataError; `event` gets a
   * follow request's events until a function pushed on `cancels` is called.
   */
  async call(req: Request, event: (e: unknown) => void, cancels: Cancel[]): Promise<unknown> {
    let result: unknown;
    await this.#handle({ ...req, v: PROTOCOL_VERSION, id: 0 } as Envelope, ADMIN, (r) => (result = r), event, cancels);
    return result;
  }

  /** Whether `who` may see a record: the administrator sees all, an owner its own. */
  #sees(who: Who, r: { readonly owner?: string }): boolean {
    return who.admin || ownedBy(r, who.owner);
  }

  #get(name: unknown, who: Who): Unikernel {
    const u = typeof name === 'string' ? this.#uks.get(name) : undefined;
    if (!u || !this.#sees(who, u.rec))
      throw new FataError('FATA_NO_UNIKERNEL', `no unikernel named '${String(name)}'; 'fata list' shows them`);
    return u;
  }

  async #handle(req: Envelope, who: Who, reply: (r: unknown) => void, event: (e: unknown) => void, cancels: Cancel[]): Promise<void> {
    if (who.commands && req.op !== 'hello' && !who.commands.has(commandOf(req.op)))
      throw new FataError(
        'FATA_NOT_PERMITTED',
        `your certificate names the commands ${[...who.commands].join(', ') || 'none'}, not ${commandOf(req.op)}; ask your delegation for a client certificate that names it (fata cert client --commands)`,
      );
    switch (req.op) {
      case 'hello':
        return reply({
          protocol: PROTOCOL_VERSION,
          daemon: 'fata',
          pid: process.pid,
          stateDir: this.#o.stateDir,
          owner: who.owner,
          admin: who.admin,
          // What a client checking a whole-host policy must fit (fata policy check, docs/policy.md).
          limits: this.#o.limits,
          ownerLimits: who.admin ? undefined : (who.scope?.limits ?? this.#o.policy?.limits.get(who.owner)),
          ...(who.scope?.within?.length ? { delegatedFrom: who.scope.within.map((w) => ({ owner: w.name, limits: w.limits })) } : {}),
          ...(who.commands ? { commands: [...who.commands] } : {}),
          trust: this.#o.trust !== undefined,
        });
      case 'create':
        return reply(this.#info(await this.#create(req.spec, who)));
      case 'destroy':
        return reply(await this.#destroy(this.#get(req.name, who)));
      case 'update':
        return reply(await this.#update(this.#get(req.name, who), req.image, req.trialMs, req.sha256));
      case 'restart': {
        const u = this.#get(req.name, who);
        await u.restart();
        return reply(this.#info(u));
      }
      case 'list':
        return reply([...this.#uks.values()].filter((u) => this.#sees(who, u.rec)).map((u) => this.#row(u)));
      case 'info':
        return reply(this.#info(this.#get(req.name, who)));
      case 'console':
        return this.#console(req, this.#get(req.name, who), reply, event, cancels);
      case 'stats':
        return this.#stats(req, this.#get(req.name, who), reply, event, cancels);
      default:
        return this.#volumeOp(req, who, reply, event);
    }
  }

  /** The owner a create or volume by `who` counts against (none for the administrator). */
  #owner(who: Who): Owner | undefined {
    return who.admin ? undefined : (who.scope ?? { name: who.owner, limits: this.#o.policy?.limits.get(who.owner) });
  }

  /** With --trust: the signature beside `path` over `bytes` (what will be copied and run) and who signed, or a refusal that says why. */
  async #verify(path: string, bytes: Uint8Array): Promise<{ signer?: SignerRecord }> {
    if (!this.#o.trust) return {};
    const s = await verifyImage(path, bytes, this.#o.trust);
    return { signer: { subject: s.subject, issuer: s.issuer, serial: s.serial, notAfter: s.notAfter.getTime() } };
  }

  async #create(spec: CreateSpec, who: Who): Promise<Unikernel> {
    if (!spec || typeof spec !== 'object' || !Array.isArray(spec.nets) || !Array.isArray(spec.blocks) || !Array.isArray(spec.bootArgs))
      throw new FataError('FATA_PROTOCOL', 'create needs spec { name, image, nets: [], blocks: [], bootArgs: [] }');
    const checked = planCreate(spec, this.#state, this.#o.limits, this.#owner(who));
    const signed = await this.#verify(spec.image, checked.bytes);
    // Checked again after the wait: another create may have taken the name or the quota meanwhile.
    const plan = this.#o.trust ? planCreate(spec, this.#state, this.#o.limits, this.#owner(who)) : checked;
    if (plan.image.sha256 !== checked.image.sha256)
      throw new FataError('FATA_IMAGE_CHANGED', `${spec.image} changed while its signature was checked; create it again`);
    const id = this.#state.nextId;
    const imagePath = this.#storeImage(plan.image.sha256, plan.bytes, spec.image);
    const rec: UnikernelRecord = {
      name: spec.name,
      ...(this.#o.policy || who.scope ? { owner: who.owner } : {}),
      id,
      image: { path: imagePath, sha256: plan.image.sha256, name: plan.image.manifest.name, source: spec.image, ...signed },
      nets: spec.nets.map((n, i) => ({
        dev: n.dev,
        bridge: n.bridge,
        mac: plan.macs[i]!,
        tap: `${this.#tapPrefix}${id.toString(36)}-${i}`,
      })),
      blocks: spec.blocks.map((b) => ({ dev: b.dev, volume: b.volume })),
      memMb: plan.memMb,
      restart: plan.restart,
      maxRestarts: Number.isInteger(spec.maxRestarts) && spec.maxRestarts! > 0 ? spec.maxRestarts! : 0,
      bootArgs: [...spec.bootArgs],
      createdAt: Date.now(),
    };
    const u = new Unikernel(rec, this.#sup);
    try {
      for (const n of rec.nets) makeTap(n.tap, n.bridge);
      this.#crashAt('create-after-taps');
      // Started before its state is written, so that the engine's start (CPU-bound, a hundred milliseconds and more)
      // overlaps the write's fsyncs (about 7 ms here: docs/profiling.md). A crash before the write leaves what a crash
      // before the start left, plus a tender that dies with the daemon (PR_SET_PDEATHSIG) or is killed by the next
      // one's sweep: nothing declares it, so nothing comes back.
      u.start();
      this.#crashAt('create-after-start');
      this.#save({ ...this.#state, nextId: id + 1, unikernels: [...this.#state.unikernels, rec] });
      this.#crashAt('create-after-save');
    } catch (e) {
      await u.destroy();
      for (const n of rec.nets) removeTap(n.tap);
      throw e;
    }
    this.#uks.set(rec.name, u);
    return u;
  }

  #save(s: DaemonState): void {
    saveState(this.#o.stateDir, s);
    this.#state = s;
  }

  #crashAt(point: string): void {
    if (this.#failpoint === point) process.kill(process.pid, 'SIGKILL');
  }

  #replace(rec: UnikernelRecord): void {
    this.#save({ ...this.#state, unikernels: this.#state.unikernels.map((r) => (r.name === rec.name ? rec : r)) });
  }

  /** The image copied by hash into the state dir, with its signature beside it when images must be signed. */
  #storeImage(sha256: string, bytes: Uint8Array, source: string): string {
    const path = join(imagesDir(this.#o.stateDir), `${sha256}.fata`);
    if (this.#o.trust) writeAtomic(signaturePath(path), readFileSync(signaturePath(source)), 0o644);
    // Named by its hash and written whole (writeAtomic): a copy that is there has these bytes.
    if (!existsSync(path)) writeAtomic(path, bytes, 0o644);
    return path;
  }

  #dropImageIfUnused(path: string): void {
    const used = this.#state.unikernels.some((r) => r.image.path === path || r.previousImage?.path === path);
    if (used) return;
    rmSync(path, { force: true });
    rmSync(signaturePath(path), { force: true });
    rmSync(join(codeCachesDir(this.#o.stateDir), basename(path, '.fata')), { recursive: true, force: true });
  }

  /** The new image on trial: kept if it stays up `trialMs`, else the old one back (and a refusal that says why). */
  async #update(u: Unikernel, path: unknown, trialMs: unknown, sha256: unknown): Promise<unknown> {
    const name = u.rec.name;
    if (this.#updating.has(name)) throw new FataError('FATA_BUSY', `${name} is being updated; wait for that update's answer`);
    this.#updating.add(name);
    try {
      return await this.#trial(u, path, trialMs, sha256);
    } finally {
      this.#updating.delete(name);
    }
  }

  async #trial(u: Unikernel, path: unknown, trialMs: unknown, sha256: unknown): Promise<unknown> {
    const { image, bytes } = checkUpdate(path, u.rec, sha256);
    const signed = await this.#verify(String(path), bytes);
    const old = u.rec.image;
    const next: UnikernelRecord = {
      ...u.rec,
      image: {
        path: this.#storeImage(image.sha256, bytes, String(path)),
        sha256: image.sha256,
        name: image.manifest.name,
        source: String(path),
        ...signed,
      },
      previousImage: old,
    };
    this.#replace(next);
    this.#crashAt('update-after-save');
    u.rec = next;
    await u.restart();
    const started = u.startedAt;
    const ms = typeof trialMs === 'number' && trialMs >= 0 ? trialMs : 3000;
    await sleep(ms);
    const up = u.state === 'running' && u.startedAt === started;
    const { previousImage: _, ...kept } = up ? next : { ...next, image: old };
    this.#replace(kept);
    u.rec = kept;
    this.#dropImageIfUnused(up ? old.path : next.image.path);
    if (up) return this.#info(u);
    const why = u.lastExit?.reason ?? 'it did not stay up';
    u.note(`update to ${image.sha256.slice(0, 12)} failed (${why}): back to ${old.sha256.slice(0, 12)}`);
    await u.restart();
    throw new FataError(
      'FATA_UPDATE_FAILED',
      `${u.rec.name}: the new image did not stay up for ${ms} ms (${why}); rolled back to ${old.name} ${old.sha256.slice(0, 12)}, which runs again`,
    );
  }

  /** Forgotten on disk first (it never comes back), then stopped, then its taps removed. */
  async #destroy(u: Unikernel): Promise<unknown> {
    const name = u.rec.name;
    this.#save({ ...this.#state, unikernels: this.#state.unikernels.filter((r) => r.name !== name) });
    this.#crashAt('destroy-after-save');
    this.#uks.delete(name);
    await u.destroy();
    for (const n of u.rec.nets) removeTap(n.tap);
    this.#dropImageIfUnused(u.rec.image.path);
    for (const f of this.#gone.get(name) ?? []) f();
    this.#gone.delete(name);
    return { name, destroyed: true, lastExit: u.lastExit };
  }

  #onGone(name: string, f: () => void): Cancel {
    const set = this.#gone.get(name) ?? new Set();
    set.add(f);
    this.#gone.set(name, set);
    return () => set.delete(f);
  }

  #row(u: Unikernel): Record<string, unknown> {
    const now = Date.now();
    const running = u.state === 'running' && u.startedAt !== undefined;
    const st = unikernelStats(u, now);
    return {
      name: u.rec.name,
      owner: ownerOf(u.rec),
      state: u.state,
      startedAt: running ? u.startedAt : undefined,
      uptimeMs: running ? now - u.startedAt! : undefined,
      restarts: u.restarts,
      memMb: u.rec.memMb,
      rssBytes: st.engine?.rssBytes,
      image: { name: u.rec.image.name, sha256: u.rec.image.sha256 },
    };
  }

  #info(u: Unikernel): Record<string, unknown> {
    const r = u.rec;
    let manifest: unknown;
    try {
      manifest = readManifest(r.image.path);
    } catch {
      manifest = undefined; // The copy is gone: the daemon says so when it next starts it.
    }
    return {
      ...this.#row(u),
      createdAt: r.createdAt,
      tenderPid: u.pid,
      enginePid: u.enginePid(),
      restartsInRow: u.restartsInRow,
      restartPolicy: r.restart,
      maxRestarts: r.maxRestarts,
      lastExit: u.lastExit,
      nets: r.nets,
      blocks: r.blocks.map((b) => ({ ...b, path: volumePath(this.#o.stateDir, b.volume) })),
      bootArgs: r.bootArgs,
      image: { ...r.image, manifest, ...(r.image.signer ? { signer: signerInfo(r.image.signer, Date.now()) } : {}) },
    };
  }

  #console(
    req: Envelope & { op: 'console' },
    u: Unikernel,
    reply: (r: unknown) => void,
    event: (e: unknown) => void,
    cancels: Cancel[],
  ): void {
    const last = typeof req.lines === 'number' && req.lines >= 0 ? req.lines : undefined;
    reply({ name: u.rec.name, lines: u.ring.lines(typeof req.sinceMs === 'number' ? req.sinceMs : 0, last), follow: !!req.follow });
    if (!req.follow) return;
    cancels.push(u.ring.follow((l) => event(l)));
    cancels.push(this.#onGone(u.rec.name, () => event({ gone: true })));
  }

  #stats(req: Envelope & { op: 'stats' }, u: Unikernel, reply: (r: unknown) => void, event: (e: unknown) => void, cancels: Cancel[]): void {
    reply(unikernelStats(u, Date.now()));
    if (!req.follow) return;
    const ms = typeof req.intervalMs === 'number' && req.intervalMs >= 100 ? req.intervalMs : 1000;
    const timer = setInterval(() => event(unikernelStats(u, Date.now())), ms);
    cancels.push(() => clearInterval(timer));
    cancels.push(
      this.#onGone(u.rec.name, () => {
        clearInterval(timer);
        event({ gone: true });
      }),
    );
  }

  async #volumeOp(req: Envelope, who: Who, reply: (r: unknown) => void, event: (e: unknown) => void): Promise<void> {
    const st = this.#state;
    if (req.op === 'volume-list')
      return reply(
        st.volumes
          .filter((v) => this.#sees(who, v))
          .map((v) => ({ ...v, attachedTo: st.unikernels.find((u) => u.blocks.some((b) => b.volume === v.name))?.name })),
      );
    if (req.op === 'volume-create') return reply(this.#volumeCreate(req.name, req.bytes, who));
    if (req.op !== 'volume-destroy' && req.op !== 'volume-dump') throw new FataError('FATA_PROTOCOL', `unknown op '${req.op}'`);
    const v = st.volumes.find((x) => x.name === req.name && this.#sees(who, x));
    if (!v) throw new FataError('FATA_NO_VOLUME', `no volume named '${String(req.name)}'; 'fata volume list' shows them`);
    const path = volumePath(this.#o.stateDir, v.name);
    if (req.op === 'volume-dump') {
      reply({ name: v.name, bytes: v.bytes });
      const fd = openSync(path, 'r');
      try {
        const chunk = Buffer.alloc(48 << 10);
        for (let off = 0; off < v.bytes; ) {
          const n = readSync(fd, chunk, 0, chunk.length, off);
          if (n === 0) break;
          event({ data: chunk.subarray(0, n).toString('base64') });
          off += n;
          await sleep(0);
        }
      } finally {
        closeSync(fd);
      }
      return event({ end: true });
    }
    const user = st.unikernels.find((u) => u.blocks.some((b) => b.volume === v.name));
    if (user) throw new FataError('FATA_VOLUME_IN_USE', `volume '${v.name}' is attached to '${user.name}'; destroy that unikernel first`);
    this.#save({ ...st, volumes: st.volumes.filter((x) => x.name !== v.name) });
    rmSync(path, { force: true });
    return reply({ name: v.name, destroyed: true });
  }

  #volumeCreate(name: unknown, bytes: unknown, who: Who): unknown {
    checkName(name, 'volume');
    const st = this.#state;
    if (st.volumes.some((v) => v.name === name)) throw new FataError('FATA_EXISTS', `a volume named '${String(name)}' exists`);
    if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes <= 0 || bytes % 512 !== 0)
      throw new FataError('FATA_BAD_SIZE', 'a volume size is a positive multiple of 512 bytes (write it like 64M or 1G)');
    const scopes: [string, readonly VolumeRecord[], number | undefined][] = [
      ['', st.volumes, this.#o.limits.maxVolumeBytes],
      ...scopesOf(this.#owner(who)).map((s): [string, readonly VolumeRecord[], number | undefined] => [
        `owner '${s.name}': `,
        st.volumes.filter((v) => ownedBy(v, s.name)),
        s.limits?.maxVolumeBytes,
      ]),
    ];
    for (const [label, vols, max] of scopes) {
      const total = vols.reduce((sum, v) => sum + v.bytes, 0) + bytes;
      if (max !== undefined && total > max)
        throw new FataError(
          'FATA_QUOTA',
          `${label}over quota: volume storage ${total} bytes > ${max} allowed; destroy a volume or make a smaller one`,
        );
    }
    const path = volumePath(this.#o.stateDir, name as string);
    const fd = openSync(path, 'wx', 0o600);
    try {
      ftruncateSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const rec = { name: name as string, ...(this.#o.policy || who.scope ? { owner: who.owner } : {}), bytes, createdAt: Date.now() };
    this.#save({ ...st, volumes: [...st.volumes, rec] });
    return rec;
  }

  /** Stops every engine (they stay declared: the next start brings them back) and closes the socket. */
  async stop(): Promise<void> {
    this.#server?.close();
    this.#tlsServer?.close();
    for (const s of this.#tlsSockets) s.destroy();
    rmSync(this.#o.socket, { force: true });
    await Promise.all([...this.#uks.values()].map((u) => u.shutdown()));
  }
}

const DAY_MS = 86_400_000;

/** The signer as `info` shows it: with its not-after time and the whole days it has left (negative: expired that long ago). */
export function signerInfo(s: SignerRecord, now: number): SignerRecord & { daysLeft: number } {
  return { ...s, daysLeft: Math.floor((s.notAfter - now) / DAY_MS) };
}

function readManifest(path: string): unknown {
  const image = readImage(readFileSync(path), path);
  return 'error' in image ? undefined : image.manifest;
}

/** Whether `pid` runs `fata daemon` (a pid file left by a crash may name another process since). */
function isDaemon(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('daemon');
  } catch {
    return false;
  }
}

/** Whether a daemon answers on `path` (a live socket), so that a second one does not take it over. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

function groupId(name: string): number | undefined {
  try {
    const line = readFileSync('/etc/group', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${name}:`));
    return line ? Number(line.split(':')[2]) : undefined;
  } catch {
    return undefined;
  }
}

/** Tenders running an image of this state dir: their argument vector names a file in `images`. */
function tendersOf(images: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (argv.includes('run') && argv.some((a) => a.startsWith(`${images}/`))) out.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return out;
}
