/** Stores over a block device (`fata/storage`): one small document in two slots (`SlotStore`), and an append-only log with compaction (`AppendLog`). */
export * from './slots.ts';
export * from './log.ts';
