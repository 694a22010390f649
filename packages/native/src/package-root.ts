/**
 * Where this package lives (build/ and prebuilds/ are found from here). The ESM build reads it
 * from import.meta.url; the CommonJS build replaces this file with one that uses __dirname
 * (scripts/finish-cjs.mjs), the only difference between the two builds.
 */
import { fileURLToPath } from 'node:url';

// @ts-ignore -- import.meta is not valid in the CommonJS build, where this file is replaced.
const here: string = import.meta.url;

/** The package root (dist/.. or src/..). */
export const packageRoot: string = fileURLToPath(new URL('..', here));
