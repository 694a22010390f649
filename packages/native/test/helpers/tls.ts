/** A throw-away self-signed certificate for the TLS tests, made with openssl in a temporary directory. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SelfSigned {
  /** Paths of the PEM files. */
  key: string;
  cert: string;
  /** Deletes the directory. */
  remove(): void;
}

/** CN=localhost, valid one day; `san` adds a subjectAltName (e.g. `DNS:localhost`). */
export function selfSignedCert(prefix: string, san?: string): SelfSigned {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  const ext = san === undefined ? [] : ['-addext', `subjectAltName=${san}`];
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      ...ext,
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { key, cert, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
