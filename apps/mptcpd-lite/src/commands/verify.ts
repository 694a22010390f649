/** `mptcpd-lite verify FILE…`: systemd-analyze verify for .socket/.service files. */
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Diagnostic } from '@mptcp/unit';
import { Command } from 'commander';
import { action, examplesHelp, exitCodesHelp } from '../action.js';
import { EXIT_ERROR, EXIT_FAILURE, EXIT_OK } from '../exit-codes.js';
import { toJson } from '../json.js';

export function verifyCommand(): Command {
  return new Command('verify')
    .description(
      "check unit files like `systemd-analyze verify`: systemd's messages (FILE:LINE: message, UNIT: message) on stderr",
    )
    .argument(
      '<file...>',
      '.socket or .service files (drop-ins are read from FILE.d/ beside them); a directory stands for its .socket and .service files, by name',
    )
    .option('--json', 'print the diagnostics as JSON on stdout instead')
    .option(
      '--search-path <dir...>',
      "where to look for drop-ins and the triggered service (default: each file's directory)",
    )
    .option(
      '--allow-unenforced-sandbox',
      'report sandbox/privilege directives mptcpd-lite does not enforce as warnings (as `run --allow-unenforced-sandbox` runs them) instead of errors',
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
        [
          EXIT_FAILURE,
          'at least one unit has errors: it would not load, its service is missing, or a service asks for sandboxing mptcpd-lite does not enforce',
        ],
        [EXIT_ERROR, 'usage error'],
      ]),
    )
    .action(
      action(
        async (
          args: string[],
          opts: { json?: boolean; searchPath?: string[]; recursiveErrors?: string; allowUnenforcedSandbox?: boolean },
        ) => {
          const api = await import('@mptcp/unit');
          const files = args.flatMap(unitFilesOf);
          const mode = opts.recursiveErrors;
          if (mode !== undefined && mode !== 'yes' && mode !== 'no' && mode !== 'one') {
            process.stderr.write(`mptcpd-lite verify: --recursive-errors must be yes, no or one, not ${mode}\n`);
            return EXIT_ERROR;
          }
          const r = api.verify(files, {
            ...(opts.searchPath ? { searchPaths: opts.searchPath } : {}),
            ...(mode ? { recursiveErrors: mode } : {}),
          });
          // Beyond systemd-analyze: a service whose sandboxing mptcpd-lite would not enforce (it would
          // refuse to start its processes) is an error, or a warning with --allow-unenforced-sandbox.
          const sandbox = await sandboxDiagnostics(files, opts.searchPath, opts.allowUnenforcedSandbox === true);
          r.diagnostics.push(...sandbox);
          const refused = sandbox.some((d) => d.severity === 'error');
          const failed = (mode ? r.strictFailed || sandbox.length > 0 : r.failed) || refused;
          if (opts.json)
            process.stdout.write(
              toJson({ failed, diagnostics: r.diagnostics.map((d) => ({ ...d, text: api.formatDiagnostic(d) })) }, 2) +
                '\n',
            );
          else for (const d of r.diagnostics) process.stderr.write(api.formatDiagnostic(d) + '\n');
          return failed ? EXIT_FAILURE : EXIT_OK;
        },
      ),
    );
}

/**
 * A directory argument: its .socket and .service files in the order `oracle.sh verify DIR`'s shell
 * glob gives them to systemd-analyze (C collation); any other argument as given.
 */
function unitFilesOf(arg: string): string[] {
  let dir = false;
  try {
    dir = statSync(arg).isDirectory();
  } catch {
    // not there: systemd-analyze's "Unit X not found." comes from verify()
  }
  if (!dir) return [arg];
  return readdirSync(arg)
    .filter((f) => f.endsWith('.socket') || f.endsWith('.service'))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((f) => join(arg, f));
}

/**
 * The sandbox diagnostics of the services among `files` and of the services the sockets among them
 * trigger (an Accept=yes socket's template), each service file once.
 */
async function sandboxDiagnostics(
  files: readonly string[],
  searchPath: string[] | undefined,
  allowed: boolean,
): Promise<Diagnostic[]> {
  const api = await import('@mptcp/unit');
  const { enforcementOf, unenforcedDirectives, unenforcedMessage } = await import('@mptcp/activation/sandbox');
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const file of files.map((f) => resolve(f))) {
    const searchPaths = searchPath ?? [dirname(file)];
    let service = file;
    if (file.endsWith('.socket')) {
      const r = api.loadUnitFile(file, { searchPaths });
      if (r.unit?.kind !== 'socket') continue;
      const found = api.findUnitFile(api.serviceNameFor(r.unit), searchPaths);
      if (!found) continue;
      service = found;
    }
    if (!service.endsWith('.service') || seen.has(service)) continue;
    seen.add(service);
    // A template is checked as an instance, as systemd-analyze verify does.
    const base = basename(service);
    const name = base.endsWith('@.service') ? `${base.slice(0, -'@.service'.length)}@test_instance.service` : base;
    const r = api.loadUnitFile(service, { searchPaths, name });
    if (r.unit?.kind !== 'service') continue;
    // The daemon's default launcher is the native one.
    for (const d of unenforcedDirectives(r.unit, enforcementOf(true))) {
      const { file: where, line, ...bare } = d;
      out.push({
        severity: allowed ? 'warning' : 'error',
        file: where ?? service,
        ...(line !== undefined ? { line } : {}),
        message: unenforcedMessage(bare, allowed),
      });
    }
  }
  return out;
}
