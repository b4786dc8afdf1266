import { Command } from 'commander';
import { loadSiteData, parallelTraining, runNodeSite, siteRunSeed, siteSplitSeed } from '@fedtune/client-node';
import { readFileSync } from 'node:fs';
import { classCounts, socketIoConnector } from '@fedtune/shared';
import { RunConfig } from '@fedtune/coordinator/config';
import { intOption, serverUrlOption, siteNameOption } from './options.ts';
import { addSiteAdversarialOptions, siteAdversarialSettings } from './run-config-flags.ts';
import { describeBackend, selectNodeBackend } from '@fedtune/shared/node';
import { num, pct } from '../ui/format.ts';
import { siteReportLine } from '../ui/site-report-table.ts';

/** What the client command calls to join (tests pass their own to see what a command line asks for). */
export interface ClientDeps {
  runNodeSite: typeof runNodeSite;
}

export function clientCommand(deps: ClientDeps = { runNodeSite }): Command {
  const command = new Command('client')
    .description("join a run as a site: fine-tune on local data that never leaves this process; exits when the run completes")
    .requiredOption('--server <url>', 'coordinator URL, e.g. http://localhost:8080 (a bare host:port means http://)', serverUrlOption)
    .requiredOption('--site <name>', 'this site’s name (letters, digits, ".", "_", "-")', siteNameOption)
    .requiredOption('--data <path>', 'CSV file with a label column, or digits:K/N for the built-in task')
    .option('--label-column <name>', 'label column of the CSV', 'label')
    .option('--token <token>', 'site token (from `fedtune sites add NAME` on the coordinator)')
    .option('--ca <file>', 'PEM certificate of a private CA to verify an https:// coordinator against (default: system CAs)')
    .option('--seed <n>', "the run's seed (the coordinator's --seed): this site's train/validation/test split is seeded from it and the site name, as in `fedtune simulate --seed` (default: the seed of a digits:K/N@SEED spec, else the run default)", intOption('seed'))
    .option('--backend <name>', 'tfjs backend: tfjs-node-gpu, tfjs-node, wasm or cpu (default: fastest available)')
    .option('--workers <n>', 'train data-parallel on N worker threads, each with its own tfjs instance (default: the cores this machine has; 1 = one thread)', intOption('workers', 1))
    .option('--sync-every <k>', 'with --workers > 1: 1 averages the gradients of every batch (the same weights as one thread); k > 1 lets each worker take k whole batches between weight averages (local SGD, faster) (default 1)', intOption('sync-every', 1))
    .option('--audit-log <file>', 'append what this site sends (run, round, SHA-256 of the bytes sent, example count, metrics; never data) to this JSON-lines file; check it with `fedtune audit verify AUDIT --site-log FILE`')
    .option('--personal-model <dir>', 'when the run personalises (--personalize on the coordinator), save this site\'s personalised model here; it never leaves this machine');
  addSiteAdversarialOptions(command);
  return command.action(async (o) => {
      const adversarial = siteAdversarialSettings(command);
      const parallel = parallelTraining({ workers: o.workers, syncEvery: o.syncEvery });
      const selection = await selectNodeBackend(o.backend);
      console.log(describeBackend(selection));
      const data = loadSiteData(o.data, { labelColumn: o.labelColumn });
      console.log(`site ${o.site}: ${data.y.length} local examples, classes ${JSON.stringify(classCounts(data))}; only updates and metrics are sent`);
      console.log(parallel.workers > 1 ? `training on ${parallel.workers} worker threads, ${parallel.syncEvery === 1 ? 'gradients averaged every batch' : `weights averaged every ${parallel.syncEvery} batches per worker`}` : 'training on one thread');
      const runSeed = siteRunSeed(o.data, o.seed, RunConfig.parse({ runId: 'defaults' }).seed);
      const outcome = await deps.runNodeSite({
        siteId: o.site,
        splitSeed: siteSplitSeed(runSeed, o.site),
        server: o.ca ? socketIoConnector({ url: o.server, ca: readFileSync(o.ca, 'utf8') }) : o.server,
        data,
        token: o.token,
        backend: selection.choice,
        personalModelDir: o.personalModel,
        ...(o.auditLog ? { auditLog: o.auditLog } : {}),
        parallel,
        onLog: (line) => console.log(line),
        ...(Object.keys(adversarial).length ? { adversarial } : {}),
        onEvent: (e) => {
          if (e.type === 'welcome') console.log(`joined run ${e.runId}`);
          if (e.type === 'fit-done') console.log(`round ${e.round}: trained on ${e.numExamples} examples, loss ${num(e.loss)}, accuracy ${pct(e.accuracy).trim()}, ${(e.durationMs / 1000).toFixed(1)} s`);
          if (e.type === 'evaluate-done') console.log(`round ${e.round}: global model on the local test split: accuracy ${pct(e.metrics.accuracy).trim()}`);
          if (e.type === 'site-report-done') console.log(siteReportLine(e.result, o.personalModel));
          if (e.type === 'reconnecting') console.log(`cannot reach the coordinator at ${o.server} (${e.reason}); retrying in ${(e.delayMs / 1000).toFixed(1)} s (attempt ${e.attempt})`);
          if (e.type === 'rejected') console.log(`rejected by the coordinator: ${e.code} — ${e.reason}`);
          if (e.type === 'failed') console.log(e.round === 0 ? `this site cannot train the run's model: ${e.reason}` : `round ${e.round} failed here: ${e.code} — ${e.reason}`);
        },
      });
      if (outcome.completed) {
        console.log(`run ${outcome.runId} complete after ${outcome.complete?.rounds} rounds (${outcome.roundsTrained} trained here)${outcome.complete?.final ? `; global accuracy ${pct(outcome.complete.final.accuracy).trim()}` : ''}`);
        if (outcome.complete?.aborted) process.exitCode = 1;
      } else {
        console.error(`connection closed before the run completed: ${outcome.reason}`);
        process.exitCode = 1;
      }
    });
}
