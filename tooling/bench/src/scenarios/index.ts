/** Every scenario, in report order. */
import type { Scenario } from '../lib/scenario.js';
import { acceptNo } from './accept-no.js';
import { activation } from './activation.js';
import { aggregation } from './aggregation.js';
import { daemon } from './daemon.js';
import { failover } from './failover.js';
import { http } from './http.js';
import { loopback } from './loopback.js';
import { proxy } from './proxy.js';
import { scaling } from './scaling.js';
import { unitLoad, unitParse } from './unit-parse.js';
import { veth } from './veth.js';

export const scenarios: Scenario[] = [
  loopback,
  veth,
  aggregation,
  failover,
  unitParse,
  unitLoad,
  activation,
  acceptNo,
  daemon,
  scaling,
  proxy,
  http,
];
