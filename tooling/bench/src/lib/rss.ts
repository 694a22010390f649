/** Sampling a process's RSS while something else runs. */
import { rssBytes } from './proc.js';

export interface RssSampler {
  stop(): { peakMB: number; lastMB: number; samples: number };
}

export function sampleRss(pid: number, everyMs = 100): RssSampler {
  let peak = 0;
  let last = 0;
  let n = 0;
  const tick = (): void => {
    try {
      last = rssBytes(pid);
      peak = Math.max(peak, last);
      n++;
    } catch {
      /* process gone */
    }
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return {
    stop() {
      clearInterval(timer);
      tick();
      return { peakMB: peak / 2 ** 20, lastMB: last / 2 ** 20, samples: n };
    },
  };
}
