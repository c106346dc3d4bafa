/**
 * The type check `fata build` runs before bundling: the service's own files
 * (its config and main module, and what they import from the service
 * folder) against Fata's declarations, with the TypeScript compiler API.
 * Only the service's files are checked; Fata's and packages' files are read
 * for their types, not checked (the library's own `tsc -p .` does that), so
 * the check costs what the service's code costs. A type error stops the
 * build: `devices.servce` or a string where a number belongs is caught
 * here, not inside minified code at run time.
 *
 * A check that passed is remembered in `dist/typecheck.json` by the size and
 * modification time of every file the program read (the service's, Fata's,
 * the packages' declarations, the compiler's): while none has changed, the
 * next build skips the check (`fata run DIR` builds each time).
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import type * as TS from 'typescript';
import { FATA_ROOT } from '../host/paths.ts';
import { FataError } from '../host/errors.ts';

/** The compiler as loaded at run time: a CommonJS module, so its API is the default export. */
type Ts = (typeof TS)['default'];

/**
 * For a service with no tsconfig.json above it: Fata's own compiler settings (its tsconfig.json), with modules
 * resolved as the bundler resolves them (a folder need not be an ES module package), and Node's types from Fata's
 * own installation.
 */
const DEFAULTS = {
  target: 'esnext',
  module: 'preserve',
  moduleResolution: 'bundler',
  lib: ['esnext'],
  types: ['node'],
  // Fata's own node_modules in a checkout; beside Fata where npm installed it as a package (node_modules/fata).
  typeRoots: [join(FATA_ROOT, 'node_modules', '@types'), join(FATA_ROOT, '..', '@types')],
  strict: true,
  allowImportingTsExtensions: true,
  erasableSyntaxOnly: true,
  verbatimModuleSyntax: true,
  noUncheckedIndexedAccess: true,
  isolatedModules: true,
  skipLibCheck: true,
};

export interface TypeCheckResult {
  /** One line per error: `FILE:LINE:COL: error TSnnnn: message`, FILE relative to the working directory. */
  readonly errors: readonly string[];
  /** How long the check took, in milliseconds. */
  readonly ms: number;
  /** True when nothing had changed since the last check that passed, which was trusted. */
  readonly cached: boolean;
}

/** Size and modification time of each file, or undefined if one is gone. */
function stamps(files: readonly string[]): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const f of files) {
    try {
      const st = statSync(f);
      out[f] = `${st.size}:${st.mtimeMs}`;
    } catch {
      return undefined;
    }
  }
  return out;
}

/** True when the record at `file` is of a passed check with these roots, and no file it read has changed since. */
function unchanged(file: string, key: string): boolean {
  try {
    const rec = JSON.parse(readFileSync(file, 'utf8')) as { key?: string; files?: Record<string, string> };
    if (rec.key !== key || !rec.files) return false;
    const now = stamps(Object.keys(rec.files));
    return now !== undefined && Object.entries(rec.files).every(([f, st]) => now[f] === st);
  } catch {
    return false;
  }
}

/** The nearest tsconfig.json at or above `dir`, if any. */
function findTsconfig(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    const f = join(d, 'tsconfig.json');
    if (existsSync(f)) return f;
    if (dirname(d) === d) return undefined;
  }
}

/** Compiler options: the service's tsconfig's (the nearest one above it), else Fata's; never emitting. */
function compilerOptions(ts: Ts, dir: string): TS.CompilerOptions {
  const file = findTsconfig(dir);
  let raw: unknown = { compilerOptions: DEFAULTS };
  let base = dir;
  if (file) {
    const read = ts.readConfigFile(file, ts.sys.readFile);
    if (!read.error) {
      raw = read.config;
      base = dirname(file);
    }
  }
  // Only the options: which files to check is decided here, not by the tsconfig's include.
  const r = raw as { compilerOptions?: unknown; extends?: unknown };
  const parsed = ts.parseJsonConfigFileContent({ compilerOptions: r.compilerOptions, extends: r.extends, files: [] }, ts.sys, base);
  return { ...parsed.options, noEmit: true, skipLibCheck: true, incremental: false, composite: false };
}

function format(ts: Ts, d: TS.Diagnostic): string {
  const text = ts.flattenDiagnosticMessageText(d.messageText, '\n  ');
  if (!d.file || d.start === undefined) return `error TS${d.code}: ${text}`;
  const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
  return `${relative(process.cwd(), d.file.fileName) || d.file.fileName}:${line + 1}:${character + 1}: error TS${d.code}: ${text}`;
}

/** Errors that a program without Node's types may give where one with them would not: a missing name, module, type. */
const MISSING = new Set([2304, 2307, 2503, 2552, 2580, 2581, 2582, 2583, 2584, 2591, 2592, 2593, 2688]);

