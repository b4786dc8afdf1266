import { Command, InvalidArgumentError } from 'commander';
import { SIMULATED_SITE_POLICY } from '../simulation/simulated-site-policy.ts';
import { parseVirtualSiteRange, runVirtualSites, VirtualDigitsSites, type VirtualSiteRange } from '@fedtune/client-node';
import { parsePartitionSpec, socketIoConnector, virtualSiteName, type SiteOutcome } from '@fedtune/shared';
import { builtinDigits, describeBackend, selectNodeBackend } from '@fedtune/shared/node';
import { RunConfig } from '@fedtune/coordinator/config';
import { choiceOption, intOption, serverUrlOption } from './options.ts';
import { AUTO_RESAMPLE_EXAMPLES, describeSiteData, parseSiteDataSpec, resampleAlpha } from '../simulation/simulation-site-data.ts';
import { pct } from '../ui/format.ts';

/** What the worker command calls to run its sites (tests pass their own to see what a command line asks for). */
export interface WorkerDeps {
  runVirtualSites: typeof runVirtualSites;
}

/**
 * `fedtune worker`: one process hosts many virtual sites of the built-in digits task, each its own
 * socket.io connection and the same SiteClient as any site; a site's digits and model exist only while it
 * answers an instruction. Workers on several machines, each with its own range, make a distributed simulation
 * of one coordinator (`fedtune coordinator --min-sites N --fraction F --sites-drop-model`).
 */
export function workerCommand(deps: WorkerDeps = { runVirtualSites }): Command {
  const command = new Command('worker')
    .description('host many virtual sites of the built-in digits task in this process (ids v-00000…), each made only when the coordinator samples it: a simulation spread over machines')
    .requiredOption('--server <url>', 'coordinator URL, e.g. http://localhost:8080', serverUrlOption)
    .requiredOption('--virtual-sites <A-B>', 'the indices of the sites this worker hosts, e.g. 0-999 (ids v-00000 … v-00999); another worker takes 1000-1999', virtualSitesOption)
    .option('--task <name>', 'built-in task (digits)', choiceOption('task', ['digits'] as const), 'digits')
    .option('--seed <n>', "the run's seed (the coordinator's --seed): each site's digits and split come from it and the site's index (default: the run default)", intOption('seed'))
    .option('--site-examples <n>', `digits each site draws with replacement from the 7,900-digit pool (default ${AUTO_RESAMPLE_EXAMPLES})`, intOption('site-examples', 10))
    .option('--partition <spec>', 'label skew of the sites: iid or dirichlet:ALPHA', 'dirichlet:0.5')
    .option('--no-feature-shift', "don't render each site's digits through its scanner profile")
    .option('--token <token>', 'site token every virtual site presents (a coordinator that requires tokens)')
    .option('--backend <name>', 'tfjs backend: tfjs-node-gpu, tfjs-node, wasm or cpu (default: fastest available)');
  return command.action(async (o) => {
    const range: VirtualSiteRange = o.virtualSites;
    const seed: number = o.seed ?? RunConfig.parse({ runId: 'defaults' }).seed;
    const spec = parseSiteDataSpec(`resample:${o.siteExamples ?? AUTO_RESAMPLE_EXAMPLES}`);
    const examples = spec.mode === 'resample' ? spec.examples : AUTO_RESAMPLE_EXAMPLES;
    const digits = builtinDigits();
    const sites = new VirtualDigitsSites(digits.pool, { seed, examples, alpha: resampleAlpha(parsePartitionSpec(o.partition), '--partition (each virtual site resamples its digits) takes'), featureShift: o.featureShift });
    const selection = await selectNodeBackend(o.backend);
    console.log(describeBackend(selection));
    const count = range.last - range.first + 1;
    console.log(`worker: ${count} virtual sites ${virtualSiteName(range.first)} … ${virtualSiteName(range.last)} on ${o.server} (task digits, seed ${seed}, partition ${o.partition})`);
    console.log(describeSiteData({ siteData: { mode: 'resample', examples }, automatic: false }, digits.pool.y.length));
    let fits = 0;
    let evaluations = 0;
    let joined = 0;
    const outcomes: SiteOutcome[] = await Promise.all(
      deps.runVirtualSites({
        sites,
        range,
        connector: () => socketIoConnector({ url: o.server }),
        backend: selection.backend,
        token: o.token,
        policy: SIMULATED_SITE_POLICY,
        onEvent: (siteId, e) => {
          if (e.type === 'terms' && ++joined % Math.max(1, Math.ceil(count / 10)) === 0) console.log(`worker: ${joined}/${count} sites joined`);
          if (e.type === 'fit-done') {
            fits++;
            console.log(`round ${e.round}: ${siteId} trained on ${e.numExamples} examples, accuracy ${pct(e.accuracy).trim()}`);
          }
          if (e.type === 'evaluate-done') evaluations++;
          if (e.type === 'failed') console.log(`round ${e.round}: ${siteId} failed: ${e.code} — ${e.reason}`);
          if (e.type === 'refused-terms') console.log(`${siteId} left the run: ${e.reason}`);
        },
      }),
    );
    const completed = outcomes.filter((s) => s.completed);
    const final = completed[0]?.complete?.final;
    console.log(
      `worker done: ${completed.length}/${count} sites completed the run${final ? ` (global accuracy ${pct(final.accuracy).trim()})` : ''}; ${fits} fits and ${evaluations} evaluations here; ${sites.materialised} site datasets made, at most ${sites.peakLive} at once, ${sites.live} left`,
    );
    const failed = outcomes.filter((s) => !s.completed);
    if (failed.length > 0) {
      console.error(`${failed.length} sites did not complete: ${failed[0].siteId}: ${failed[0].reason ?? 'unknown'}`);
      process.exitCode = 1;
    }
  });
}

/** `--virtual-sites A-B`. */
function virtualSitesOption(value: string): VirtualSiteRange {
  try {
    return parseVirtualSiteRange(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}
