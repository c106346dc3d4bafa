/**
 * Compiles an image's bundle into a `start` function without running any of
 * the service's code: the spt bootstrap compiles before it seals and calls
 * `start` after. The bundle may ask for Node built-ins (`node:tls`, …) and
 * nothing else; what those may do is the sandbox's business.
 *
 * Source maps: `fata build` writes the bundle's map beside the image
 * (`NAME.fata.map`), never inside it. When that file is there and was made
 * with this bundle, its text is read here — before the seal, while files
 * can still be read — and kept, so that every stack (an abort's, an
 * uncaught error's, any `err.stack` the service prints) names the
 * service's `.ts` files and lines instead of the minified bundle. It is
 * parsed only when a stack first needs it: handing it to Node with the code
 * (a data URL Node decodes and parses as it compiles) cost 7 ms of a 50 ms
 * boot for a small service and 20 ms for the website, on every boot, for
 * stacks that most runs never print.
 */
import { existsSync, readFileSync } from 'node:fs';
import Module, { isBuiltin, SourceMap } from 'node:module';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Platform } from '../runtime/boot.ts';
import { MAP_BUNDLE_FIELD, sha256Hex, type Image } from '../build/image.ts';

export type StartFn = (platform: Platform, argv: readonly string[]) => Promise<number>;

/** The line that opens the compiled wrapper: the bundle starts on the line after it. */
const HEAD = 'module.exports = function (exports, require, module) {\n';

/**
 * The source map beside the image at `imagePath` (`IMAGE.map`), as text. Undefined when there is none, or it maps
 * another bundle (an image rebuilt or copied without its map: better no locations than wrong ones). Text operations
 * only, no JSON parse: the map of an Express app is 2 MB, and every millisecond here is boot time.
 */
export function readSourceMap(imagePath: string, image: Image, sha256 = sha256Hex): string | undefined {
  const file = `${imagePath}.map`;
  if (!existsSync(file)) return undefined;
  try {
    const text = readFileSync(file, 'utf8');
    const tag = `"${MAP_BUNDLE_FIELD}":"`;
    const at = text.lastIndexOf(tag);
    const sha = sha256(image.sections.get('bundle')!);
    if (at < 0 || text.slice(at + tag.length, at + tag.length + 64) !== sha) return undefined;
    return text;
  } catch {
    return undefined; // An unreadable map costs the locations, never the boot.
  }
}

/** What V8 prints for an error's first line; never throws (a hostile `toString` gets the plain name). */
function errorHeader(err: unknown): string {
  try {
    return Error.prototype.toString.call(err);
  } catch {
    return 'Error';
  }
}

/**
 * Stacks through the bundle's source map, in the format Node prints with `--enable-source-maps`: the location of a
 * frame in the bundle becomes the service's file, line and column, and a minified function name the original one
 * where the map has it (the enclosing function's, else the one at the caller's call); all else stays as V8 writes
 * it. The map is parsed at the first stack with a frame in the bundle; a map that does not parse leaves the stacks as
 * V8 writes them. `line0` is the bundle's first line in the compiled text (the wrapper's line comes before it).
 *
 * An uncaught error is reported as Node reports it (the line that made it quoted, the stack, Node's version; exit
 * code 1), with the quoted line from the service's source rather than the minified bundle — unless the service
 * listens for uncaught errors itself, which then decides.
 */
