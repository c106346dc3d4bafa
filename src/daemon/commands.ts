/**
 * The command line over the daemon: `fata daemon` itself, and `create`,
 * `destroy`, `restart`, `list`, `info`, `console`, `stats`, `volume …`, each
 * with `--json` (the daemon's reply as it is) and `--socket=PATH` (else
 * FATA_SOCKET, else /run/fata.sock).
 */
import { isAbsolute, resolve } from 'node:path';
import { FataError } from '../host/errors.ts';
import { call, type Endpoint, request } from './client.ts';
import { type CreateSpec, type Request, type RestartPolicy, socketPath } from './protocol.ts';
import type { ConsoleLine } from './ring.ts';

export const DAEMON_USAGE = `usage: fata daemon [--state-dir=DIR] [--socket=PATH] [--max-unikernels=N] [--max-memory=MB]
                   [--bridges=BR,…] [--max-volume-storage=SIZE] [--console-bytes=N] [--backoff-ms=MS]
                   [--policy=FILE]  (owners: local users and their limits) [--socket-group=GROUP]
                   [--trust=CA.pem [--crl=CRL.pem]]  (only images signed by a certificate chaining to CA.pem)
                   [--start=all|wait]  (wait: what was declared stays stopped at start until restart or destroy)
                   [--http=127.0.0.1:PORT]  (a web console; its address with a token is printed at start)
                   [--tls=HOST:PORT --ca=CA.pem --cert=CERT.pem --key=KEY.pem [--tls-crl=CRL.pem]]
                     (remote management over mutual TLS 1.3, authority delegated by certificates under CA.pem:
                      fata help remote, fata help cert)
       fata create NAME IMAGE [--net:DEV=BRIDGE[@MAC]] [--block:DEV=VOLUME] [--mem=MB]
                   [--restart-on-fail[=CODE,…]] [--restart=never|always] [--max-restarts=N] [-- BOOT ARGS]
       fata destroy NAME | fata restart NAME | fata list | fata info NAME
       fata update NAME IMAGE [--trial=MS]  (back to the old image if the new one does not stay up MS, default 3000)
       fata console NAME [--since=10m|TIME] [--lines=N] [--follow]
       fata stats NAME [--follow] [--interval=MS]
       fata volume create NAME SIZE | fata volume list | fata volume dump NAME > FILE | fata volume destroy NAME
  Every client command takes --json and --socket=PATH (else FATA_SOCKET, else /run/fata.sock).`;

export const CLIENT_COMMANDS: ReadonlySet<string> = new Set([
  'create',
  'destroy',
  'restart',
  'update',
  'list',
  'info',
  'console',
  'stats',
  'volume',
]);

interface Common {
  /** The daemon: its socket, or its TLS endpoint (fata remote). */
  readonly to: Endpoint;
  readonly json: boolean;
  /** Flags and words other than the common ones, in order. */
  readonly rest: string[];
}

/** Takes --socket and --json out of `argv` (before a `--`); `remote`: the TLS endpoint instead of a socket. */
function common(argv: readonly string[], remote?: Endpoint): Common {
  let socket: string | undefined,
    json = false;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === '--json') json = true;
    else if (a === '--socket') socket = argv[++i];
    else if (a.startsWith('--socket=')) socket = a.slice(9);
    else rest.push(a);
  }
  if (remote && socket !== undefined) throw bad('fata remote: --socket is for a local daemon; the remote one is HOST:PORT');
  return { to: remote ?? socketPath(socket), json, rest };
}

export const bad = (msg: string): FataError => new FataError('FATA_BAD_FLAGS', `${msg}\n${DAEMON_USAGE}`);

