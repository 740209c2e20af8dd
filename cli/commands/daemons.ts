// `bpfleet reconciler` and `bpfleet agent`: start a daemon from its config
// file and run until SIGINT/SIGTERM. The agent never detaches on exit.

import type { Command } from 'commander';
import { startAgent } from '../../agent/daemon.js';
import { loadAgentConfig, loadReconcilerConfig } from '../../schemas/config-file.js';
import { startReconciler } from '../../reconciler/daemon.js';
import { authorizationsCheck } from '../compile-options.js';
import { createLogger } from '../logger.js';
import { fail } from '../output.js';

function untilSignal(close: () => Promise<void>, log: { info(o: object, m?: string): void }): Promise<void> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      close().finally(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

export function registerDaemons(program: Command): void {
  program
    .command('reconciler')
    .description('Run the reconciler: watch the fleet repository, authenticate every commit, serve signed desired state to agents.')
    .requiredOption('--config <file>', 'reconciler configuration (YAML or JSON; see schemas/protocol/reconciler.config.schema.json)')
    .action(async (o: { config: string }) => {
      let cfg;
      try {
        cfg = loadReconcilerConfig(o.config);
      } catch (err) {
        return fail((err as Error).message);
      }
      const log = createLogger('reconciler', cfg.logLevel);
      try {
        const d = await startReconciler(cfg, log, authorizationsCheck());
        await untilSignal(() => d.close(), log);
      } catch (err) {
        log.fatal({ code: (err as { code?: string }).code }, (err as Error).message);
        process.exitCode = 1;
      }
    });

  program
    .command('agent')
    .description("Run a node agent: apply this host's signed desired state to the datapath and report status.")
    .requiredOption('--config <file>', 'agent configuration (YAML or JSON; see schemas/protocol/agent.config.schema.json)')
    .action(async (o: { config: string }) => {
      let cfg;
      try {
        cfg = loadAgentConfig(o.config);
      } catch (err) {
        return fail((err as Error).message);
      }
      const log = createLogger(`agent ${cfg.host}`, cfg.logLevel);
      try {
        const d = await startAgent(cfg, log);
        await untilSignal(() => d.close(), log);
      } catch (err) {
        log.fatal({ code: (err as { code?: string }).code }, (err as Error).message);
        process.exitCode = 1;
      }
    });
}
