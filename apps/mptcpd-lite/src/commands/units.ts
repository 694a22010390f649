/**
 * Per-unit control through the daemon's control socket, with systemctl's words and exit codes:
 * `start|stop|restart|reload UNIT...`, `list-sockets`, `list-units`, and `status UNIT...` (see
 * status.ts). Exit codes as systemctl's: 0 done, 1 a job failed, 3 (status) not active, 4 (status)
 * no such unit, 5 (start/stop/…) no such unit.
 */
import { Command } from 'commander';
import { action, examplesHelp, exitCodesHelp } from '../action.js';
import { controlRequest } from '../control/client.js';
import { defaultControlPath } from '../control/paths.js';
import type {
  ControlCommand,
  SocketListing,
  UnitOperation,
  UnitOperationResult,
  UnitStatus,
} from '../control/protocol.js';
import { CliError, EXIT_ERROR, EXIT_FAILURE, EXIT_OK } from '../exit-codes.js';
import { toJson } from '../json.js';
import { formatTimestampWithRelative } from '../format/timestamp.js';

/** systemctl: LSB "program is not running" for status of an inactive/failed unit. */
export const EXIT_UNIT_INACTIVE = 3;
/** systemctl status: no such unit. */
export const EXIT_NO_SUCH_UNIT_STATUS = 4;
/** systemctl start/stop/restart/reload: no such unit. */
export const EXIT_NO_SUCH_UNIT = 5;

/** Stop and reload wait for TimeoutStopSec= (90 s by default) and more. */
const UNIT_OP_TIMEOUT_MS = 10 * 60_000;

/**
 * How long the CLI waits for the daemon's answer to a unit operation: systemctl waits for a start
 * or restart job however long it takes (TimeoutStartSec=infinity, ExecStartPre= that runs for
 * hours): no limit; stop and reload keep UNIT_OP_TIMEOUT_MS.
 */
export function unitOpTimeoutMs(op: UnitOperation): number {
  return op === 'start' || op === 'restart' ? Infinity : UNIT_OP_TIMEOUT_MS;
}

/** A bare name is a service, as systemctl completes it. */
export function unitName(name: string): string {
  return /\.(service|socket)$/.test(name) ? name : `${name}.service`;
}

export async function request<T>(
  control: string,
  cmd: ControlCommand,
  args: Record<string, unknown> = {},
  timeoutMs = 5000,
): Promise<T> {
  const reply = await controlRequest(control, cmd, timeoutMs, args);
  if (!reply.ok) throw new CliError(`${control}: ${reply.error.code}: ${reply.error.message}`, EXIT_FAILURE);
  return reply as unknown as T;
}

export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join(' ')
      .trimEnd(),
  );
}

const PAST: Record<UnitOperation, string> = { start: 'start', stop: 'stop', restart: 'restart', reload: 'reload' };

/**
 * What systemctl prints for a unit whose operation failed, with our commands in its hints
 * (src/shared/bus-wait-for-jobs.c of systemd 257, recorded in packages/activation/test/fixtures/
 * v257/failed-start):
 * - a start job that failed (JOB_FAILED, the daemon's message is systemctl's first line, `Job for
 *   UNIT failed because <why>.` by the service's Result=), then `See "mptcpd-lite status UNIT" and
 *   "mptcpd-lite status --lines=100 UNIT" for details.` (systemctl: `systemctl status` and
 *   `journalctl -xeu`, whose part here is the unit's log lines that `status` shows);
 * - a socket whose start failed: `Job failed. See "mptcpd-lite status UNIT" for details.`
 *   (systemctl: `See "journalctl -xe" …`);
 * - a canceled job: `Job for UNIT canceled.` alone;
 * - a request refused before any job ran: `Failed to start UNIT: <why>` (a bus error in systemctl;
 *   `Unit UNIT not found.`, `Job type reload is not applicable for unit UNIT.`).
 * Each is what systemctl writes on stderr: one or two lines.
 */
