import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { DEFAULT_RECONNECT_RETRIES, defaultPrivacyLedgerPath, EarlyConnector, FilePrivacyLedger, parallelTraining, readSiteData, runNodeSite, siteRunSeed, siteSplitSeed } from '@fedtune/client-node';
import { balanceTextSplits, classCounts, deriveSeed, failoverConnector, FedtuneError, nodeIndexForSite, oneLine, prepareSiteSplits, siteClassesOf, socketIoConnector, type ClientConnector, type RunComplete, type SiteClasses, type SiteOutcome } from '@fedtune/shared';
import { addSiteDataOptions, refuseSiteDataFlagsWithoutEffect, siteDataKind, siteDataOptionsFrom } from './site-data-flags.ts';
import { checkSiteData } from './site-data-check.ts';
import { refuseUnusedCa } from './ca-option.ts';
import { refuseMissingInputPaths } from './input-paths.ts';
import { dataSummaryToShare } from './share-data-summary.ts';
import { loadSitePolicyFile } from './site-policy-file.ts';
import { showTerms } from './show-terms.ts';
import { RunConfig } from '@fedtune/coordinator/config';
import { intOption, serverUrlListOption, siteNameOption, typedOnCommandLine } from './options.ts';
import { addSiteAdversarialOptions, siteAdversarialSettings } from './run-config-flags.ts';
import { describeBackend, PEM_MAX_BYTES, readInputText, selectNodeBackend } from '@fedtune/shared/node';
import { pct } from '../ui/format.ts';
import { classesAlignedLine, peerText, siteEventLines } from '../ui/site-event-line.ts';

/** What the client command calls to join (tests pass their own to see what a command line asks for). */
export interface ClientDeps {
  runNodeSite: typeof runNodeSite;
  /** Starts the tfjs backend (default selectNodeBackend; tests hold it to see the connection open first). */
  selectNodeBackend?: typeof selectNodeBackend;
}

