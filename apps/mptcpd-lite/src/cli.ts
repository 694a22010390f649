#!/usr/bin/env node
// V8 flags must be set before the rest of the CLI is loaded (module loading itself allocates).
import './v8-tuning.js';
import { loadRunBundle, runBundle } from './run-bundle.js';

// The daemon starts from one bundled file when it is current (run-bundle.ts).
const bundle = process.argv[2] === 'run' ? runBundle() : undefined;
if (bundle) loadRunBundle(bundle);
else await import('./main.js');
