/** `mptcpd-lite status`: what the running daemon has open and running, through its control socket. */
import { Command } from 'commander';
import { action, examplesHelp, exitCodesHelp } from '../action.js';
import { controlRequest } from '../control/client.js';
import { defaultControlPath } from '../control/paths.js';
import { trackingText, type DaemonStatus } from '../control/protocol.js';
import { CliError, EXIT_ERROR, EXIT_FAILURE, EXIT_OK } from '../exit-codes.js';
import { toJson } from '../json.js';
import { EXIT_NO_SUCH_UNIT_STATUS, EXIT_UNIT_INACTIVE, unitStatusAction } from './units.js';

function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  '));
}

export function formatStatus(s: DaemonStatus): string {
  const out: string[] = [
    `mptcpd-lite ${s.version}, pid ${s.pid}, up ${Math.round(s.uptimeSec)} s, units from ${s.unitDirs.join(', ') || '-'}`,
    ...(s.tracking ? [`service processes tracked by ${trackingText(s.tracking)}`] : []),
    '',
  ];
  const sockRows = [
    ['SOCKET', 'STATE', 'PROTOCOL', 'LISTEN', 'ACCEPT', 'CONNS', 'ACCEPTED', 'REFUSED', 'ACTIVATIONS', 'SERVICE'],
  ];
  for (const k of s.sockets) {
    const listen = k.listen.length > 0 ? k.listen : [{ address: '-', kind: '', protocol: 'other' as const }];
    listen.forEach((l, i) => {
      sockRows.push(
        i === 0
          ? [
              k.unit,
              k.state,
              l.protocol,
              l.address,
              k.accept ? 'yes' : 'no',
              String(k.connections),
              String(k.accepted),
              String(k.refused),
              String(k.activations),
              k.service ?? '-',
            ]
          : ['', '', l.protocol, l.address, '', '', '', '', '', ''],
      );
    });
  }
  out.push(...table(sockRows), '');
  const svcRows = [['SERVICE', 'STATE', 'PID', 'RESTARTS', 'RESULT']];
  for (const v of s.services)
    svcRows.push([
      v.unit,
      v.state,
      v.pids.length > 1 ? v.pids.join(',') : String(v.pid ?? '-'),
      String(v.restarts),
      v.result ?? '-',
    ]);
  out.push(...(s.services.length > 0 ? table(svcRows) : ['no services running']));
  if (s.failed.length > 0) {
    out.push('', 'FAILED');
    for (const f of s.failed)
      out.push(
        `${f.unit} (${f.stage === 'load' ? 'failed to load, skipped' : 'failed to start'}):`,
        ...f.messages.map((m) => `  ${m}`),
      );
  }
  return out.join('\n') + '\n';
}

export function statusCommand(): Command {
  return new Command('status')
    .description(
      "show the running daemon's sockets (state, listen addresses, mptcp/tcp/fallback, counters) and services (pid, state, restarts); with UNIT..., each unit as systemctl status does (state, result, main pid, tasks, listen addresses, its last log lines)",
    )
    .argument('[units...]', 'units to show (a name without .socket/.service is a service)')
    .option('--json', 'print the status as JSON')
    .option('-n, --lines <n>', 'with UNIT: how many of its last log lines to show', '10')
    .option('--control <path>', 'control socket of the daemon', defaultControlPath())
    .addHelpText(
      'after',
      examplesHelp([
        'mptcpd-lite status',
        'mptcpd-lite status --json --control /tmp/mptcpd.sock',
        'mptcpd-lite status echo.service -n 20',
        'mptcpd-lite status echo.socket --json',
      ]),
    )
    .addHelpText(
      'after',
      exitCodesHelp([
        [EXIT_OK, 'status printed (with UNIT: every unit is active)'],
        [EXIT_FAILURE, 'the daemon answered with an error'],
        [EXIT_ERROR, 'no daemon on the control socket (ENOENT/ECONNREFUSED), EACCES, timeout'],
        [EXIT_UNIT_INACTIVE, 'with UNIT: a unit is inactive or failed (as systemctl status)'],
        [EXIT_NO_SUCH_UNIT_STATUS, 'with UNIT: a unit is not loaded (as systemctl status)'],
      ]),
    )
    .action(
      action(async (units: string[], opts: { json?: boolean; control: string; lines?: string }) => {
        if (units.length > 0) return unitStatusAction(units, opts);
        const reply = await controlRequest(opts.control, 'status');
        if (!reply.ok) throw new CliError(`${opts.control}: ${reply.error.code}: ${reply.error.message}`, EXIT_FAILURE);
        const status = (reply as unknown as { status?: DaemonStatus }).status;
        if (!status) throw new CliError(`${opts.control}: reply without status`, EXIT_ERROR);
        process.stdout.write(opts.json ? toJson(status, 2) + '\n' : formatStatus(status));
        return EXIT_OK;
      }),
    );
}