export function clientCommand(deps: ClientDeps = { runNodeSite }): Command {
  const startBackend = deps.selectNodeBackend ?? selectNodeBackend;
  const command = new Command('client')
    .description("join a run as a site: fine-tune on local data that never leaves this process; exits when the run completes")
    .option('--server <url>', 'coordinator URL (needed to join; not with --check-only), e.g. http://localhost:8080 (a bare host:port means http://); the nodes of a cluster comma-separated: the site fails over to the next when its node goes (docs/cluster.md)', serverUrlListOption)
    .option('--site <name>', 'this site’s name (letters, digits, ".", "_", "-"); required to join', siteNameOption)
    .option('--data <path>', 'CSV file with a label column, a folder with one sub-folder of images (PNG/JPEG) or .txt files per class, or digits:K/N for the built-in task; required to join')
    .option('--policy <file>', 'site policy (YAML or JSON): what this site consents to; the run\'s terms and every instruction are checked against it (docs/site-policy.md)')
    .option('--show-terms', 'print the run\'s terms (and the --policy verdict) and exit without joining')
    .option('--label-column <name>', 'label column of the CSV', 'label')
    .option('--token <token>', 'site token (from `fedtune sites add NAME` on the coordinator)')
    .option('--ca <file>', 'PEM certificate of a private CA to verify an https:// coordinator against (default: system CAs)')
    .option('--seed <n>', "the run's seed (the coordinator's --seed): this site's train/validation/test split is seeded from it and the site name, as in `fedtune simulate --seed` (default: the seed of a digits:K/N@SEED spec, else the run default)", intOption('seed'))
    .option('--retries <n>', `times to try again, with backoff (0.25 s doubling to 10 s), when the coordinator cannot be reached or the connection drops; then the site gives up (exit 1); 0: give up at once (default: ${DEFAULT_RECONNECT_RETRIES}, about 70 s)`, intOption('retries', 0))
    .option('--backend <name>', 'tfjs backend: tfjs-node-gpu, tfjs-node, wasm or cpu (default: fastest available)')
    .option('--workers <n>', 'train data-parallel on N worker threads, each with its own tfjs instance (default: the cores this machine has; 1 = one thread)', intOption('workers', 1))
    .option('--sync-every <k>', 'with --workers > 1: 1 averages the gradients of every batch (the same weights as one thread); k > 1 lets each worker take k whole batches between weight averages (local SGD, faster) (default 1)', intOption('sync-every', 1))
    .option('--audit-log <file>', 'append what this site sends (run, round, SHA-256 of the bytes sent, example count, metrics; never data) to this JSON-lines file; check it with `fedtune audit verify AUDIT --site-log FILE`')
    .option('--personal-model <dir>', 'when the run personalises (--personalize on the coordinator), save this site\'s personalised model here; it never leaves this machine')
    .option('--share-data-summary', 'after joining, send the coordinator the data check\'s counts (examples, duplicates dropped, missing values imputed, per-label counts, constant features); never values, feature names only if --policy allows (data.shareFeatureNames); default: nothing is shared (docs/data.md#sharing-the-data-summary)')
    .option('--no-text-augment', 'text data: train on this site\'s own texts only, even when the run asks for text augmentation (--text-augment on the coordinator)')
    .option('--privacy-ledger <file>', 'this site\'s privacy ledger: ε spent per run and in total, kept across runs and restarts (append-only, fsynced) (default: .fedtune/privacy-ledger.jsonl in the working directory)');
  addSiteAdversarialOptions(command);
  addSiteDataOptions(command);
  return command.action(async (o) => {
      refuseMissingInputPaths([
        { option: '--data', path: o.data === undefined || isBuiltinSiteData(o.data) ? undefined : o.data, kind: 'file or directory' },
        { option: '--policy', path: o.policy, kind: 'file' },
        { option: '--ca', path: o.ca, kind: 'file' },
      ]);
      const policy = o.policy ? loadSitePolicyFile(o.policy) : undefined;
      // --check-only reads and checks the data and exits: it needs neither a coordinator nor a site name.
      if (!o.server && !o.checkOnly) throw new FedtuneError('config', "required option '--server <url>' not specified");
      if (o.server && o.checkOnly) throw new FedtuneError('config', '--server has no effect with --check-only: it checks the data and exits without joining');
      refuseUnusedCa(o.ca, o.server, Boolean(o.checkOnly));
      const ca: string | undefined = o.ca ? readInputText(o.ca, { what: 'CA certificate', code: 'config', maxBytes: PEM_MAX_BYTES }) : undefined;
      if (o.showTerms) {
        // The terms come over the same TLS as the site's connection: verified against --ca when given.
        const verdict = await showTerms({ server: o.server[0], siteId: o.site, token: o.token, ...(ca !== undefined ? { ca } : {}), policy, json: o.json });
        if (verdict && !verdict.ok) process.exitCode = 1;
        return;
      }
      if (!o.site && !o.checkOnly) throw new FedtuneError('config', "required option '--site <name>' not specified");
      if (!o.data) throw new FedtuneError('config', "required option '--data <path>' not specified");
      if (typedOnCommandLine(command, 'syncEvery') && typedOnCommandLine(command, 'workers') && o.workers === 1) {
        throw new FedtuneError('config', '--sync-every paces the averaging between worker threads: it has no effect with --workers 1');
      }
      const dataOptions = siteDataOptionsFrom(o);
      // Fast start (docs/performance.md): the connection's handshake and the backend's start run while the data is read and checked.
      const server = o.checkOnly ? undefined : serverConnector(o.server, ca, o.site);
      const early = server === undefined ? undefined : new EarlyConnector(typeof server === 'string' ? socketIoConnector({ url: server }) : server);
      const backendReady = o.checkOnly ? undefined : startBackend(o.backend);
      backendReady?.catch(() => {}); // awaited below, after the data: its error is reported there
      // One turn of the event loop: the backend gets to its WebAssembly compile (on V8's background threads) before the data is read.
      await new Promise<void>((resolve) => setImmediate(resolve));
      try {
        const loaded = readSiteData(o.data, { labelColumn: o.labelColumn, ...dataOptions });
        refuseSiteDataFlagsWithoutEffect(command, siteDataKind(loaded.kind, o.textColumn));
        const checked = checkSiteData(loaded, { ...dataOptions, json: o.json, checkOnly: o.checkOnly }, (line) => console.log(line));
        if (o.checkOnly) return;
        const data = checked.text ?? checked.dataset!;
        const examples = checked.text ? checked.text.labels.length : checked.dataset!.y.length;
        const classes = checked.text ? textClassCounts(checked.text) : classCounts(checked.dataset!);
        const adversarial = siteAdversarialSettings(command);
        const parallel = parallelTraining({ workers: o.workers, syncEvery: o.syncEvery });
        const selection = await backendReady!;
        console.log(describeBackend(selection));
        console.log(`site ${o.site}: ${examples} local ${checked.text ? 'texts (tokenized with the vocabulary the run\'s model brings)' : 'examples'}, classes ${JSON.stringify(classes)}; only updates and metrics are sent`);
        // Whether a fit splits is decided per fit (the model's cost per step, DP-SGD, adversarial training, …): a fit
        // that stays on one thread says so, with its reason, at its first round.
        console.log(parallel.workers > 1 ? `training on up to ${parallel.workers} worker threads, ${parallel.syncEvery === 1 ? 'gradients averaged every batch' : `weights averaged every ${parallel.syncEvery} batches per worker`} (a fit that cannot use them says why)` : 'training on one thread');
        const ledger = FilePrivacyLedger.open(o.privacyLedger ?? defaultPrivacyLedgerPath(), (line) => console.warn(line));
        const opening = ledgerOpeningLine(ledger);
        if (opening) console.log(opening);
        // A run without differential privacy writes no ledger: its path is named once, with the first ε it records.
        let ledgerNamed = opening !== undefined;
        const runSeed = siteRunSeed(o.data, o.seed, RunConfig.parse({ runId: 'defaults' }).seed);
        const outcome = await deps.runNodeSite({
          siteId: o.site,
          splitSeed: siteSplitSeed(runSeed, o.site),
          ...(o.retries !== undefined ? { reconnectRetries: o.retries } : {}),
          server: server!,
          connector: early,
          data,
          token: o.token,
          backend: selection.choice,
          personalModelDir: o.personalModel,
          ...(checked.text && dataOptions.classWeights === 'balanced' ? { prepareTextSplits: (splits) => balanceTextSplits(splits, deriveSeed(runSeed, 'balance', o.site)) } : {}),
          ...(!checked.text && (dataOptions.impute !== 'none' || dataOptions.classWeights !== 'none')
            ? { prepareSplits: (splits) => prepareSiteSplits(splits, { impute: dataOptions.impute, classWeights: dataOptions.classWeights, seed: deriveSeed(runSeed, 'balance', o.site) }) }
            : {}),
          privacyLedger: ledger,
          ...(o.auditLog ? { auditLog: o.auditLog } : {}),
          parallel,
          ...(policy ? { policy } : {}),
          ...(o.textAugment === false ? { textAugmentation: false } : {}),
          ...(o.shareDataSummary || policy?.data.shareSummary ? { dataSummary: dataSummaryToShare(loaded, checked, dataOptions, classes) } : {}),
          ...siteClassesOption(siteClassesOf(loaded.classNames, o.data)),
          onLog: (line) => console.log(line),
          ...(Object.keys(adversarial).length ? { adversarial } : {}),
          onEvent: (e) => {
            for (const line of siteEventLines(e, { server: o.server, personalModel: o.personalModel })) console.log(line);
            // Only a round that spends privacy (differential privacy asked for) has a ledger line.
            if (e.type === 'privacy' && e.runEpsilon > 0) {
              console.log(`round ${e.round}: privacy ledger ε ${ledgerNum(e.runEpsilon)} spent in this run, ${ledgerNum(e.totalEpsilon)} in total${ledgerNamed ? '' : ` (recorded in ${ledger.path})`}`);
              ledgerNamed = true;
            }
          },
        });
        const end = siteEndLine(outcome);
        (end.ok ? console.log : console.error)(end.line);
        if (!end.ok || outcome.complete?.aborted) process.exitCode = 1;
      } finally {
        early?.discard();
      }
    });
}