/** `64M`, `1G`, `4096`, `512K` → bytes. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+)([KMGT]?)(i?B)?$/i.exec(text);
  if (!m) return undefined;
  const shift = { '': 0, K: 10, M: 20, G: 30, T: 40 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  return Number(m[1]) * 2 ** shift;
}

/** `10m`, `2h`, `30s`, `1d` ago, or an ISO time → milliseconds since the epoch. */
export function parseSince(text: string, now: number): number | undefined {
  const m = /^(\d+)(s|m|h|d)$/.exec(text);
  if (m) return now - Number(m[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[m[2] as 's' | 'm' | 'h' | 'd'];
  const t = Date.parse(text);
  return Number.isNaN(t) ? undefined : t;
}

function restartCodes(text: string): number[] {
  const codes = text.split(',').map(Number);
  if (codes.some((c) => !Number.isInteger(c) || c < 0 || c > 255))
    throw bad(`--restart-on-fail=${text}: exit codes are 0-255, comma-separated`);
  return codes;
}

/**
 * `fata create`'s words → the protocol's spec (the image path made absolute, as the daemon runs elsewhere; without
 * `cwd`, for a remote daemon, it must be absolute already: a path on the daemon's host).
 */
export function parseCreate(words: readonly string[], cwd: string | undefined): CreateSpec {
  const nets: { dev: string; bridge: string; mac?: string }[] = [];
  const blocks: { dev: string; volume: string }[] = [];
  const pos: string[] = [];
  let memMb: number | undefined, restart: RestartPolicy | undefined, maxRestarts: number | undefined;
  const rules: [RegExp, (m: RegExpExecArray) => void][] = [
    [/^--net:([^=]+)=([^@]+)(?:@(.+))?$/, (m) => nets.push({ dev: m[1]!, bridge: m[2]!, ...(m[3] ? { mac: m[3] } : {}) })],
    [/^--block:([^=]+)=(.+)$/, (m) => blocks.push({ dev: m[1]!, volume: m[2]! })],
    [/^--mem=(\d+)$/, (m) => (memMb = Number(m[1]))],
    [/^--restart-on-fail$/, () => (restart = { kind: 'on-failure', codes: [] })],
    [/^--restart-on-fail=(.+)$/, (m) => (restart = { kind: 'on-failure', codes: restartCodes(m[1]!) })],
    [/^--restart=(never|always)$/, (m) => (restart = { kind: m[1] as 'never' | 'always' })],
    [/^--max-restarts=(\d+)$/, (m) => (maxRestarts = Number(m[1]))],
  ];
  let i = 0;
  for (; i < words.length && words[i] !== '--'; i++) {
    const a = words[i]!;
    const rule = rules.find(([re]) => re.test(a));
    if (rule) rule[1](rule[0].exec(a)!);
    else if (a.startsWith('-')) throw bad(`fata create: unknown flag '${a}'`);
    else pos.push(a);
  }
  if (pos.length !== 2) throw bad('fata create: give NAME and IMAGE (boot arguments go after --)');
  return {
    name: pos[0]!,
    image: imagePath(pos[1]!, cwd),
    nets,
    blocks,
    memMb,
    restart,
    maxRestarts,
    bootArgs: words.slice(i + 1),
  };
}

function imagePath(path: string, cwd: string | undefined): string {
  if (cwd !== undefined) return resolve(cwd, path);
  if (!isAbsolute(path))
    throw bad(`fata remote: image '${path}' is a path on the daemon's host, so give it whole (/var/lib/images/web.fata)`);
  return path;
}

function one(rest: readonly string[], cmd: string): string {
  if (rest.length !== 1 || rest[0]!.startsWith('-')) throw bad(`fata ${cmd}: give one NAME`);
  return rest[0]!;
}

const ago = (ms: number | undefined): string => {
  if (ms === undefined) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
};
const mib = (b: unknown): string => (typeof b === 'number' ? `${(b / 1048576).toFixed(1)}M` : '-');

function table(rows: string[][]): string {
  const w = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(w[c]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

type Row = {
  name: string;
  state: string;
  uptimeMs?: number;
  restarts: number;
  memMb: number;
  rssBytes?: number;
  image: { name: string; sha256: string };
};

export function formatList(rows: readonly Row[]): string {
  const head = ['NAME', 'STATE', 'UPTIME', 'RESTARTS', 'RSS', 'MEM', 'IMAGE'];
  return table([
    head,
    ...rows.map((r) => [
      r.name,
      r.state,
      ago(r.uptimeMs),
      String(r.restarts),
      mib(r.rssBytes),
      `${r.memMb}M`,
      `${r.image.sha256.slice(0, 12)} ${r.image.name}`,
    ]),
  ]);
}

const lineText = (l: ConsoleLine): string => `${new Date(l.t).toISOString()} ${l.stream === 'out' ? '' : `[${l.stream}] `}${l.text}`;

interface Signer {
  subject: string;
  issuer: string;
  serial: string;
  notAfter: number;
  daysLeft: number;
}

/** The signer's certificate and its days left, with a warning inside 30 days (openssl x509 -checkend 2592000). */
function signerText(s: Signer): string {
  const left = s.daysLeft < 0 ? `expired ${-s.daysLeft} days ago` : `${s.daysLeft} days left`;
  const warn = s.daysLeft < 30 ? ' — renew it and sign the image again' : '';
  return `${s.subject} (issuer ${s.issuer}, serial ${s.serial}), valid until ${new Date(s.notAfter).toISOString()}, ${left}${warn}`;
}

function formatInfo(r: Record<string, unknown>): string {
  const nets = (r.nets as { dev: string; bridge: string; tap: string; mac: string }[]).map(
    (n) => `${n.dev}=${n.bridge} tap ${n.tap} mac ${n.mac}`,
  );
  const blocks = (r.blocks as { dev: string; volume: string }[]).map((b) => `${b.dev}=${b.volume}`);
  const exit = r.lastExit as { at: number; code: number | null; reason: string } | undefined;
  const image = r.image as { name: string; sha256: string; source: string; manifest?: unknown; signer?: Signer };
  const policy = r.restartPolicy as RestartPolicy;
  const iso = (t: unknown): string => (typeof t === 'number' ? new Date(t).toISOString() : '-');
  return [
    `name:      ${String(r.name)}`,
    `state:     ${String(r.state)}`,
    `created:   ${iso(r.createdAt)}`,
    `started:   ${iso(r.startedAt)} (uptime ${ago(r.uptimeMs as number | undefined)})`,
    `restarts:  ${String(r.restarts)} (in a row: ${String(r.restartsInRow)}; policy ${policy.kind}${policy.kind === 'on-failure' ? ` on ${policy.codes.join(',')}` : ''}${r.maxRestarts ? `, at most ${String(r.maxRestarts)}` : ''})`,
    `last exit: ${exit ? `${exit.code ?? 'signal'} at ${iso(exit.at)}: ${exit.reason}` : '-'}`,
    `memory:    ${String(r.memMb)} MB limit, ${mib(r.rssBytes)} resident`,
    `pids:      tender ${String(r.tenderPid ?? '-')}, engine ${String(r.enginePid ?? '-')}`,
    `nets:      ${nets.join('; ') || '-'}`,
    `blocks:    ${blocks.join('; ') || '-'}`,
    `boot args: ${(r.bootArgs as string[]).join(' ') || '-'}`,
    `image:     ${image.name} sha256 ${image.sha256} (from ${image.source})`,
    `signer:    ${image.signer ? signerText(image.signer) : '- (the daemon checks signatures only with --trust)'}`,
    `manifest:  ${JSON.stringify(image.manifest)}`,
  ].join('\n');
}

type Out = (s: string) => void;

/** A follow request: prints the reply and every event until the unikernel is gone or the user stops it. */
async function follow(c: Common, req: Request, print: (v: unknown, first: boolean) => void): Promise<number> {
  const k = call(c.to, req, (e) => {
    if (e && typeof e === 'object' && 'gone' in e) {
      k.close();
      return;
    }
    print(e, false);
  });
  print(await k.result, true);
  const stop = (): void => k.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await k.closed;
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  return 0;
}

function consoleRequest(c: Common): Request {
  let name: string | undefined,
    sinceMs: number | undefined,
    lines: number | undefined,
    fol = false;
  for (const a of c.rest) {
    const since = /^--since=(.+)$/.exec(a);
    const n = /^--lines=(\d+)$/.exec(a);
    if (a === '--follow' || a === '-f') fol = true;
    else if (since) {
      sinceMs = parseSince(since[1]!, Date.now());
      if (sinceMs === undefined) throw bad(`--since=${since[1]}: write a duration like 10m, 2h, 30s or a time like 2026-11-30T22:00:00Z`);
    } else if (n) lines = Number(n[1]);
    else if (a.startsWith('-') || name !== undefined) throw bad(`fata console: unexpected '${a}'`);
    else name = a;
  }
  if (name === undefined) throw bad('fata console: give a NAME');
  return { op: 'console', name, sinceMs, lines, follow: fol };
}

async function consoleCommand(c: Common, out: Out): Promise<number> {
  const req = consoleRequest(c);
  const print = (v: unknown, first: boolean): void => {
    if (c.json) out(JSON.stringify(v));
    else if (first) for (const l of (v as { lines: ConsoleLine[] }).lines) out(lineText(l));
    else out(lineText(v as ConsoleLine));
  };
  if (req.op === 'console' && req.follow) return follow(c, req, print);
  print(await request(c.to, req), true);
  return 0;
}

function formatStats(v: unknown): string {
  const s = v as {
    name: string;
    state: string;
    engine?: { rssBytes: number; cpuUserMs: number; cpuSystemMs: number };
    nets: Record<string, unknown>[];
    blocks?: Record<string, unknown>[];
  };
  const cpu = s.engine ? `cpu ${s.engine.cpuUserMs}+${s.engine.cpuSystemMs} ms` : 'not running';
  const nets = s.nets.map(
    (n) =>
      `${String(n.dev)}(${String(n.tap)}) out ${String(n.sentPackets ?? '-')}p/${String(n.sentBytes ?? '-')}B in ${String(n.receivedPackets ?? '-')}p/${String(n.receivedBytes ?? '-')}B drops ${String(n.droppedToUnikernel ?? '-')}/${String(n.droppedFromUnikernel ?? '-')}`,
  );
  const blocks = (s.blocks ?? []).map(
    (b) =>
      `${String(b.dev)}(${String(b.volume)}) read ${String(b.reads ?? '-')}x/${String(b.readBytes ?? '-')}B wrote ${String(b.writes ?? '-')}x/${String(b.writtenBytes ?? '-')}B`,
  );
  return [`${s.name} ${s.state} rss ${mib(s.engine?.rssBytes)} ${cpu}`, ...nets, ...blocks].join(' ');
}

async function statsCommand(c: Common, out: Out): Promise<number> {
  const fol = c.rest.some((a) => a === '--follow' || a === '-f');
  const interval = c.rest.map((a) => /^--interval=(\d+)$/.exec(a)?.[1]).find(Boolean);
  const name = one(
    c.rest.filter((a) => !/^(--follow|-f|--interval=\d+)$/.test(a)),
    'stats',
  );
  const req: Request = { op: 'stats', name, follow: fol, intervalMs: interval ? Number(interval) : undefined };
  const print = (v: unknown): void => out(c.json ? JSON.stringify(v) : formatStats(v));
  if (fol) return follow(c, req, print);
  print(await request(c.to, req));
  return 0;
}

async function volumeCommand(c: Common, out: Out, raw: (b: Uint8Array) => void): Promise<number> {
  const [sub, ...args] = c.rest;
  if (sub === 'list') {
    const vols = (await request(c.to, { op: 'volume-list' })) as { name: string; bytes: number; attachedTo?: string }[];
    out(
      c.json
        ? JSON.stringify(vols)
        : table([['NAME', 'SIZE', 'ATTACHED TO'], ...vols.map((v) => [v.name, mib(v.bytes), v.attachedTo ?? '-'])]),
    );
    return 0;
  }
  if (sub === 'create') {
    if (args.length !== 2) throw bad('fata volume create: give NAME and SIZE (like 64M)');
    const bytes = parseSize(args[1]!);
    if (bytes === undefined) throw bad(`fata volume create: size '${args[1]}' is not a size; write it like 64M or 1G`);
    const r = await request(c.to, { op: 'volume-create', name: args[0]!, bytes });
    out(c.json ? JSON.stringify(r) : `volume ${args[0]} created (${mib(bytes)})`);
    return 0;
  }
  if (sub === 'destroy') {
    const r = await request(c.to, { op: 'volume-destroy', name: one(args, 'volume destroy') });
    out(c.json ? JSON.stringify(r) : `volume ${args[0]} destroyed`);
    return 0;
  }
  if (sub === 'dump') {
    const k = call(c.to, { op: 'volume-dump', name: one(args, 'volume dump') }, (e) => {
      const d = (e as { data?: string }).data;
      if (d) raw(Buffer.from(d, 'base64'));
      else k.close();
    });
    await k.result;
    await k.closed;
    return 0;
  }
  throw bad(`fata volume: '${sub ?? ''}' is not one of create, list, dump, destroy`);
}

/** `fata create|destroy|restart|list|info|console|stats|volume …`. */
export async function clientCommand(
  cmd: string,
  argv: readonly string[],
  out: Out,
  raw: (b: Uint8Array) => void,
  remote?: Endpoint,
): Promise<number> {
  const code = await runClient(cmd, argv, out, raw, remote);
  // The CLI exits right after: a pipe on stdout is written asynchronously, so wait until what was written has left
  // (a volume dump or a console to a pipe was cut short without this).
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  return code;
}

async function runClient(cmd: string, argv: readonly string[], out: Out, raw: (b: Uint8Array) => void, remote?: Endpoint): Promise<number> {
  const c = common(argv, remote);
  const cwd = remote ? undefined : process.cwd();
  const show = (r: unknown, text: (r: Record<string, unknown>) => string): number => {
    out(c.json ? JSON.stringify(r) : text(r as Record<string, unknown>));
    return 0;
  };
  switch (cmd) {
    case 'create':
      return show(await request(c.to, { op: 'create', spec: parseCreate(c.rest, cwd) }), (r) => `created ${String(r.name)}`);
    case 'destroy':
      return show(await request(c.to, { op: 'destroy', name: one(c.rest, cmd) }), (r) => `destroyed ${String(r.name)}`);
    case 'restart':
      return show(await request(c.to, { op: 'restart', name: one(c.rest, cmd) }), (r) => `restarted ${String(r.name)}`);
    case 'update': {
      const trial = c.rest.map((a) => /^--trial=(\d+)$/.exec(a)?.[1]).find(Boolean);
      const words = c.rest.filter((a) => !/^--trial=\d+$/.test(a));
      if (words.length !== 2 || words.some((w) => w.startsWith('-'))) throw bad('fata update: give NAME and IMAGE');
      const req: Request = {
        op: 'update',
        name: words[0]!,
        image: imagePath(words[1]!, cwd),
        trialMs: trial ? Number(trial) : undefined,
      };
      return show(await request(c.to, req), (r) => `updated ${String(r.name)} to ${(r.image as { sha256: string }).sha256.slice(0, 12)}`);
    }
    case 'info':
      return show(await request(c.to, { op: 'info', name: one(c.rest, cmd) }), formatInfo);
    case 'list':
      if (c.rest.length) throw bad(`fata list: unexpected '${c.rest[0]}'`);
      return show(await request(c.to, { op: 'list' }), (r) => formatList(r as unknown as Row[]));
    case 'console':
      return consoleCommand(c, out);
    case 'stats':
      return statsCommand(c, out);
    default:
      return volumeCommand(c, out, raw);
  }
}