function mapStacks(filename: string, mapText: string, line0: number): void {
  let map: SourceMap | null | undefined;
  const source = (s: string): string => (s.startsWith('file://') ? fileURLToPath(s) : resolve(dirname(filename), s));
  /** The line each error was made on, quoted as Node quotes it, for the uncaught-error report. */
  const quoted = new WeakMap<object, string>();
  type Entry = { originalSource: string; originalLine: number; originalColumn: number; name?: string };
  const entry = (line: number | null, column: number | null): Entry | undefined => {
    if (map === undefined) {
      try {
        map = new SourceMap(JSON.parse(mapText));
      } catch {
        map = null;
      }
    }
    if (!map || line === null || column === null || line < line0) return undefined;
    const e = map.findEntry(line - line0, column - 1) as Partial<Entry>;
    return typeof e?.originalSource === 'string' && typeof e.originalLine === 'number' && typeof e.originalColumn === 'number'
      ? (e as Entry)
      : undefined;
  };
  const quote = (e: Entry): string | undefined => {
    const payload = map?.payload as { sources?: string[]; sourcesContent?: (string | null)[] } | undefined;
    const i = payload?.sources?.indexOf(e.originalSource) ?? -1;
    const text = i >= 0 ? payload?.sourcesContent?.[i] : undefined;
    const line = typeof text === 'string' ? text.split(/\r?\n/, e.originalLine + 1)[e.originalLine] : undefined;
    if (line === undefined) return undefined;
    const pad = line.slice(0, e.originalColumn).replace(/[^\t]/g, ' ');
    return `${source(e.originalSource)}:${e.originalLine + 1}\n${line}\n${pad}^\n\n`;
  };
  Error.prepareStackTrace = (err: unknown, sites: NodeJS.CallSite[]): string => {
    let out = errorHeader(err);
    for (let i = 0; i < sites.length; i++) {
      const site = sites[i]!;
      let frame = `${site}`;
      const line = site.getLineNumber(),
        column = site.getColumnNumber();
      const e = site.getFileName() === filename ? entry(line, column) : undefined;
      if (e) {
        const from = `${filename}:${line}:${column}`,
          to = `${source(e.originalSource)}:${e.originalLine + 1}:${e.originalColumn + 1}`;
        const at = frame.lastIndexOf(from);
        if (at >= 0) {
          const caller = sites[i + 1];
          const name =
            entry(site.getEnclosingLineNumber?.() ?? null, site.getEnclosingColumnNumber?.() ?? null)?.name ||
            (caller?.getFileName() === filename ? entry(caller.getLineNumber(), caller.getColumnNumber())?.name : undefined);
          let head = frame.slice(0, at);
          const minified = site.getFunctionName();
          if (name && minified && minified !== name) {
            const k = head.lastIndexOf(minified);
            if (k >= 0) head = head.slice(0, k) + name + head.slice(k + minified.length);
          } else if (name && !minified && head === '') {
            head = `${name} (`;
            frame = `${frame})`;
          }
          frame = head + to + frame.slice(at + from.length);
        }
        if (i === 0 && err !== null && typeof err === 'object' && !quoted.has(err)) {
          const q = quote(e);
          if (q) quoted.set(err, q);
        }
      }
      out += `\n    at ${frame}`;
    }
    return out;
  };
  process.on('uncaughtException', function fatal(err: unknown, origin: string): void {
    if (process.listenerCount('uncaughtException') > 1) return; // The service listens: it decides.
    const stack = err instanceof Error && typeof err.stack === 'string' ? err.stack : undefined;
    const q = err !== null && typeof err === 'object' ? (quoted.get(err) ?? '') : '';
    // (No node:util inspect: importing node:util into the bootstrap makes Node open stderr as a non-blocking pipe, and
    // the sealed engine's exit, finding the flag changed, is refused its restoring and aborts.)
    let shown: string;
    try {
      shown = typeof err === 'string' ? JSON.stringify(err) : String(err);
    } catch {
      shown = Object.prototype.toString.call(err);
    }
    const what = stack ?? `${origin === 'unhandledRejection' ? 'Unhandled rejection' : 'Uncaught'} ${shown}`;
    process.stderr.write(`${q}${what}\n\nNode.js ${process.version}\n`);
    process.exit(1);
  });
}

type Wrapper = (e: object, r: (id: string) => unknown, m: { exports: object }) => void;

/** Compiles (does not run) the bundle; with a map, as a module Node keeps the map of. */
function compile(image: Image, imagePath: string | undefined, sourceMap: string | undefined): Wrapper {
  const code = new TextDecoder().decode(image.sections.get('bundle')!);
  // Both tenders pass an absolute path. Path operations are kept off the boot path where they are not needed: the engine's
  // own loading of the bootstrap runs its path code nearly often enough to have V8 optimize it, and the first optimization
  // of a boot brings 2.4 MiB of the optimizing compilers' code into memory (docs/profiling.md, "Boot: what the engine touches").
  let filename = `${image.manifest.name}.fata`;
  if (imagePath) filename = isAbsolute(imagePath) ? imagePath : resolve(imagePath);
  const text = `${HEAD}${code}\n};\n`;
  if (sourceMap !== undefined) mapStacks(filename, sourceMap, 2);
  // A module of its own, compiled by Node's CommonJS loader.
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