/**
 * One coordinator (its URL, or a connector carrying the private CA), or the nodes of a cluster with failover
 * between them, starting at the node the site id hashes to (nodeIndexForSite: sites spread over the nodes).
 */
function serverConnector(urls: string[], ca: string | undefined, siteId: string): string | ClientConnector {
  if (urls.length === 1 && ca === undefined) return urls[0];
  const connectors = urls.map((url) => socketIoConnector({ url, ...(ca !== undefined ? { ca } : {}) }));
  return connectors.length === 1 ? connectors[0] : failoverConnector(connectors, { startAt: nodeIndexForSite(siteId, connectors.length) });
}

/** A built-in site data spec (`digits:K/N…`, read by readSiteData), not a path. */
function isBuiltinSiteData(spec: string): boolean {
  return spec.startsWith('digits:');
}

const siteClassesOption = (siteClasses: SiteClasses | undefined) => (siteClasses ? { siteClasses } : {});

/** The run's class order, and a warning for the classes this site has no example of. */
export { classesAlignedLine };

/**
 * The privacy ledger's line at start: what it holds, when there is a ledger file. Without one (no earlier run
 * spent ε here) nothing is said: a run without differential privacy never creates it.
 */
export function ledgerOpeningLine(ledger: Pick<FilePrivacyLedger, 'path' | 'totalEpsilon' | 'runIds'>): string | undefined {
  if (!existsSync(ledger.path)) return undefined;
  return `privacy ledger ${ledger.path}: ε ${ledgerNum(ledger.totalEpsilon())} spent in total over ${ledger.runIds().length} run(s)`;
}

