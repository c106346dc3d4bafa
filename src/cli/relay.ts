/** `fata relay`: an impaired link between two taps (src/tender/relay.ts). */
import { FataError } from '../host/errors.ts';
import { parseImpair } from '../tender/flags.ts';
import { describeCounters, openRelay } from '../tender/relay.ts';

export const RELAY_USAGE = `usage: fata relay --a=TAP[,create] --b=TAP[,create] [--impair=SPEC] [--stats=SECONDS]
  Relays Ethernet frames between two taps, both ways, through Fata's fault injector: a user-space netem.
  SPEC: delay=50ms,jitter=5ms,loss=1%,reorder=10%,duplicate=0.1%,corrupt=0.1%,rate=100mbit,queue=1000,seed=N
        (the same for each direction; a→b draws from seed N, b→a from N+1: the same seed, the same faults).
  ,create makes the tap for the relay's life (a tap keeps its relay when moved to another namespace).
  Counts per fault and direction go to stdout every --stats seconds and at exit (SIGINT, SIGTERM).`;

function value(argv: string[], i: number, name: string): [string, number] {
  const a = argv[i]!;
  if (a.startsWith(`${name}=`)) return [a.slice(name.length + 1), i];
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('-')) throw new FataError('FATA_RELAY_ARGS', `${name} needs a value\n${RELAY_USAGE}`);
  return [v, i + 1];
}

export async function relayCommand(argv: string[]): Promise<number> {
  const got: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const name = ['--a', '--b', '--impair', '--stats'].find((n) => argv[i] === n || argv[i]!.startsWith(`${n}=`));
    if (!name) throw new FataError('FATA_RELAY_ARGS', `unknown argument '${argv[i]}'\n${RELAY_USAGE}`);
    [got[name], i] = value(argv, i, name);
  }
  if (!got['--a'] || !got['--b']) throw new FataError('FATA_RELAY_ARGS', `both --a and --b are needed\n${RELAY_USAGE}`);
  const impair = got['--impair'] ? parseImpair(got['--impair']) : { faults: {}, seed: 1 };
  if ('error' in impair) throw new FataError('FATA_RELAY_ARGS', `--impair: ${impair.error}`);
  const stats = Number(got['--stats'] ?? 0);
  if (!Number.isFinite(stats) || stats < 0) throw new FataError('FATA_RELAY_ARGS', `--stats=${got['--stats']} is a number of seconds`);
  const [a, aOpt] = got['--a'].split(',');
  const [b, bOpt] = got['--b'].split(',');
  for (const o of [aOpt, bOpt])
    if (o !== undefined && o !== 'create') throw new FataError('FATA_RELAY_ARGS', `the only option after a tap is ',create'`);
  const relay = openRelay({ a: a!, b: b!, createA: aOpt === 'create', createB: bOpt === 'create', ...impair });
  const print = (): void => {
    process.stdout.write(`event=relay-stats ${describeCounters('a-b', relay.counters.ab)}\n`);
    process.stdout.write(`event=relay-stats ${describeCounters('b-a', relay.counters.ba)}\n`);
  };
  const timer = stats > 0 ? setInterval(print, stats * 1000) : undefined;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => relay.stop());
  process.stdout.write(`event=relaying a=${a} b=${b} seed=${impair.seed} impair=${got['--impair'] ?? 'none'}\n`);
  await relay.run();
  if (timer) clearInterval(timer);
  print();
  return 0;
}
