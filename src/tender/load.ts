/**
 * Compiles an image's bundle into a `start` function without running any of
 * the service's code: the spt bootstrap compiles before it seals and calls
 * `start` after. The bundle may ask for Node built-ins (`node:tls`, …) and
 * nothing else; what those may do is the sandbox's business.
 *
 * Source maps: `fata build` writes the bundle's map beside the image
 * (`NAME.fata.map`), never inside it. When that file is there and was made
 * with this bundle, it is read here — before the seal, while files can
 * still be read — and handed to Node with the code, so that every stack
 * (an abort's, an uncaught error's, any `err.stack` the service prints)
 * names the service's `.ts` files and lines instead of the minified bundle.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import Module, { isBuiltin } from 'node:module';
import { dirname, resolve } from 'node:path';
import type { Platform } from '../runtime/boot.ts';
import { MAP_BUNDLE_FIELD, type Image } from '../build/image.ts';

export type StartFn = (platform: Platform, argv: readonly string[]) => Promise<number>;

/** The line that opens the compiled wrapper: the bundle starts on the line after it. */
const HEAD = 'module.exports = function (exports, require, module) {\n';

/**
 * The source map beside the image at `imagePath` (`IMAGE.map`), made ready to compile with its bundle: its sources
 * as absolute paths, its lines moved down by the wrapper's line. Undefined when there is none, or it maps another
 * bundle (an image rebuilt or copied without its map: better no locations than wrong ones).
 */
export function readSourceMap(imagePath: string, image: Image): string | undefined {
  const file = `${imagePath}.map`;
  if (!existsSync(file)) return undefined;
  try {
    const map = JSON.parse(readFileSync(file, 'utf8')) as { sources?: string[]; sourceRoot?: string; mappings?: string } & Record<
      string,
      unknown
    >;
    const bundle = image.sections.get('bundle')!;
    if (map[MAP_BUNDLE_FIELD] !== createHash('sha256').update(bundle).digest('hex')) return undefined;
    const base = resolve(dirname(file), map.sourceRoot ?? '');
    map.sources = (map.sources ?? []).map((s) => resolve(base, s));
    delete map.sourceRoot;
    map.mappings = `;${map.mappings ?? ''}`;
    return JSON.stringify(map);
  } catch {
    return undefined; // An unreadable map costs the locations, never the boot.
  }
}

type Wrapper = (e: object, r: (id: string) => unknown, m: { exports: object }) => void;

/** Compiles (does not run) the bundle; with a map, as a module Node keeps the map of. */
function compile(image: Image, imagePath: string | undefined, sourceMap: string | undefined): Wrapper {
  const code = new TextDecoder().decode(image.sections.get('bundle')!);
  const filename = imagePath ? resolve(imagePath) : `${image.manifest.name}.fata`;
  let text = `${HEAD}${code}\n};\n`;
  if (sourceMap !== undefined) {
    process.setSourceMapsEnabled(true);
    text += `//# sourceMappingURL=data:application/json;base64,${Buffer.from(sourceMap).toString('base64')}\n`;
  }
  // A module of its own, compiled by Node's CommonJS loader, which reads the map from the text (no file is read).
  const m = new Module(filename) as Module & { _compile(content: string, filename: string): void };
  m.filename = filename;
  m._compile(text, filename);
  return m.exports as Wrapper;
}

export function compileImage(image: Image, imagePath?: string, sourceMap?: string): () => StartFn {
  const wrapper = compile(image, imagePath, sourceMap);
  const requireBuiltin = (id: string): unknown => {
    // `fata build` writes every built-in as `node:NAME`; a bare name of a real built-in (an older image) is the same module.
    if (!isBuiltin(id)) throw new Error(`an image may only require Node built-ins, not '${id}'`);
    return process.getBuiltinModule(id.startsWith('node:') ? id : `node:${id}`);
  };
  return () => {
    const module = { exports: {} as { start?: StartFn } };
    wrapper(module.exports, requireBuiltin, module);
    if (typeof module.exports.start !== 'function') throw new Error('the image has no start function; rebuild it');
    return module.exports.start;
  };
}
