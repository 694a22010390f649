/** `mptcpd-lite verify FILE…`: systemd-analyze verify for .socket/.service files. */
import { Command } from 'commander';
import { action, examplesHelp, exitCodesHelp } from '../action.js';
import { EXIT_ERROR, EXIT_FAILURE, EXIT_OK } from '../exit-codes.js';
import { toJson } from '../json.js';

export function verifyCommand(): Command {
  return new Command('verify')
    .description('check unit files like `systemd-analyze verify`: systemd\'s messages (FILE:LINE: message, UNIT: message) on stderr')
    .argument('<file...>', '.socket or .service files (drop-ins are read from FILE.d/ beside them)')
    .option('--json', 'print the diagnostics as JSON on stdout instead')
    .option('--search-path <dir...>', 'where to look for drop-ins and the triggered service (default: each file\'s directory)')
    .addHelpText('after', examplesHelp(['mptcpd-lite verify examples/units/echo.socket examples/units/http.socket', 'mptcpd-lite verify --json /etc/mptcpd-lite/units/*.socket']))
    .addHelpText('after', exitCodesHelp([[EXIT_OK, 'no errors (warnings may have been printed)'], [EXIT_FAILURE, 'at least one unit has errors: it would not load, or its service is missing'], [EXIT_ERROR, 'usage error']]))
    .action(
      action(async (files: string[], opts: { json?: boolean; searchPath?: string[] }) => {
        const api = await import('@mptcp/unit');
        const r = api.verify(files, opts.searchPath ? { searchPaths: opts.searchPath } : {});
        if (opts.json) process.stdout.write(toJson({ failed: r.failed, diagnostics: r.diagnostics.map((d) => ({ ...d, text: api.formatDiagnostic(d) })) }, 2) + '\n');
        else for (const d of r.diagnostics) process.stderr.write(api.formatDiagnostic(d) + '\n');
        return r.failed ? EXIT_FAILURE : EXIT_OK;
      }),
    );
}
