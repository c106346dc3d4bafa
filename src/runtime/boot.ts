/**
 * Boots a service inside its image: parses the boot arguments against the
 * declared parameters, acquires each declared device once by name from the
 * platform, starts the network, runs `main`, and returns the exit code
 * (0, 1, or 255 for an abort, as Solo5). Every target calls this; the
 * platform object is the only way out.
 */
import type { BlockDevice, Clock, Console, NetDevice, Random, Yield } from '../devices/index.ts';
import { helpText, parseBootArgs, type BootArgs } from './args.ts';
import type { MainResult, ServiceConfig } from './config.ts';
import { createLogger } from './log.ts';
import type { Assets, Context, Logger, NetStack } from './types.ts';

export const EXIT_OK = 0;
export const EXIT_FAIL = 1;
export const EXIT_ABORT = 255;

/** What a target hands to the image: devices, time, randomness, and how to wait. */
export interface Platform {
  readonly target: string;
  readonly engine: string;
  readonly console: Console;
  readonly clock: Clock;
  readonly random: Random;
  /** Waits for the next deadline or net input (direct mode). */
  readonly yield: Yield;
  /** Raw network devices by name (direct mode). */
  readonly nets: ReadonlyMap<string, NetDevice>;
  /** A host-socket stack for a net device name (socket mode, node target only). */
  readonly socketStack?: (name: string) => NetStack;
  readonly blocks: ReadonlyMap<string, BlockDevice>;
  readonly assets: ReadonlyMap<string, Assets>;
  /** Resolves when the tender asks the unikernel to stop. */
  readonly stopRequested: Promise<void>;
  /** Ends a `yield` in flight (main has returned: the loop is to stop now, not at its next deadline). */
  readonly wake?: () => void;
  sleep(ms: number): Promise<void>;
}

export interface NetStartOptions {
  /** Devices declared `net({ dhcp: false })`: they need --ipv4. */
  readonly staticOnly?: ReadonlySet<string>;
  /** The name a DHCP client gives for itself (option 12): the service's. */
  readonly hostname?: string;
}

/** How an image brings up its network devices: `direct` or `socket`, chosen at build time. */
export interface NetProvider {
  readonly mode: 'direct' | 'socket';
  /** Makes the stacks; `run` drives them until `stop` says so. */
  start(
    platform: Platform,
    names: readonly string[],
    args: BootArgs,
    log: Logger,
    opts?: NetStartOptions,
  ): { stacks: Map<string, NetStack>; run(stop: () => boolean): Promise<void>; ready?: Promise<void> } | { error: string };
}

export type AnyMain = (devices: Record<string, unknown>, params: Record<string, unknown>, ctx: Context) => MainResult;

export async function boot(
  platform: Platform,
  config: ServiceConfig,
  main: AnyMain,
  argv: readonly string[],
  net: NetProvider | undefined,
): Promise<number> {
  const enc = new TextEncoder();
  const say = (text: string): void => platform.console.write(enc.encode(text));
  const decls = Object.entries(config.devices);
  const netNames = decls.filter(([, d]) => d.type === 'net').map(([n]) => n);
  const args = parseBootArgs(argv, config.params);
  if ('error' in args) {
    say(`${config.name}: ${args.error}\n`);
    return EXIT_FAIL;
  }
  if (args.help) {
    say(helpText(config.name, config.params, netNames.length > 0));
    return EXIT_OK;
  }
  const log = createLogger(platform.console, platform.clock, config.name, args.logs);
  log.info('boot', {
    target: platform.target,
    engine: platform.engine,
    net: net?.mode ?? 'none',
    devices: decls.map(([n, d]) => `${n}:${d.type}`).join(',') || 'none',
  });

  const devices: Record<string, unknown> = {};
  for (const [name, d] of decls) {
    if (d.type === 'block') devices[name] = platform.blocks.get(name);
    else if (d.type === 'assets') devices[name] = platform.assets.get(name);
    if (d.type === 'block' && d.optional && devices[name] === undefined) {
      // Declared optional: main gets undefined, and says what it does without it.
      log.info('device-absent', { device: name, type: d.type });
      continue;
    }
    if (d.type !== 'net' && devices[name] === undefined) {
      log.error('device-missing', { device: name, type: d.type, fix: `attach it with --${d.type}:${name}=…` });
      return EXIT_FAIL;
    }
  }
  let stopped = false;
  let loop: Promise<void> = Promise.resolve();
  if (netNames.length > 0) {
    if (!net) {
      log.error('no-network', { fix: 'rebuild with --net=socket or --net=direct' });
      return EXIT_FAIL;
    }
    const staticOnly = new Set(decls.filter(([, d]) => d.type === 'net' && d.dhcp === false).map(([n]) => n));
    const up = net.start(platform, netNames, args, log, { staticOnly, hostname: config.name });
    if ('error' in up) {
      log.error('net-failed', { reason: up.error });
      return EXIT_FAIL;
    }
    for (const [n, s] of up.stacks) devices[n] = s;
    loop = up.run(() => stopped);
    if (up.ready) {
      // DHCP: main starts once every device has an address (MirageOS waits the same way).
      const r = await Promise.race([up.ready.then(() => 'up' as const), platform.stopRequested.then(() => 'stop' as const)]);
      if (r === 'stop') {
        stopped = true;
        await loop;
        log.info('stop', { reason: 'requested before the network was configured' });
        return EXIT_OK;
      }
    }
  }
  const ctx: Context = {
    name: config.name,
    log,
    clock: platform.clock,
    random: platform.random,
    argv,
    sleep: (ms) => platform.sleep(ms),
  };
  let code: number;
  try {
    const result = await Promise.race([
      Promise.resolve(main(devices, args.params, ctx)),
      platform.stopRequested.then(() => 'stop' as const),
    ]);
    // main's number is the exit status; a stop request, or a main that returns nothing, exits OK.
    code = typeof result === 'number' ? result : EXIT_OK;
    if (result === 'stop') log.info('stop', { reason: 'requested' });
  } catch (e) {
    log.error('abort', {
      error: e instanceof Error ? e.message : String(e),
      stack: e instanceof Error ? e.stack?.split('\n')[1]?.trim() : undefined,
    });
    code = EXIT_ABORT;
  }
  stopped = true;
  platform.wake?.();
  await loop;
  log.info('exit', { code });
  return code;
}
