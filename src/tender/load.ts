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
import { resolve } from 'node:path';
import type { Platform } from '../runtime/boot.ts';
import { MAP_BUNDLE_FIELD, type Image } from '../build/image.ts';

export type StartFn = (platform: Platform, argv: readonly string[]) => Promise<number>;

/** The line that opens the compiled wrapper: the bundle starts on the line after it. */
const HEAD = 'module.exports = function (exports, require, module) {\n';

/**
 * The source map beside the image at `imagePath` (`IMAGE.map`), made ready to compile with its bundle: its lines
 * moved down by the wrapper's line. Undefined when there is none, or it maps another bundle (an image rebuilt or
 * copied without its map: better no locations than wrong ones). Text operations only, no JSON parse (Node parses it
 * once, as it compiles): the map of an Express app is 2 MB, and every millisecond here is boot time. Its sources are
 * relative to the map's folder, which is the image's: Node resolves them against the image's path.
 */
export function readSourceMap(imagePath: string, image: Image): string | undefined {
  const file = `${imagePath}.map`;
  if (!existsSync(file)) return undefined;
  try {
    const text = readFileSync(file, 'utf8');
    const tag = `"${MAP_BUNDLE_FIELD}":"`;
    const at = text.lastIndexOf(tag);
    const sha = createHash('sha256').update(image.sections.get('bundle')!).digest('hex');
    if (at < 0 || text.slice(at + tag.length, at + tag.length + 64) !== sha) return undefined;
    const mappings = text.indexOf('"mappings":"');
    if (mappings < 0) return undefined;
    return `${text.slice(0, mappings + 12)};${text.slice(mappings + 12)}`;
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
