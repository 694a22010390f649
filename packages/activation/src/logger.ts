/**
 * The logging seam: the daemon decides where lines go (stderr, journal, a test array). Messages are
 * systemd's wording with the unit name first (`echo.socket: Trigger limit hit, …`), so that users can
 * grep for the same text they know from journalctl.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogFields {
  unit?: string;
  /**
   * The message names the unit itself and takes no `unit: ` prefix (systemd's job lines, logged
   * for the unit without its prefix: `Failed to start echo.service - Echo.`).
   */
  bare?: boolean;
  [key: string]: unknown;
}

/**
 * unit_status_string() with systemd 257's StatusUnitFormat=combined (Debian's build, the oracle):
 * `NAME - DESCRIPTION`, or the name alone without a Description= (or one equal to the name).
 */
export function unitStatusString(name: string, description: string | undefined): string {
  return description === undefined || description === '' || description === name ? name : `${name} - ${description}`;
}

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** A logger that drops everything: the default, so that a library never writes on its own. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** A logger that writes `LEVEL unit: message` lines to stderr, for scripts and examples. */
export function consoleLogger(minimum: LogLevel = 'info'): Logger {
  const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
  const write = (level: LogLevel, message: string, fields?: LogFields): void => {
    if (order[level] < order[minimum]) return;
    const prefix = fields?.unit === undefined || fields.bare === true ? '' : `${fields.unit}: `;
    process.stderr.write(`${level.toUpperCase().padEnd(5)} ${prefix}${message}\n`);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}
