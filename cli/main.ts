// bpfleet command line: one subcommand per file under commands/, each with
// --help. Exit codes follow terraform: 0 ok / no change, 1 error, 2 changes
// (plan) or not converged (status).

import { Command, CommanderError } from 'commander';
import { registerDaemons } from './commands/daemons.js';
import { registerHistory } from './commands/history.js';
import { registerPlan } from './commands/plan.js';
import { registerStatus } from './commands/status.js';
import { registerValidate } from './commands/validate.js';
import { registerVerify } from './commands/verify.js';
import { VERSION } from './version.js';

export function buildProgram(): Command {
  const program = new Command('bpfleet')
    .description('GitOps for eBPF datapaths: signed commits in, atomic XDP/TC chain swaps out')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerValidate(program);
  registerPlan(program);
  registerVerify(program);
  registerDaemons(program);
  registerHistory(program);
  registerStatus(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version are not errors.
      return err.exitCode === 0 ? 0 : 1;
    }
    throw err;
  }
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}
