/** Every scenario, in report order. */
import type { Scenario } from '../lib/scenario.js';
import { aggregation } from './aggregation.js';
import { loopback } from './loopback.js';

export const scenarios: Scenario[] = [loopback, aggregation];
