// Runs the engine on the units in argv[2] and prints the start report and status as JSON.
// Used inside `unshare -n` with net.mptcp.enabled=0.
import { ActivationEngine, loadEngineUnits } from '../../dist/index.js';

const { units, errors } = await loadEngineUnits([process.argv[2]]);
if (errors.length > 0) throw new Error(errors.join('\n'));
const warnings = [];
const engine = new ActivationEngine({ logger: { debug() {}, info() {}, error() {}, warn: (m) => warnings.push(m) } });
const report = await engine.start(units);
console.log(JSON.stringify({ report, status: engine.status(), warnings }));
await engine.stop();
