/** Engine logger for tests: silent unless ACT_DEBUG=1; always records warnings for assertions. */
import { consoleLogger, silentLogger, type Logger } from '../../src/logger.js';

export interface RecordingLogger extends Logger {
  warnings: string[];
  errors: string[];
}

export function testLogger(): RecordingLogger {
  const inner = process.env.ACT_DEBUG === '1' ? consoleLogger('debug') : silentLogger;
  const warnings: string[] = [];
  const errors: string[] = [];
  return {
    warnings,
    errors,
    debug: (m, f) => inner.debug(m, f),
    info: (m, f) => inner.info(m, f),
    warn: (m, f) => {
      warnings.push(f?.unit ? `${f.unit}: ${m}` : m);
      inner.warn(m, f);
    },
    error: (m, f) => {
      errors.push(f?.unit ? `${f.unit}: ${m}` : m);
      inner.error(m, f);
    },
  };
}
