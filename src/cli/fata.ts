/**
 * The `fata` command: `fata build` and `fata run`. Errors that reach the
 * user carry a stable code and say what to do; exit codes follow Solo5's
 * tenders (0, 1, 255 for an abort).
 */
// @ts-expect-error -- plain JavaScript on purpose (see the file); typed by its JSDoc.
import { hostEntry } from '../host/bundle-cache.mjs';
import { ensureNativeTender } from '../host/native.ts';
import { buildService } from '../build/build.ts';
import { runCommand } from '../tender/run.ts';
import { RUN_USAGE } from '../tender/flags.ts';
import { FataError } from '../host/errors.ts';
import { INIT_USAGE, initCommand } from './init.ts';
import { CLIENT_COMMANDS, clientCommand, DAEMON_USAGE } from '../daemon/commands.ts';
import { daemonCommand } from '../daemon/daemon.ts';
import { CERT_USAGE, certCommand, SIGN_USAGE, signCommand, VERIFY_USAGE, verifyCommand } from './trust.ts';
import { NET_USAGE, netCommand } from './net.ts';
import { RELAY_USAGE, relayCommand } from './relay.ts';
import { POLICY_USAGE, policyCommand } from '../policy/command.ts';
import { DELEGATE_USAGE, delegateCommand } from './delegate.ts';
import { REMOTE_USAGE, remoteCommand } from './remote.ts';

const USAGE = `usage: fata build [-t node|spt] [--net=socket|direct] [--no-typecheck] DIR
       fata run [TENDER FLAGS] [--] IMAGE|DIR [BOOT ARGS]
       fata init [--fata=SPEC] NAME
       fata sign --key KEY.pem --cert CERT.pem [--chain CHAIN.pem] IMAGE
       fata verify --trust CA.pem [--crl CRL.pem] IMAGE
       fata cert check [--days N] CERT.pem
       fata cert ca|delegate|client|server|crl …  (certificates for remote management: fata help cert)
       fata daemon | create | destroy | restart | list | info | console | stats | volume  (see fata help daemon)
       fata remote --cert C --key K --ca CA HOST:PORT COMMAND …  (a daemon's TLS endpoint, delegated authority)
       fata net create|list|destroy|forward|unforward …
       fata policy check|apply [--dry-run] FILE  (the whole host declared in one file: docs/policy.md)
       fata relay --a=TAP --b=TAP [--impair=SPEC]
       fata help [COMMAND]
fata COMMAND --help (or fata help COMMAND) says more about one command.`;

const BUILD_HELP = `  Type-checks the service in folder DIR (its config.ts, the main module it names and what they
  import from DIR), then bundles it into one image, DIR/dist/NAME.fata, with its source map beside
  it (DIR/dist/NAME.fata.map), and prints the image's size by part. A type error stops the build.
  -t, --target=node|spt  node: runs in the fata process (default); spt: a sealed engine of its own
  --net=socket|direct    socket: the host's sockets (the default on node); direct: Fata's TCP/IP
                         on a tap (the default, and the only choice, on spt)
  --no-typecheck         bundle without type-checking`;

/** Each command's usage, for `fata COMMAND --help` and `fata help COMMAND`. */
const HELP: Readonly<Record<string, () => string>> = {
  build: () => `${USAGE.split('\n')[0]}\n${BUILD_HELP}`,
  run: () => `${RUN_USAGE}\n  A folder is built first (quietly: fata build DIR shows the sizes).`,
  init: () => INIT_USAGE,
  sign: () => SIGN_USAGE,
  verify: () => VERIFY_USAGE,
  cert: () => `${CERT_USAGE}\n${DELEGATE_USAGE}`,
  remote: () => REMOTE_USAGE,
  net: () => NET_USAGE,
  ...Object.fromEntries(['daemon', ...CLIENT_COMMANDS].map((c) => [c, () => DAEMON_USAGE])),
  relay: () => RELAY_USAGE,
  policy: () => POLICY_USAGE,
};

const isHelp = (a: string | undefined): boolean => a === '--help' || a === '-h';

