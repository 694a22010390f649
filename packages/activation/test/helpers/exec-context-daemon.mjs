// Runs one service to its end with the built @mptcp/activation (dist), as a separate daemon process
// (the caller starts it under `prlimit`, e.g. a lower hard RLIMIT_NOFILE than its own).
//   node exec-context-daemon.mjs UNIT_DIR NAME.service
import { ActivationEngine, consoleLogger, loadEngineUnits } from '../../dist/index.js';

const [dir, name] = process.argv.slice(2);
const { units, errors } = await loadEngineUnits([dir]);
if (errors.length > 0) throw new Error(errors.join('\n'));
const engine = new ActivationEngine({ logger: consoleLogger('warn') });
await engine.start(units);
const exited = new Promise((resolve) => engine.on('service-exit', resolve));
await engine.startUnit(name);
await exited;
await engine.stop();
