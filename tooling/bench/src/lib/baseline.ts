/** systemd-socket-activate, the reference implementation our activation is compared with. */
import { start, type Running } from './proc.js';

/** Start `systemd-socket-activate -l ADDR [flags] CMD...` and wait until it listens. */
export async function socketActivate(listen: string, flags: string[], cmd: string[]): Promise<Running> {
  const r = start('systemd-socket-activate', ['-l', listen, ...flags, ...cmd]);
  await r.waitFor(/Listening on/, 5000);
  return r;
}
