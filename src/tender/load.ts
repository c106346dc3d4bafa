/**
 * Compiles an image's bundle into a `start` function without running any of
 * the service's code: the spt bootstrap compiles before it seals and calls
 * `start` after. The bundle may ask for Node built-ins (`node:tls`, …) and
 * nothing else; what those may do is the sandbox's business.
 */
import { runInThisContext } from 'node:vm';
import type { Platform } from '../runtime/boot.ts';
import type { Image } from '../build/image.ts';

export type StartFn = (platform: Platform, argv: readonly string[]) => Promise<number>;

export function compileImage(image: Image): () => StartFn {
  const code = new TextDecoder().decode(image.sections.get('bundle')!);
  const wrapper = runInThisContext(`(function (exports, require, module) {${code}\n})`, { filename: `${image.manifest.name}.fata` }) as (
    e: object,
    r: (id: string) => unknown,
    m: { exports: object },
  ) => void;
  const requireBuiltin = (id: string): unknown => {
    if (!id.startsWith('node:')) throw new Error(`an image may only require Node built-ins, not '${id}'`);
    return process.getBuiltinModule(id);
  };
  return () => {
    const module = { exports: {} as { start?: StartFn } };
    wrapper(module.exports, requireBuiltin, module);
    if (typeof module.exports.start !== 'function') throw new Error('the image has no start function; rebuild it');
    return module.exports.start;
  };
}
