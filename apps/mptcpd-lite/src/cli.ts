#!/usr/bin/env node
// V8 flags must be set before the rest of the CLI is loaded (module loading itself allocates).
import './v8-tuning.js';
import { runBundle } from './run-bundle.js';

// The daemon starts from one bundled file when it is current (run-bundle.ts).
await import((process.argv[2] === 'run' && runBundle()) || './main.js');
