/**
 * User=/Group= resolution from /etc/passwd and /etc/group (Node has no getpwnam). Numeric ids are
 * taken as they are, as systemd does.
 */
import { readFileSync } from 'node:fs';
import { ActivationError } from './errors.js';

export interface ResolvedUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

function table(path: string): string[][] {
  try {
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => l.split(':'));
  } catch {
    return [];
  }
}

export function resolveUser(user: string, unitName?: string): ResolvedUser {
  const numeric = /^\d+$/.test(user);
  for (const f of table('/etc/passwd')) {
    const [name, , uid, gid, , home, shell] = f;
    if (name === undefined || uid === undefined || gid === undefined) continue;
    if ((numeric && uid === user) || (!numeric && name === user)) {
      return { name, uid: Number(uid), gid: Number(gid), home: home || '/', shell: shell || '/bin/sh' };
    }
  }
  if (numeric) return { name: user, uid: Number(user), gid: Number(user), home: '/', shell: '/bin/sh' };
  throw new ActivationError('USER_NOT_FOUND', `Failed to determine user credentials: user "${user}" not found`, { unit: unitName });
}

export function resolveGroup(group: string, unitName?: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  for (const f of table('/etc/group')) {
    if (f[0] === group && f[2] !== undefined) return Number(f[2]);
  }
  throw new ActivationError('GROUP_NOT_FOUND', `Failed to determine group credentials: group "${group}" not found`, { unit: unitName });
}
