/**
 * Type-level tests, checked by `tsc` in `npm test`: a device or parameter
 * name that the config does not declare must not compile. If one of these
 * lines compiled, its `@ts-expect-error` would itself be an error.
 */
import type { Main } from '../src/runtime/config.ts';
import type pingServe from '../examples/ping-serve/config.ts';
import type hello from '../examples/hello/config.ts';
import type blockTest from '../examples/block-test/config.ts';
import type optionalBlock from './fixtures/optional-block/config.ts';

export const typoInDevice: Main<typeof pingServe> = (devices) => {
  // @ts-expect-error — 'servce' is not a declared device.
  void devices.servce;
  void devices.service.udpBind;
};

export const wrongDeviceKind: Main<typeof blockTest> = (devices) => {
  // @ts-expect-error — 'storage' is a block device, not a network stack.
  void devices.storage.udpBind;
  void devices.storage.blockSize;
};

export const optionalDevice: Main<typeof optionalBlock> = (devices) => {
  // @ts-expect-error — an optional device may be undefined: check before use.
  void devices.store.blockSize;
  void devices.store?.blockSize;
};

export const requiredDevice: Main<typeof blockTest> = (devices) => {
  const b: { blockSize: number } = devices.storage;
  void b;
};

export const paramTypes: Main<typeof hello> = (_d, params) => {
  const n: number = params.times;
  // @ts-expect-error — 'greeting' is a string.
  const g: number = params.greeting;
  // @ts-expect-error — 'greting' is not a declared parameter.
  void params.greting;
  void n;
  void g;
};
