/**
 * Node built-ins in an image. Most npm packages write `require("fs")`, not
 * `require("node:fs")`: the bundle asks for every built-in by its `node:`
 * name, as Node itself resolves a bare built-in name before any package, so
 * the image's loader (src/tender/load.ts) has one form to check.
 *
 * A built-in whose whole purpose the seal refuses (docs/spt.md: no fork, no
 * exec) can never work in a sealed unikernel; the build names the chain of
 * modules that pulled it in, so the fix is found at build time, not at boot.
 * Modules that merely include refused calls stay allowed, because importing
 * them is harmless and libraries read their harmless parts: `fs` (reads of
 * anything but a device fail), `net` (node:http needs it; Fata's TCP comes
 * in as a Duplex), `dgram`, and `worker_threads` (pino, Fastify's logger,
 * reads `isMainThread` from it; `new Worker` fails, as the seal allows no
 * new thread).
 */
import { builtinModules } from 'node:module';
import type { Metafile, Plugin } from 'esbuild';

/** Built-ins no sealed unikernel can use, and why. */
export const UNSEALABLE: Readonly<Record<string, string>> = {
  child_process: 'it starts processes, and the seal allows no fork or exec',
  cluster: 'it forks worker processes, and the seal allows no fork',
};

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
/** Every built-in name, bare or `node:`-prefixed, with its subpaths (`fs/promises`). */
const BUILTIN = new RegExp(`^(?:node:)?(?:${builtinModules.map(escapeRe).join('|')})$`);

/** The `node:` form of a built-in's name, or undefined when `id` names none. */
export function builtinId(id: string): string | undefined {
  if (!BUILTIN.test(id)) return undefined;
  return id.startsWith('node:') ? id : `node:${id}`;
}

/** esbuild: each built-in, bare or not, stays outside the bundle under its `node:` name. */
export const builtinsPlugin: Plugin = {
  name: 'fata-builtins',
  setup(b) {
    b.onResolve({ filter: BUILTIN }, (args) => ({ path: builtinId(args.path)!, external: true }));
  },
};

export interface UnsealableUse {
  /** The built-in, without `node:`. */
  readonly module: string;
  readonly why: string;
  /** From the bundle's entry to the module that imports it, as the metafile names them. */
  readonly chain: readonly string[];
}

/** Shortest chain of importers from an entry point to `file`. */
function chainTo(meta: Metafile, file: string): string[] {
  const parents = new Map<string, string>();
  const entries = Object.keys(meta.inputs).filter((f) => f.startsWith('<stdin>') || f.includes('fata-entry'));
  const queue = [...entries];
  const seen = new Set(queue);
  while (queue.length > 0) {
    const f = queue.shift()!;
    if (f === file) break;
    for (const i of meta.inputs[f]?.imports ?? []) {
      if (i.external || seen.has(i.path)) continue;
      seen.add(i.path);
      parents.set(i.path, f);
      queue.push(i.path);
    }
  }
  const chain = [file];
  for (let p = parents.get(file); p !== undefined; p = parents.get(p)) chain.unshift(p);
  return chain;
}

/** Every unsealable built-in the bundle imports, each with one chain of modules that pulls it in. */
export function unsealableUses(meta: Metafile): UnsealableUse[] {
  const found = new Map<string, UnsealableUse>();
  for (const [file, input] of Object.entries(meta.inputs)) {
    for (const i of input.imports) {
      const module = i.path.replace(/^node:/, '');
      const why = UNSEALABLE[module];
      if (!why || !i.external || found.has(module)) continue;
      found.set(module, { module, why, chain: [...chainTo(meta, file), module] });
    }
  }
  return [...found.values()];
}
