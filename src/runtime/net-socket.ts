/**
 * `--net=socket`: the service's network devices are the host's own sockets,
 * supplied by the node target. No Fata stack is bundled in this mode.
 */
import type { NetProvider } from './boot.ts';
import type { NetStack } from './types.ts';

export const socketNet: NetProvider = {
  mode: 'socket',
  start(platform, names, _args, log) {
    const make = platform.socketStack;
    if (!make) return { error: `target '${platform.target}' has no host sockets; build with --net=direct` };
    const stacks = new Map<string, NetStack>();
    for (const n of names) {
      stacks.set(n, make(n));
      log.info('net-up', { device: n, mode: 'socket' });
    }
    return { stacks, run: async () => {} };
  },
};
