#!/usr/bin/env node
// V8 flags must be set before the rest of the CLI is loaded (module loading itself allocates).
import './v8-tuning.js';

await import('./main.js');
