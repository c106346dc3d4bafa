/**
 * `fata build`: a service folder → one reproducible image. Loads
 * `DIR/config.ts`, generates the entry that joins the service's `main` to
 * the runtime and the chosen network provider, bundles it with esbuild
 * (minified, tree-shaken: a socket-mode image carries no TCP/IP stack),
 * crunches asset folders into sections, and writes `DIR/dist/NAME.fata`.
 */
import type { Metafile } from 'esbuild';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { devCertFor } from './devcert.ts';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FATA_ROOT } from '../host/paths.ts';
import { FataError } from '../host/errors.ts';
import type { AssetsDecl, ServiceConfig } from '../runtime/config.ts';
import { MAP_BUNDLE_FIELD, writeImage, type ImageManifest } from './image.ts';
import { builtinsPlugin, unsealableUses } from './builtins.ts';
import { typeCheck } from './typecheck.ts';

const RUNTIME = join(FATA_ROOT, 'src/runtime');
/** Text that compresses: these get gzip and brotli variants in the image. */
const COMPRESSIBLE = /\.(html?|css|m?js|json|svg|txt|xml|md|map|webmanifest|csv|ico|wasm)$/i;

export interface BuildOptions {
  readonly target?: 'node' | 'spt';
  readonly net?: 'socket' | 'direct';
  /** Called with progress lines. */
  readonly say?: (line: string) => void;
  /** Type-check the service's files before bundling (default true); a type error stops the build. */
  readonly typecheck?: boolean;
}

export interface BuildResult {
  readonly path: string;
  readonly bytes: Uint8Array;
  readonly manifest: ImageManifest;
  /** The bundle's source map, beside the image: `PATH.map`. */
  readonly mapPath: string;
  /** Milliseconds the type check took (undefined when skipped). */
  readonly typecheckMs?: number;
  /** Size by part: `bundle:service`, `bundle:fata/net`, `assets:htdocs`, … */
  readonly sizes: Record<string, number>;
}

/** 2000-01-01T00:00:00Z and 20 years in seconds: the window a content-derived Last-Modified falls in. */
const CONTENT_EPOCH_S = 946_684_800;
const CONTENT_SPAN_S = 631_152_000;

/**
 * When an assets device "last changed", in whole-second ms. SOURCE_DATE_EPOCH
 * when the build has it (the reproducible-builds convention: a real date,
 * e.g. the last commit's). Otherwise a date derived from the device's
 * content (paths and bytes): never from file mtimes, which record when a
 * folder was copied or checked out, not what it holds, so two copies of one
 * folder would give two images. The content date is a past date (2000-2019,
 * so never later than the Date header) that changes whenever any file does;
 * it only says "same content or not", which is all the server needs:
 * static.ts answers If-Modified-Since with 304 only for this exact date
 * (nginx's `if_modified_since exact`), as "earlier than" means nothing for a
 * date taken from a hash; ETags come from each file's bytes anyway.
 */
export function assetsModifiedMs(contentSha256: Uint8Array, sourceDateEpoch: string | undefined): number {
  if (sourceDateEpoch && /^\d+$/.test(sourceDateEpoch)) return Number(sourceDateEpoch) * 1000;
  const n = ((contentSha256[0]! << 24) | (contentSha256[1]! << 16) | (contentSha256[2]! << 8) | contentSha256[3]!) >>> 0;
  return (CONTENT_EPOCH_S + (n % CONTENT_SPAN_S)) * 1000;
}

export async function loadConfig(dir: string): Promise<ServiceConfig> {
  const file = resolve(dir, 'config.ts');
  if (!existsSync(file)) throw new FataError('FATA_NO_CONFIG', `${dir} has no config.ts; a service folder needs one (see examples/hello)`);
  let mod: { default?: ServiceConfig };
  try {
    mod = (await import(pathToFileURL(file).href)) as { default?: ServiceConfig };
  } catch (e) {
    throw new FataError('FATA_BAD_CONFIG', `${file} failed to load: ${(e as Error).message}`);
  }
  if (!mod.default?.name) throw new FataError('FATA_BAD_CONFIG', `${file} must 'export default service({...})'`);
  return mod.default;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir).sort()) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

/** Groups a bundle's bytes by where they came from. */
function bundleSizes(meta: Metafile, root: string): Record<string, number> {
  const sizes: Record<string, number> = {};
  for (const out of Object.values(meta.outputs)) {
    for (const [input, info] of Object.entries(out.inputs)) {
      const abs = resolve(root, input);
      const rel = relative(resolve(RUNTIME, '..'), abs);
      const part = rel.startsWith('..') ? 'service' : `fata/${rel.split('/')[0]}`;
      sizes[`bundle:${part}`] = (sizes[`bundle:${part}`] ?? 0) + info.bytesInOutput;
    }
  }
  return sizes;
}

/** The runtime module that gives a service its net devices, by how the image reaches the network. */
const NET_PROVIDER = { direct: ['directNet', 'net-direct.ts'], socket: ['socketNet', 'net-socket.ts'] } as const;

