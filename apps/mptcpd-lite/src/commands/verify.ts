/** `mptcpd-lite verify FILE…`: systemd-analyze verify for .socket/.service files. */
import { Command } from 'commander';
import { action, examplesHelp, exitCodesHelp } from '../action.js';
import { EXIT_ERROR, EXIT_FAILURE, EXIT_OK } from '../exit-codes.js';
import { toJson } from '../json.js';

export function verifyCommand(): Command {
  return new Command('verify')
    .description(
      "check unit files like `systemd-analyze verify`: systemd's messages (FILE:LINE: message, UNIT: message) on stderr",
    )
    .argument('<file...>', '.socket or .service files (drop-ins are read from FILE.d/ beside them)')
    .option('--json', 'print the diagnostics as JSON on stdout instead')
    .option(
      '--search-path <dir...>',
      "where to look for drop-ins and the triggered service (default: each file's directory)",
    )
    .option(
      '--recursive-errors <mode>',
      'as systemd-analyze 257: yes|no|one; given, any warning fails (no: dependencies are not checked)',
    )
    .addHelpText(
      'after',
      examplesHelp([
        'mptcpd-lite verify examples/units/echo.socket examples/units/http.socket',
        'mptcpd-lite verify --json /etc/mptcpd-lite/units/*.socket',
      ]),
    )
    .addHelpText(
      'after',
      exitCodesHelp([
        [EXIT_OK, 'no errors (warnings may have been printed; with --recursive-errors they count)'],
        [EXIT_FAILURE, 'at least one unit has errors: it would not load, or its service is missing'],
        [EXIT_ERROR, 'usage error'],
      ]),
    )
    .action(
      action(async (files: string[], opts: { json?: boolean; searchPath?: string[]; recursiveErrors?: string }) => {
        const api = await import('@mptcp/unit');
        const mode = opts.recursiveErrors;
        if (mode !== undefined && mode !== 'yes' && mode !== 'no' && mode !== 'one') {
          process.stderr.write(`mptcpd-lite verify: --recursive-errors must be yes, no or one, not ${mode}\n`);
          return EXIT_ERROR;
        }
        const r = api.verify(files, {
          ...(opts.searchPath ? { searchPaths: opts.searchPath } : {}),
          ...(mode ? { recursiveErrors: mode } : {}),
        });
        const failed = mode ? r.strictFailed : r.failed;
        if (opts.json)
          process.stdout.write(
            toJson({ failed, diagnostics: r.diagnostics.map((d) => ({ ...d, text: api.formatDiagnostic(d) })) }, 2) +
              '\n',
          );
        else for (const d of r.diagnostics) process.stderr.write(api.formatDiagnostic(d) + '\n');
        return failed ? EXIT_FAILURE : EXIT_OK;
      }),
    );
}
