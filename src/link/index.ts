/** Link devices for tests and middleware; each is a `NetDevice` and may wrap another. */
export * from './queue.ts';
export * from './pipe.ts';
export * from './switch.ts';
export * from './pcap.ts';
export * from './fault.ts';
export * from './gso.ts';