/** The bundle's entry: the service's config and main, the runtime's boot and, when the service has a net device, its provider. */
function entrySource(dir: string, mainFile: string, provider: readonly [string, string] | undefined): string {
  return [
    `import config from ${JSON.stringify('./' + relative(dir, resolve(dir, 'config.ts')))};`,
    `import { main } from ${JSON.stringify('./' + relative(dir, mainFile))};`,
    `import { boot } from ${JSON.stringify(join(RUNTIME, 'boot.ts'))};`,
    provider ? `import { ${provider[0]} as net } from ${JSON.stringify(join(RUNTIME, provider[1]))};` : 'const net = undefined;',
    'export function start(platform, argv) { return boot(platform, config, main, argv, net); }',
  ].join('\n');
}

/**
 * Adds one assets device's files to `sections`, each also precompressed where that saves a tenth; returns the bytes
 * added and the date that serving them gives as Last-Modified.
 */
function addAssets(
  sections: [string, Uint8Array][],
  dir: string,
  name: string,
  d: AssetsDecl,
  say: BuildOptions['say'],
): { total: number; compressed: number; modifiedMs: number } {
  const root = resolve(dir, d.dir);
  if (!existsSync(root) && !d.devCert)
    throw new FataError('FATA_NO_ASSETS', `assets device '${name}' names folder '${d.dir}', which does not exist in ${dir}`);
  let total = 0,
    compressed = 0;
  const content = createHash('sha256');
  const files = existsSync(root) ? walk(root) : [];
  const add = (path: string, b: Uint8Array): void => {
    sections.push([`asset:${name}:${path}`, b]);
    content.update(`${path}\0${b.length}\0`).update(b);
    total += b.length;
    if (d.compress === false || !COMPRESSIBLE.test(path) || b.length < 256) return;
    // Precompressed once here, so the service never compresses at run time (nginx's gzip_static).
    const gz = gzipSync(b, { level: 9 });
    if (gz.length < b.length * 0.9) {
      sections.push([`asset-gzip:${name}:${path}`, gz]);
      compressed += gz.length;
    }
    const br = brotliCompressSync(b, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: b.length } });
    if (br.length < b.length * 0.9) {
      sections.push([`asset-br:${name}:${path}`, br]);
      compressed += br.length;
    }
  };
  for (const f of files) add(`/${relative(root, f).split('\\').join('/')}`, readFileSync(f));
  if (d.devCert && !(existsSync(join(root, 'cert.pem')) && existsSync(join(root, 'key.pem')))) {
    const c = devCertFor(dir, say);
    add('/cert.pem', Buffer.from(c.cert));
    add('/key.pem', Buffer.from(c.key));
  }
  // Last-Modified for what is served: SOURCE_DATE_EPOCH, else a date derived from the content (see assetsModifiedMs).
  return { total, compressed, modifiedMs: assetsModifiedMs(content.digest(), process.env.SOURCE_DATE_EPOCH) };
}

/** Type-checks the service's own files; a type error stops the build with each error's file, line and column. */
async function checkTypes(dir: string, files: string[], say: BuildOptions['say']): Promise<number> {
  const { errors, ms, cached } = await typeCheck(dir, files);
  if (errors.length > 0) {
    const n = errors.length === 1 ? 'a type error' : `${errors.length} type errors`;
    throw new FataError(
      'FATA_TYPE_ERROR',
      `${n} in ${relative(process.cwd(), dir) || '.'}; fix ${errors.length === 1 ? 'it' : 'them'}, or build with --no-typecheck:\n${errors.join('\n')}`,
    );
  }
  say?.(cached ? 'build: types unchanged since the last check' : `build: type-checked in ${Math.round(ms)} ms`);
  return ms;
}

/** True for a file of the service's own: inside its folder, not in a package. */
const ownSource = (dir: string, file: string): boolean => file.startsWith(`${dir}/`) && !file.slice(dir.length).includes('/node_modules/');

/** Bundles the entry: minified, tree-shaken, one CommonJS file, with its source map and the metafile. */
async function bundleService(dir: string, entry: string, name: string): Promise<{ bundle: Uint8Array; map: string; metafile: Metafile }> {
  // Loaded here, not at the top: running an image should not pay for the bundler.
  const { build: esbuild } = await import('esbuild');
  const result = await esbuild({
    stdin: { contents: entry, resolveDir: dir, loader: 'ts', sourcefile: 'fata-entry.ts' },
    bundle: true,
    write: false,
    // Not written (write: false): it places the source map's paths, relative to dist/, where the map is kept.
    outfile: join(dir, 'dist', `${name}.js`),
    sourcemap: 'external',
    // The sources in the map (the service's, below): an uncaught error's report quotes the line that threw (a sealed
    // engine reads no files).
    sourcesContent: true,
    minify: true,
    // Short lines: Node's report of an uncaught error quotes the generated line when it cannot show the source (a
    // package's, sealed), and a minified bundle is otherwise a few lines of hundreds of kilobytes each.
    lineLimit: 160,
    treeShaking: true,
    format: 'cjs',
    platform: 'node',
    target: 'node24',
    legalComments: 'none',
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: dir,
    charset: 'utf8',
    // Node built-ins come from the engine at run time, each under its node: name; the sandbox decides what they may do.
    plugins: [builtinsPlugin],
    external: ['node:*'],
  }).catch((e: Error) => {
    throw new FataError('FATA_BUNDLE', `bundling ${name} failed:\n${e.message}`);
  });
  const bundle = result.outputFiles.find((f) => f.path.endsWith('.js'))!.contents;
  const map = JSON.parse(result.outputFiles.find((f) => f.path.endsWith('.map'))!.text) as Record<string, unknown>;
  // The service's own sources only: packages' and Fata's would triple an Express app's map, and Node parses it all as
  // it loads the image (boot time). A line of theirs that throws is quoted from its file where the engine can read it.
  const sources = map.sources as string[];
  const outDir = join(dir, 'dist');
  map.sourcesContent = (map.sourcesContent as (string | null)[]).map((c, i) => (ownSource(dir, resolve(outDir, sources[i]!)) ? c : null));
  map[MAP_BUNDLE_FIELD] = createHash('sha256').update(bundle).digest('hex');
  return { bundle, map: JSON.stringify(map), metafile: result.metafile };
}