export function unitFailureText(
  op: UnitOperation,
  unit: string,
  error: { code?: string; message?: string } | undefined,
): string {
  const code = error?.code;
  const message = error?.message ?? 'failed';
  const quoted = shellQuote(unit);
  if (code === 'UNIT_NOT_FOUND') return `Failed to ${PAST[op]} ${unit}: Unit ${unit} not found.`;
  if (code === 'JOB_CANCELED' || code === 'JOB_ASSERT') return message;
  // systemctl: `A dependency job for UNIT failed. See 'journalctl -xe' for details.`
  if (code === 'JOB_DEPENDENCY') return `${message} See "mptcpd-lite status ${quoted}" for details.`;
  if (code === 'JOB_FAILED')
    return `${message}\nSee "mptcpd-lite status ${quoted}" and "mptcpd-lite status --lines=100 ${quoted}" for details.`;
  if (code === 'SOCKET_OPEN_FAILED' && (op === 'start' || op === 'restart'))
    return `Job failed. See "mptcpd-lite status ${quoted}" for details.`;
  return `Failed to ${PAST[op]} ${unit}: ${message}`;
}

/** shell_maybe_quote(): a name with a character a shell would act on is double-quoted (`"`, `\\`, `` ` ``, `$` escaped). */
function shellQuote(s: string): string {
  if (!/["\\`$*?['()<>|&;!\s]/.test(s)) return s;
  return `"${s.replace(/(["\\`$])/g, '\\$1')}"`;
}

function unitOpCommand(op: UnitOperation, description: string): Command {
  return new Command(op)
    .description(description)
    .argument('<units...>', 'unit names (a name without .socket/.service is a service)')
    .option('--json', 'print the result of each unit as JSON')
    .option('--control <path>', 'control socket of the daemon', defaultControlPath())
    .addHelpText('after', examplesHelp([`mptcpd-lite ${op} echo.service`, `mptcpd-lite ${op} echo web.socket --json`]))
    .addHelpText(
      'after',
      exitCodesHelp([
        [EXIT_OK, `every unit was ${op === 'stop' ? 'stopped' : op === 'start' ? 'started' : op + 'ed'}`],
        [EXIT_FAILURE, 'a job failed (as systemctl: "Job for UNIT failed because a timeout was exceeded." …)'],
        [EXIT_ERROR, 'no daemon on the control socket, EACCES, timeout'],
        [EXIT_NO_SUCH_UNIT, 'a unit is not loaded (as systemctl)'],
      ]),
    )
    .action(
      action(async (units: string[], opts: { json?: boolean; control: string }) => {
        const names = units.map(unitName);
        const r = await request<{ results: UnitOperationResult[] }>(
          opts.control,
          'unit',
          { op, units: names },
          unitOpTimeoutMs(op),
        );
        if (opts.json) process.stdout.write(toJson(r.results, 2) + '\n');
        let code = EXIT_OK;
        for (const res of r.results) {
          if (res.ok) continue;
          const notFound = res.error?.code === 'UNIT_NOT_FOUND';
          if (!opts.json) process.stderr.write(`${unitFailureText(op, res.unit, res.error)}\n`);
          code = notFound ? EXIT_NO_SUCH_UNIT : code === EXIT_OK ? EXIT_FAILURE : code;
        }
        return code;
      }),
    );
}

export function startCommand(): Command {
  return unitOpCommand('start', "start units: a service now (with its sockets' fds), a socket listens again");
}
export function stopCommand(): Command {
  return unitOpCommand(
    'stop',
    'stop units: a service (ExecStop=, KillSignal=, TimeoutStopSec=; its sockets keep listening), a socket closes',
  );
}
export function restartCommand(): Command {
  return unitOpCommand(
    'restart',
    'restart units; a socket-activated service keeps its listening sockets open in the daemon, so clients queue instead of being refused',
  );
}
export function reloadCommand(): Command {
  return unitOpCommand(
    'reload',
    "reload services: ExecReload=, or Type=notify-reload's ReloadSignal= and RELOADING=1…READY=1",
  );
}

