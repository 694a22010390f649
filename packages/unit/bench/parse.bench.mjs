#!/usr/bin/env node
// Parse-rate benchmark for @mptcp/unit (runs against the built dist/).
// Usage: node packages/unit/bench/parse.bench.mjs [--units N] [--seed S] [--rounds R]
// Prints one JSON object: {"name":"unit-parse","units":N,"rounds":R,"unitsPerSecond":…,…}.
import { parseUnitText, TEST_HOST_FACTS, staticInterfaceResolver } from '../dist/index.js';
import { generateUnitCorpus } from '../dist/testing.js';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const units = arg('units', 2000);
const seed = arg('seed', 1);
const rounds = arg('rounds', 5);

const corpus = generateUnitCorpus(units, seed);
const options = { host: TEST_HOST_FACTS, interfaces: staticInterfaceResolver({ lo: 1 }), executables: false };

function round() {
  let diagnostics = 0;
  const t0 = process.hrtime.bigint();
  for (const u of corpus)
    diagnostics += parseUnitText(u.text, { ...options, file: `/etc/systemd/system/${u.name}`, name: u.name })
      .diagnostics.length;
  const ns = Number(process.hrtime.bigint() - t0);
  return { seconds: ns / 1e9, diagnostics };
}

round(); // warm-up (JIT)
const samples = [];
let diagnostics = 0;
for (let i = 0; i < rounds; i++) {
  const r = round();
  samples.push(corpus.length / r.seconds);
  diagnostics = r.diagnostics;
}
samples.sort((a, b) => a - b);
const median = samples[Math.floor(samples.length / 2)];
console.log(
  JSON.stringify({
    name: 'unit-parse',
    units: corpus.length,
    rounds,
    unitsPerSecond: Math.round(median),
    minUnitsPerSecond: Math.round(samples[0]),
    maxUnitsPerSecond: Math.round(samples[samples.length - 1]),
    diagnosticsPerRound: diagnostics,
    node: process.version,
  }),
);
