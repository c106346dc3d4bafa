/**
 * Loaded before every test file (`--import` in the test command). fast-check
 * draws a fresh seed per property and prints it with any counterexample;
 * `FC_SEED=N npm test` replays a whole run with that seed everywhere.
 */
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';

if (process.env.FC_SEED !== undefined) {
  const seed = Number(process.env.FC_SEED);
  if (!Number.isInteger(seed)) throw new Error(`FC_SEED=${process.env.FC_SEED} is not an integer seed`);
  fc.configureGlobal({ seed });
}

/**
 * A test process stopped by a signal (the runner's timeout or cancel, a CI job cancelled) runs none of its
 * `finally` blocks: the network namespaces it made would outlive it. Every test names them with its pid
 * (`fata-PID-N`, `fata-usernet-PID`, …); on SIGTERM, SIGINT or SIGHUP they are removed (with the taps in
 * them) before the process ends as the signal would have ended it. What a test started in them was started
 * to die with it (`DIES_WITH_US` in test/netns.ts).
 */

if (process.getuid?.() === 0) {
  const mine = new RegExp(`(^|-)${process.pid}(-|$)`);
  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
    ['SIGHUP', 129],
  ] as const) {
    process.once(signal, () => {
      const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
      for (const line of list.split('\n')) {
        const name = line.split(' ')[0];
        if (name && mine.test(name)) spawnSync('ip', ['netns', 'del', name]);
      }
      process.exit(code);
    });
  }
}