export function formatSocketList(rows: SocketListing[]): string {
  if (rows.length === 0) return '0 sockets listed.\n';
  const lines = table([
    ['LISTEN', 'UNIT', 'ACTIVATES'],
    ...rows.map((r) => [
      `${r.listen}${r.protocol === 'mptcp' ? ' (mptcp)' : r.protocol === 'tcp' || r.protocol === 'fallback' ? ` (${r.protocol})` : ''}`,
      r.unit,
      r.activates,
    ]),
  ]);
  return `${lines.join('\n')}\n\n${rows.length} sockets listed.\n`;
}

/** `list-sockets` and `list-units`: one list from the daemon, printed as systemctl's table or as JSON. */
function listCommand<T>(
  name: 'list-sockets' | 'list-units',
  description: string,
  key: 'sockets' | 'units',
  format: (rows: T[]) => string,
): Command {
  return new Command(name)
    .description(description)
    .option('--json', 'print JSON')
    .option('--control <path>', 'control socket of the daemon', defaultControlPath())
    .addHelpText('after', examplesHelp([`mptcpd-lite ${name}`, `mptcpd-lite ${name} --json`]))
    .addHelpText(
      'after',
      exitCodesHelp([
        [EXIT_OK, 'listed'],
        [EXIT_FAILURE, 'the daemon answered with an error'],
        [EXIT_ERROR, 'no daemon on the control socket'],
      ]),
    )
    .action(
      action(async (opts: { json?: boolean; control: string }) => {
        const rows = (await request<Record<typeof key, T[]>>(opts.control, name))[key];
        process.stdout.write(opts.json ? toJson(rows, 2) + '\n' : format(rows));
        return EXIT_OK;
      }),
    );
}

export function listSocketsCommand(): Command {
  return listCommand(
    'list-sockets',
    'list listening sockets as systemctl list-sockets: LISTEN (with mptcp/tcp), UNIT, ACTIVATES',
    'sockets',
    formatSocketList,
  );
}

export function formatUnitList(units: UnitStatus[]): string {
  if (units.length === 0) return '0 loaded units listed.\n';
  const rows = units.map((u) => [u.unit, 'loaded', u.activeState, u.subState, u.description ?? '']);
  return `${table([['UNIT', 'LOAD', 'ACTIVE', 'SUB', 'DESCRIPTION'], ...rows]).join('\n')}\n\n${units.length} loaded units listed.\n`;
}

export function listUnitsCommand(): Command {
  return listCommand(
    'list-units',
    'list loaded socket and service units as systemctl list-units: UNIT, LOAD, ACTIVE, SUB, DESCRIPTION',
    'units',
    formatUnitList,
  );
}

const DOT: Record<string, string> = {
  active: '●',
  reloading: '●',
  activating: '●',
  deactivating: '●',
  failed: '×',
  inactive: '○',
};

/** systemd's socket_port_type_to_string(): the word in parentheses after a Listen: address. */
const LISTEN_TYPE: Record<string, string> = {
  stream: 'Stream',
  datagram: 'Datagram',
  seqpacket: 'SequentialPacket',
  fifo: 'FIFO',
  special: 'Special',
  netlink: 'Netlink',
  mqueue: 'MessageQueue',
  'usb-function': 'USBFunction',
};

/** UnitFileState values after which systemctl status names the preset (show_preset_for_state()). */
const SHOWS_PRESET = new Set(['enabled', 'enabled-runtime', 'disabled', 'indirect', 'alias']);

/**
 * `systemctl status UNIT` text, line for line as systemd 257 prints it (fixtures/v257/status), but
 * for what only PID 1 knows: the sockets' Invocation:, Tasks:/Memory:/CPU: accounting and the CGroup:
 * tree are left out, and the log lines are the daemon's.
 */