/** Whether `fata CMD ARGS` asks for CMD's usage: --help among fata's own arguments (for run, before the image). */
function asksHelp(cmd: string, args: readonly string[]): boolean {
  if (cmd !== 'run') return args.some(isHelp);
  for (const a of args) {
    if (a === '--' || !a.startsWith('-')) return false;
    if (isHelp(a)) return true;
  }
  return false;
}

const say = (s: string): void => {
  process.stderr.write(s.endsWith('\n') ? s : s + '\n');
};

async function build(argv: string[]): Promise<number> {
  let target: 'node' | 'spt' | undefined, net: 'socket' | 'direct' | undefined, dir: string | undefined;
  let typecheck = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-t' || a.startsWith('--target=')) {
      const v = a === '-t' ? argv[++i] : a.slice(9);
      if (v !== 'node' && v !== 'spt') {
        say(`fata build: target '${v}' is not one of node, spt\n${USAGE}`);
        return 1;
      }
      target = v;
    } else if (a.startsWith('--net=')) {
      const v = a.slice(6);
      if (v !== 'socket' && v !== 'direct') {
        say(`fata build: --net=${v} is not one of socket, direct`);
        return 1;
      }
      net = v;
    } else if (a === '--no-typecheck') {
      typecheck = false;
    } else if (a.startsWith('-')) {
      say(`fata build: unknown flag '${a}'\n${USAGE}`);
      return 1;
    } else if (dir === undefined) {
      dir = a;
    } else {
      say(`fata build: one folder at a time ('${dir}' and '${a}')`);
      return 1;
    }
  }
  if (!dir) {
    say(`fata build: which service folder?\n${USAGE}`);
    return 1;
  }
  await buildService(dir, { target, net, say, typecheck });
  if (target === 'spt') {
    // Ready the fast path now, so that the first `fata run` of this image already starts one engine.
    await (hostEntry as (n: string) => Promise<string>)('bootstrap');
    const t = ensureNativeTender();
    if ('error' in t) say(`build: note: ${t.error}`);
  }
  return 0;
}

export async function cli(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd !== undefined && HELP[cmd] && asksHelp(cmd, rest)) {
      process.stdout.write(`${HELP[cmd]!()}\n`);
      return 0;
    }
    if (cmd === 'init') return initCommand(rest, say);
    if (cmd === 'sign') return await signCommand(rest, say);
    if (cmd === 'verify') return await verifyCommand(rest, say);
    if (cmd === 'cert')
      return ['ca', 'delegate', 'client', 'server', 'crl'].includes(rest[0] ?? '')
        ? await delegateCommand(rest[0]!, rest.slice(1), (s) => process.stdout.write(`${s}\n`))
        : certCommand(rest, say);
    if (cmd === 'remote')
      return await remoteCommand(
        rest,
        (s) => process.stdout.write(`${s}\n`),
        (b) => process.stdout.write(b),
      );
    if (cmd === 'net') return await netCommand(rest, say);
    if (cmd === 'relay') return await relayCommand(rest);
    if (cmd === 'policy') return await policyCommand(rest, say, (s) => process.stdout.write(`${s}\n`));
    if (cmd === 'build') return await build(rest);
    if (cmd === 'run') return await runCommand(rest, say);
    if (cmd === 'daemon') return await daemonCommand(rest, say);
    if (cmd !== undefined && CLIENT_COMMANDS.has(cmd))
      return await clientCommand(
        cmd,
        rest,
        (s) => process.stdout.write(`${s}\n`),
        (b) => process.stdout.write(b),
      );
    if (cmd === 'help' || isHelp(cmd)) {
      const topic = cmd === 'help' ? rest[0] : undefined;
      if (topic !== undefined && !HELP[topic]) {
        say(`fata help: no command '${topic}'\n${USAGE}`);
        return 1;
      }
      process.stdout.write(`${topic ? HELP[topic]!() : USAGE}\n`);
      return 0;
    }
    say(cmd ? `fata: unknown command '${cmd}'\n${USAGE}` : USAGE);
    return 1;
  } catch (e) {
    if (e instanceof FataError) {
      say(`fata: error ${e.code}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
