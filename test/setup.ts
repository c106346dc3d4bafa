/**
 * Loaded before every test file (`--import` in the test command). fast-check
 * draws a fresh seed per property and prints it with any counterexample;
 * `FC_SEED=N npm test` replays a whole run with that seed everywhere.
 */
import fc from 'fast-check';

if (process.env.FC_SEED !== undefined) {
  const seed = Number(process.env.FC_SEED);
  if (!Number.isInteger(seed)) throw new Error(`FC_SEED=${process.env.FC_SEED} is not an integer seed`);
  fc.configureGlobal({ seed });
}
