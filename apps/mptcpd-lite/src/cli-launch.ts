#!/usr/bin/env node
/**
 * The `mptcpd-lite` bin: cli.ts as a CommonJS file (dist/cli.cjs, bundled by scripts/bundle-run.mjs
 * with v8-tuning.ts and run-bundle.ts). Node starts a `.js` entry of this ES-module package through
 * its ES module loader: ~10 more builtin modules compiled and ~1.7 MB more idle RSS (code and source
 * pages) than a CommonJS entry, for a daemon that then runs one CommonJS bundle anyway. The other
 * commands are ES modules, imported from here as cli.ts imports them.
 */
import './v8-tuning.js';
import { loadRunBundle, runBundle } from './run-bundle.js';

const bundle = process.argv[2] === 'run' ? runBundle() : undefined;
if (bundle) loadRunBundle(bundle);
else void import('./main.js');