/** A built-in the seal refuses outright stops an spt build, naming the modules that pulled it in; a node build is warned. */
function checkBuiltins(meta: Metafile, target: 'node' | 'spt', name: string, say: BuildOptions['say']): void {
  const uses = unsealableUses(meta);
  if (uses.length === 0) return;
  const lines = uses.map((u) => `'${u.module}' (${u.why}), pulled in by ${u.chain.join(' → ')}`);
  if (target === 'spt')
    throw new FataError(
      'FATA_UNSEALABLE',
      `${name} imports a Node built-in that cannot work in a sealed unikernel:\n  ${lines.join('\n  ')}\nremove that import (or the package that makes it), or build for the node target, which is not sealed`,
    );
  say?.(`build: warning: the spt target will refuse ${lines.join('; ')}`);
}

export async function buildService(dirArg: string, opts: BuildOptions = {}): Promise<BuildResult> {
  const dir = resolve(dirArg);
  const target = opts.target ?? 'node';
  const net = opts.net ?? (target === 'spt' ? 'direct' : 'socket');
  if (target === 'spt' && net === 'socket') {
    throw new FataError('FATA_BAD_FLAGS', 'the spt target has no host sockets: use --net=direct with -t spt');
  }
  const config = await loadConfig(dir);
  const mainFile = resolve(dir, config.main);
  if (!existsSync(mainFile)) throw new FataError('FATA_NO_MAIN', `config.ts names main '${config.main}', which does not exist in ${dir}`);
  const devices: { name: string; type: 'net' | 'block' | 'assets'; modifiedMs?: number; optional?: boolean }[] = Object.entries(
    config.devices,
  ).map(([name, d]) => (d.type === 'block' && d.optional ? { name, type: d.type, optional: true } : { name, type: d.type }));
  const hasNet = devices.some((d) => d.type === 'net');
  const entry = entrySource(dir, mainFile, hasNet ? NET_PROVIDER[net] : undefined);
  opts.say?.(`build: ${config.name} (target ${target}, net ${hasNet ? net : 'none'}) from ${relative(process.cwd(), dir) || '.'}`);
  const typecheckMs = opts.typecheck === false ? undefined : await checkTypes(dir, [resolve(dir, 'config.ts'), mainFile], opts.say);
  const { bundle, map, metafile } = await bundleService(dir, entry, config.name);
  checkBuiltins(metafile, target, config.name, opts.say);
  const sizes = bundleSizes(metafile, dir);
  const sections: [string, Uint8Array][] = [['bundle', bundle]];
  for (const [name, d] of Object.entries(config.devices)) {
    if (d.type !== 'assets') continue;
    const { total, compressed, modifiedMs } = addAssets(sections, dir, name, d, opts.say);
    devices.find((x) => x.name === name)!.modifiedMs = modifiedMs;
    sizes[`assets:${name}`] = total;
    if (compressed) sizes[`assets:${name}:compressed`] = compressed;
  }
  const manifest: ImageManifest = {
    type: 'fata.manifest',
    version: 1,
    name: config.name,
    target,
    net: hasNet ? net : 'none',
    devices,
    engine: `node ${process.version}`,
    params: config.params,
  };
  const bytes = writeImage(manifest, sections);
  const outDir = join(dir, 'dist');
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, `${config.name}.fata`);
  writeFileSync(path, bytes);
  // Beside the image, not in it: the image stays as small as it was, and the map is read only where it is kept.
  const mapPath = `${path}.map`;
  writeFileSync(mapPath, map);
  sizes.total = bytes.length;
  if (opts.say) {
    for (const [k, v] of Object.entries(sizes).sort()) opts.say(`  ${k.padEnd(22)} ${String(v).padStart(9)} bytes`);
    opts.say(`build: wrote ${relative(process.cwd(), path)} (source map: ${relative(process.cwd(), mapPath)})`);
  }
  return { path, bytes, manifest, sizes, mapPath, typecheckMs };
}
