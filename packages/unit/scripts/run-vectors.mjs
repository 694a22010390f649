#!/usr/bin/env node
// Runs a shared vectors file (conf-syntax, socket-addresses or values; detected from the contents)
// against the BUILT package (dist/). Prints each failing case, then "N passed, M failed".
import { readFileSync } from 'node:fs';
import { checkVectorFile } from '../dist/vectors.js';

const path = process.argv[2];
if (!path) {
  console.error('usage: node packages/unit/scripts/run-vectors.mjs FILE.json');
  process.exit(2);
}
const file = JSON.parse(readFileSync(path, 'utf8'));
const { kind, results } = checkVectorFile(file);
let passed = 0;
let failed = 0;
for (const r of results) {
  if (r.problems.length === 0) {
    passed++;
    continue;
  }
  failed++;
  console.log(`FAIL [${kind}] ${r.label}`);
  for (const p of r.problems) console.log(`  ${p}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