function ledgerNum(e: number): string {
  return Number.isFinite(e) ? e.toFixed(4) : '∞';
}

function textClassCounts(text: { labels: Int32Array; classNames: string[] }): number[] {
  const counts = new Array<number>(text.classNames.length).fill(0);
  for (const y of text.labels) counts[y]++;
  return counts;
}

/**
 * The site's last line: how the run ended (runEndLine), or why the site stopped before it did — never welcomed
 * into a run (no run id: the coordinator was never reached, or refused this site), or cut off after joining.
 */
export function siteEndLine(outcome: Pick<SiteOutcome, 'completed' | 'runId' | 'complete' | 'roundsTrained' | 'reason'>): { ok: boolean; line: string } {
  if (outcome.completed) return { ok: true, line: runEndLine(outcome.runId, outcome.complete, outcome.roundsTrained) };
  const reason = oneLine(outcome.reason ?? 'no reason given', 300);
  // The site left by itself (its data does not fit the run's model): the reason says so.
  if (reason.startsWith('left the run: ')) return { ok: false, line: reason };
  return { ok: false, line: outcome.runId === undefined ? `gave up without joining a run: ${reason}` : `connection closed before the run completed: ${reason}` };
}

/**
 * The site's last line when the coordinator ends the run: complete, or stopped by the coordinator (its reason,
 * a peer's text: one line, bounded) — never "complete" for a run the coordinator aborted.
 */
export function runEndLine(runId: string | undefined, complete: RunComplete | undefined, roundsTrained: number): string {
  const accuracy = complete?.final ? `; global accuracy ${pct(complete.final.accuracy).trim()}` : '';
  if (complete?.aborted) return `run ${peerText(runId)} stopped by the coordinator after ${complete.rounds} rounds (${oneLine(complete.aborted, 200)}; ${roundsTrained} trained here)${accuracy}`;
  return `run ${peerText(runId)} complete after ${complete?.rounds} rounds (${roundsTrained} trained here)${accuracy}`;
}
