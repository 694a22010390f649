import type { SocketState } from './engine-types.js';

/** systemd's state_translation_table for sockets: SocketState → ActiveState. */
export function activeStateOf(state: SocketState): string {
  switch (state) {
    case 'listening':
    case 'running':
      return 'active';
    case 'start-pre':
    case 'start-post':
      return 'activating';
    case 'failed':
      return 'failed';
    case 'dead':
      return 'inactive';
    default:
      return 'deactivating';
  }
}
