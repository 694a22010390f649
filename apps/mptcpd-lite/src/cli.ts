#!/usr/bin/env node
import { Command } from 'commander';

const program = new Command('mptcpd-lite').description('MPTCP socket-activation daemon').version('0.1.0');
program.parse();
