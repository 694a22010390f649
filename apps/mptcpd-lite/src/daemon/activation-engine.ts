/** The Engine over @mptcp/activation. */
import type { Logger } from '../log.js';
import type { Engine } from './engine.js';

export interface EngineOptions {
  unitDirs: string[];
  log: Logger;
}

export async function createEngine(_opts: EngineOptions): Promise<Engine> {
  throw Object.assign(new Error('@mptcp/activation has no engine yet'), { code: 'ACTIVATION_MISSING' });
}
