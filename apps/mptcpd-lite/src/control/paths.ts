/** Where the daemon's control socket lives by default. */
import path from 'node:path';

/**
 * $MPTCPD_LITE_CONTROL, else /run/mptcpd-lite/control.sock for root, else
 * $XDG_RUNTIME_DIR/mptcpd-lite/control.sock, else /tmp/mptcpd-lite-UID/control.sock.
 */
export function defaultControlPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MPTCPD_LITE_CONTROL) return env.MPTCPD_LITE_CONTROL;
  const uid = process.getuid?.() ?? 0;
  if (uid === 0) return '/run/mptcpd-lite/control.sock';
  if (env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, 'mptcpd-lite', 'control.sock');
  return `/tmp/mptcpd-lite-${uid}/control.sock`;
}
