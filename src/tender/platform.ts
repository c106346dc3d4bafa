/**
 * Builds the `Platform` an image boots on from host resources: used in
 * process by the node target and, after sealing, by the spt bootstrap.
 */
import type { BlockDevice, NetDevice } from '../devices/index.ts';
import type { Platform } from '../runtime/boot.ts';
import type { Assets, NetStack } from '../runtime/types.ts';
import type { Image } from '../build/image.ts';
import { FdConsole } from '../targets/node/console.ts';
import { NodeRandom, nodeClock, tapYield, type WaitableNetDevice } from '../targets/node/platform.ts';
import { FaultInjector, type FaultOptions } from '../link/fault.ts';
import { SeededRandom } from '../sim/random.ts';

export function imageAssets(image: Image): Map<string, Assets> {
  // Keyed by `asset`, `asset-gzip` or `asset-br`, then device, then path.
  const byDevice = new Map<string, Map<string, Uint8Array>>();
  for (const [name, bytes] of image.sections) {
    const m = /^(asset(?:-gzip|-br)?):([^:]+):(\/.*)$/.exec(name);
    if (!m) continue;
    const key = `${m[1]}:${m[2]}`;
    let files = byDevice.get(key);
    if (!files) {
      files = new Map();
      byDevice.set(key, files);
    }
    files.set(m[3]!, bytes);
  }
  const out = new Map<string, Assets>();
  const none = new Map<string, Uint8Array>();
  for (const d of image.manifest.devices) {
    if (d.type !== 'assets') continue;
    const files = byDevice.get(`asset:${d.name}`) ?? none;
    const gz = byDevice.get(`asset-gzip:${d.name}`) ?? none,
      br = byDevice.get(`asset-br:${d.name}`) ?? none;
    const list = [...files.keys()];
    out.set(d.name, {
      get: (p) => files.get(p),
      list: () => list,
      modifiedMs: d.modifiedMs ?? 0,
      variant: (p, e) => (e === 'br' ? br : gz).get(p),
    });
  }
  return out;
}

export interface HostDevices {
  readonly target: string;
  /** Taps, and the socketpair ends of user-mode links. */
  readonly taps: ReadonlyMap<string, WaitableNetDevice>;
  readonly blocks: ReadonlyMap<string, BlockDevice>;
  readonly socketStack?: (name: string) => NetStack;
  /** Net devices to wrap in Fata's fault injector (both directions). */
  readonly impair?: ReadonlyMap<string, { readonly faults: FaultOptions; readonly seed: number }>;
  /** Where randomness comes from (default: `node:crypto`; the spt bootstrap passes getrandom(2), ../targets/node/native-crypto.ts). */
  readonly randomSource?: (into: Uint8Array) => void;
}

export function makePlatform(image: Image, host: HostDevices): Platform {
  let requestStop: () => void = () => {};
  const stopRequested = new Promise<void>((r) => {
    requestStop = r;
  });
  const onSignal = (): void => {
    requestStop();
    for (const t of host.taps.values()) t.wake();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const nets = new Map<string, NetDevice>();
  for (const [name, tap] of host.taps) {
    const im = host.impair?.get(name);
    // The fault injector works frame by frame: the kernel must not join segments for it.
    if (im) tap.setReceiveOffload(false);
    nets.set(name, im ? new FaultInjector(tap, nodeClock, new SeededRandom(im.seed), im.faults, im.faults) : tap);
  }
  return {
    target: host.target,
    engine: `node ${process.version}`,
    console: new FdConsole(1),
    clock: nodeClock,
    random: new NodeRandom(host.randomSource),
    yield: tapYield(nodeClock, host.taps),
    nets,
    socketStack: host.socketStack,
    blocks: host.blocks,
    assets: imageAssets(image),
    stopRequested,
    wake: () => {
      for (const t of host.taps.values()) t.wake();
    },
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
}
