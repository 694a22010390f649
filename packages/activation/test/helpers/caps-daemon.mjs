// Runs one service to its end with the built @mptcp/activation (dist), as a separate daemon process
// (the caller starts it with fewer privileges, e.g. as another user under setpriv), and prints its
// exit as JSON on stdout, with the errors the engine logged.
//   node caps-daemon.mjs UNIT_DIR NAME.service
import { ActivationEngine, loadEngineUnits } from '../../dist/index.js';

const [dir, name] = process.argv.slice(2);
const { units, errors } = await loadEngineUnits([dir]);
if (errors.length > 0) throw new Error(errors.join('\n'));
const logged = [];
const keep = (m, f) => logged.push(f?.unit ? `${f.unit}: ${m}` : m);
const engine = new ActivationEngine({ logger: { debug() {}, info() {}, warn: keep, error: keep } });
await engine.start(units);
const exited = new Promise((resolve) => engine.on('service-exit', resolve));
// A start that fails before its process runs has no exit event: its status says how it ended.
const failed = await engine.startUnit(name).then(
  () => false,
  (err) => (logged.push(String(err.message)), true),
);
const exit = failed
  ? (({ lastExit, result }) => ({ code: lastExit?.code ?? null, result }))(
      engine.status().services.find((s) => s.name === name),
    )
  : await exited;
await engine.stop();
process.stdout.write(JSON.stringify({ code: exit.code, result: exit.result, logged }) + '\n');
