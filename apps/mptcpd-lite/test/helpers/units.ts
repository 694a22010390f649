/** Unit directories for daemon tests, with free ports. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export { freePort } from '@mptcp/testkit/net';

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function writeUnits(dir: string, units: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(units)) writeFileSync(path.join(dir, name), text);
  return dir;
}

/** `DIR/units` with an MPTCP Accept=yes echo (echo.socket on 0.0.0.0:PORT, echo@.service runs cat). */
export function writeEchoUnits(dir: string, port: number): string {
  return writeUnits(path.join(dir, 'units'), {
    'echo.socket': `[Socket]\nListenStream=0.0.0.0:${port}\nSocketProtocol=mptcp\nAccept=yes\n`,
    'echo@.service': '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n',
  });
}
