// @ts-check
/**
 * Node strips TypeScript types only outside node_modules, and Fata ships
 * its TypeScript sources (package.json `exports`). Installed as a package,
 * Fata's own .ts files are stripped here instead, by a load hook, for the
 * `fata` command (bin/fata.mjs imports this) and for a project's code that
 * imports Fata outside `fata build`: `node --import fata/register …`. In a
 * checkout it does nothing: Node strips the sources itself. Plain
 * JavaScript on purpose: it runs before anything can strip types.
 */
import { readFileSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

if (root.split('/').includes('node_modules')) {
  const prefix = `${pathToFileURL(root).href}/`;
  nodeModule.registerHooks({
    load(url, context, nextLoad) {
      if (!url.startsWith(prefix) || !url.endsWith('.ts') || url.slice(prefix.length).includes('node_modules/'))
        return nextLoad(url, context);
      const emit = process.emitWarning;
      process.emitWarning = () => {}; // stripTypeScriptTypes warns that it is experimental, on every run.
      try {
        return { format: 'module', source: nodeModule.stripTypeScriptTypes(readFileSync(fileURLToPath(url), 'utf8')), shortCircuit: true };
      } finally {
        process.emitWarning = emit;
      }
    },
  });
}