export function formatUnitStatus(u: UnitStatus): string {
  const out: string[] = [];
  const desc = u.description && u.description !== u.unit ? ` - ${u.description}` : '';
  out.push(`${DOT[u.activeState] ?? '●'} ${u.unit}${desc}`);
  const state = u.unitFileState;
  // No unit file preset exists here: systemd's default preset policy is "enable".
  const fileState = state ? `; ${state}${SHOWS_PRESET.has(state) ? '; preset: enabled' : ''}` : '';
  out.push(`     Loaded: loaded (${u.file}${fileState})`);
  const sub = u.subState !== u.activeState ? ` (${u.subState})` : '';
  const result = u.result && u.result !== 'success' ? ` (Result: ${u.result})` : '';
  const now = Date.now();
  const since = u.since ? ` since ${formatTimestampWithRelative(u.since, now)}` : '';
  out.push(`     Active: ${u.activeState}${sub}${result}${since}`);
  if (since && u.duration) out.push(`   Duration: ${u.duration}`);
  if (u.invocationId) out.push(` Invocation: ${u.invocationId}`);
  u.triggeredBy.forEach((t, i) =>
    out.push(`${i === 0 ? 'TriggeredBy:' : '            '} ${DOT[u.triggeredByStates?.[i] ?? 'active'] ?? '●'} ${t}`),
  );
  u.triggers.forEach((t, i) => out.push(`${i === 0 ? '   Triggers:' : '            '} ● ${t}`));
  // `  Condition: start condition unmet at …`, `     Assert: …` and their `└─ … was not met` lines.
  out.push(
    ...(u.conditionLines ?? []).map((l) =>
      l.replace(/ at (\d{4}-\d\d-\d\dT[\d:.]+Z)$/, (_m, iso: string) => ` at ${formatTimestampWithRelative(iso, now)}`),
    ),
  );
  u.listen.forEach((l, i) =>
    out.push(`${i === 0 ? '     Listen:' : '            '} ${l.address} (${LISTEN_TYPE[l.kind] ?? l.kind})`),
  );
  if (u.connections) {
    const c = u.connections;
    out.push(`   Accepted: ${c.accepted}; Connected: ${c.connected};${c.refused ? `   Refused: ${c.refused}` : ''}`);
  }
  const comm = (name: string | undefined): string => (name ? ` (${name})` : '');
  const control = u.controlPid !== undefined ? `${u.controlPid}${comm(u.controlComm)}` : undefined;
  // The main process while it runs (with its name), else the last one with how it ended.
  const main =
    u.mainPid !== undefined
      ? `${u.mainPid}${comm(u.mainComm)}`
      : u.execMainPid !== undefined
        ? `${u.execMainPid}${u.mainExit ? ` (${u.mainExit})` : ''}`
        : undefined;
  if (main !== undefined) out.push(`   Main PID: ${main}${control ? `; Control PID: ${control}` : ''}`);
  else if (control) out.push(`  Cntrl PID: ${control}`);
  if (u.statusText) out.push(`     Status: "${u.statusText}"`);
  const stored = u.fdStore?.length ?? 0;
  if (stored > 0 || (u.fdStoreMax ?? 0) > 0) out.push(`   FD Store: ${stored} (limit: ${u.fdStoreMax ?? 0})`);
  if (u.log && u.log.length > 0) out.push('', ...u.log);
  return out.join('\n') + '\n';
}

/** `status UNIT...`: prints each and returns systemctl's exit code. */
export async function unitStatusAction(
  units: string[],
  opts: { json?: boolean; control: string; lines?: string },
): Promise<number> {
  const lines = opts.lines === undefined ? 10 : Number(opts.lines);
  if (!Number.isInteger(lines) || lines < 0)
    throw new CliError(`--lines must be a non-negative integer, got ${opts.lines}`, EXIT_ERROR);
  const names = units.map(unitName);
  const r = await request<{ units: Array<UnitStatus | { unit: string; missing: true }> }>(opts.control, 'unit-status', {
    units: names,
    lines,
  });
  let code = EXIT_OK;
  const found: UnitStatus[] = [];
  for (const u of r.units) {
    if ('missing' in u) {
      if (!opts.json) process.stderr.write(`Unit ${u.unit} could not be found.\n`);
      code = EXIT_NO_SUCH_UNIT_STATUS;
      continue;
    }
    found.push(u);
    if (u.activeState !== 'active' && u.activeState !== 'reloading' && code === EXIT_OK) code = EXIT_UNIT_INACTIVE;
  }
  if (opts.json) process.stdout.write(toJson(r.units, 2) + '\n');
  else process.stdout.write(found.map(formatUnitStatus).join('\n'));
  return code;
}
