/**
 * sd_notify(3) for the daemon itself, so it can run under systemd `Type=notify`: one AF_UNIX
 * SOCK_DGRAM datagram of newline-separated KEY=VALUE to $NOTIFY_SOCKET (a path, or `@name` for the
 * abstract namespace). systemd checks the sender's PID (SCM_CREDENTIALS) against MainPID, so the
 * datagram must come from this process: @mptcp/native's sendDatagram sends it from here.
 */
import { sendDatagram } from '@mptcp/native';

export type NotifySender = (address: string, payload: Buffer) => Promise<void>;

/** The sender and its name (for error messages). */
export function notifySender(): { name: string; send: NotifySender } {
  return { name: 'sendDatagram', send: async (address, payload) => sendDatagram(address, payload) };
}

export interface Notifier {
  /** True when $NOTIFY_SOCKET was set. */
  readonly enabled: boolean;
  notify(fields: Record<string, string | number>): Promise<void>;
}

/** A notifier for $NOTIFY_SOCKET; a no-op when it is unset. Errors go to `onError`, never thrown. */
export function createNotifier(
  env: NodeJS.ProcessEnv,
  onError: (message: string) => void,
  sender: { name: string; send: NotifySender } = notifySender(),
): Notifier {
  const address = env.NOTIFY_SOCKET;
  if (!address) return { enabled: false, notify: async () => {} };
  // Sends are serialised so READY=1 cannot overtake an earlier STATUS=.
  let chain: Promise<void> = Promise.resolve();
  return {
    enabled: true,
    notify(fields) {
      const payload = Buffer.from(
        Object.entries(fields)
          .map(([k, v]) => `${k}=${v}`)
          .join('\n') + '\n',
      );
      chain = chain.then(() =>
        sender
          .send(address, payload)
          .catch((err: unknown) =>
            onError(
              `sd_notify to ${address} failed (${sender.name}): ${err instanceof Error ? err.message : String(err)}`,
            ),
          ),
      );
      return chain;
    },
  };
}

/** CLOCK_MONOTONIC in microseconds, for RELOADING=1's MONOTONIC_USEC= (Node's hrtime is CLOCK_MONOTONIC). */
export function monotonicUsec(): string {
  return (process.hrtime.bigint() / 1000n).toString();
}