/** A compiler host that parses each file once, for both programs a check may make. */
function cachingHost(ts: Ts, options: TS.CompilerOptions): TS.CompilerHost {
  const host = ts.createCompilerHost(options);
  const parsed = new Map<string, TS.SourceFile | undefined>();
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, version, onError, create) => {
    const key = `${fileName}\0${typeof version === 'object' ? `${version.languageVersion}:${version.impliedNodeFormat}` : version}`;
    if (!parsed.has(key)) parsed.set(key, getSourceFile(fileName, version, onError, create));
    return parsed.get(key);
  };
  return host;
}

/**
 * Whether the program may need Node's types: a source of it (not a declaration file) imports a Node built-in, or it
 * reads a package's declarations (other than Fata's own and the compiler's), which may use Node's globals unsaid.
 */
function mayNeedNode(ts: Ts, program: TS.Program): boolean {
  return program.getSourceFiles().some((sf) => {
    if (sf.isDeclarationFile) return /\/node_modules\//.test(sf.fileName) && !/\/node_modules\/typescript\/lib\//.test(sf.fileName);
    return ts.preProcessFile(sf.text, true, true).importedFiles.some((f) => isBuiltin(f.fileName));
  });
}

/** The errors of the service's own files (under `dir`, outside node_modules and dist) and the program's global ones. */
function ownErrors(ts: Ts, program: TS.Program, dir: string): TS.Diagnostic[] {
  const inside = `${resolve(dir)}/`;
  const own = program
    .getSourceFiles()
    .filter((sf) => sf.fileName.startsWith(inside) && !/^(.*\/)?(node_modules|dist)\//.test(sf.fileName.slice(inside.length)));
  const diagnostics: TS.Diagnostic[] = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()];
  for (const sf of own) diagnostics.push(...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf));
  return diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error);
}

/**
 * The program to check, and its errors. Node's type declarations are most of what a check reads (2.5 MB, about four
 * fifths of its time), and a service that uses nothing of Node's needs none of them: so a first program leaves them
 * out, and is the answer when nothing in it imports a Node built-in (the parts of Fata a service reaches use Node's
 * globals only in modules that import a built-in), it reads no package's declarations (they may use Node's globals
 * unsaid: without them a type would quietly be any), and the service's files miss no name, module or type. Otherwise
 * the check is made again with the configured types, on the files already parsed.
 */
function check(ts: Ts, dir: string, rootNames: string[], options: TS.CompilerOptions): { program: TS.Program; errors: TS.Diagnostic[] } {
  const host = cachingHost(ts, options);
  if (options.types === undefined || options.types.includes('node')) {
    const types = (options.types ?? []).filter((t) => t !== 'node');
    const lean = ts.createProgram({ rootNames, options: { ...options, types }, host });
    const withNode = lean.getSourceFiles().some((sf) => /\/@types\/node\//.test(sf.fileName)); // A package's types brought them.
    if (withNode || !mayNeedNode(ts, lean)) {
      const errors = ownErrors(ts, lean, dir);
      if (withNode || !errors.some((d) => MISSING.has(d.code))) return { program: lean, errors };
    }
  }
  const program = ts.createProgram({ rootNames, options, host });
  return { program, errors: ownErrors(ts, program, dir) };
}

/** Type-checks `rootFiles` (absolute) and every file under `dir` they import; returns the errors in those files. */
export async function typeCheck(dir: string, rootFiles: readonly string[]): Promise<TypeCheckResult> {
  const t0 = performance.now();
  const record = join(dir, 'dist', 'typecheck.json');
  const key = JSON.stringify({ roots: rootFiles.map((f) => resolve(f)), engine: process.version });
  if (unchanged(record, key)) return { errors: [], ms: performance.now() - t0, cached: true };
  // Loaded here: a run (not a build) of an image never pays for the compiler.
  let ts: Ts;
  try {
    ts = (await import('typescript')).default;
  } catch (e) {
    throw new FataError(
      'FATA_NO_TYPESCRIPT',
      `the type check needs the typescript package, a dependency of fata (${(e as Error).message}); reinstall fata, or build with --no-typecheck`,
    );
  }
  const { program, errors: found } = check(
    ts,
    dir,
    rootFiles.map((f) => resolve(f)),
    compilerOptions(ts, dir),
  );
  const errors = found.map((d) => format(ts, d));
  const files = stamps([...program.getSourceFiles().map((sf) => sf.fileName), ...[findTsconfig(dir)].filter((f) => f !== undefined)]);
  if (errors.length === 0 && files) {
    mkdirSync(dirname(record), { recursive: true });
    writeFileSync(record, JSON.stringify({ key, typescript: ts.version, files }));
  }
  return { errors, ms: performance.now() - t0, cached: false };
}
