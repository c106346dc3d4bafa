/**
 * File parameters (`param.file`): the command line names a file, and the
 * tender reads it before the engine is sealed, so that key material never
 * appears in `ps` (an engine's command line is world-readable) and a sealed
 * engine, which can open nothing, still gets it. The node target reads it in
 * `fata run`; on spt the bootstrap reads it before the seal (both tenders
 * pass it only the path).
 */
import { readFileSync, statSync } from 'node:fs';
import type { ParamSpec } from '../runtime/config.ts';

/** The most a file parameter may hold: a certificate chain or a key, not a disk. */
export const FILE_PARAM_MAX = 1 << 20;

/**
 * The boot arguments with each file parameter's path (`--name=PATH` or `--name PATH`) replaced by
 * `--name=CONTENTS`; other arguments pass unchanged. An empty path stays empty (the image's own default).
 */
export function readFileParams(argv: readonly string[], schema: Readonly<Record<string, ParamSpec>>): string[] | { error: string } {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^--([a-z][a-z0-9-]*)(?:=([\s\S]*))?$/.exec(a);
    if (!m || schema[m[1]!]?.kind !== 'file') {
      out.push(a);
      continue;
    }
    const name = m[1]!;
    let path = m[2];
    if (path === undefined) {
      path = argv[i + 1];
      if (path === undefined || path.startsWith('-')) return { error: `--${name} needs a file: --${name}=PATH` };
      i++;
    }
    if (path === '') {
      out.push(`--${name}=`);
      continue;
    }
    const text = readParamFile(name, path);
    if (typeof text !== 'string') return text;
    out.push(`--${name}=${text}`);
  }
  return out;
}

function readParamFile(name: string, path: string): string | { error: string } {
  try {
    const st = statSync(path);
    if (!st.isFile()) return { error: `--${name}=${path} is not a regular file; give the path of the file to read` };
    if (st.size > FILE_PARAM_MAX)
      return { error: `--${name}=${path} holds ${st.size} bytes; a file parameter holds at most ${FILE_PARAM_MAX}` };
    return readFileSync(path, 'utf8');
  } catch (e) {
    return {
      error: `--${name}=${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give a file this user can read`,
    };
  }
}
