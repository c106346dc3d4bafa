/**
 * Where Fata's own files are, whether running from the TypeScript sources or
 * from a bundle in the host cache (which defines __FATA_ROOT__).
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

declare const __FATA_ROOT__: string | undefined;

export const FATA_ROOT: string =
  typeof __FATA_ROOT__ === 'string' ? __FATA_ROOT__ : resolve(dirname(fileURLToPath(import.meta.url)), '../..');
