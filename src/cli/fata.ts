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

const USAGE = `usage: fata build [-t node|spt] [--net=socket|direct] DIR
       fata run [TENDER FLAGS] [--] IMAGE|DIR [BOOT ARGS]
       fata help

${RUN_USAGE}`;

const say = (s: string): void => {
  process.stderr.write(s.endsWith('\n') ? s : s + '\n');
};

async function build(argv: string[]): Promise<number> {
  let target: 'node' | 'spt' | undefined, net: 'socket' | 'direct' | undefined, dir: string | undefined;
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
  await buildService(dir, { target, net, say });
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
    if (cmd === 'build') return await build(rest);
    if (cmd === 'run') return await runCommand(rest, say);
    if (cmd === 'help' || cmd === '--help' || cmd === '-h') {
      process.stdout.write(USAGE + '\n');
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
