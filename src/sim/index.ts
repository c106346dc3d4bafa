/** Whole-network simulation: virtual clock, seeded random, deterministic scheduler. */
export * from './clock.ts';
export * from './random.ts';
export * from './scheduler.ts';
