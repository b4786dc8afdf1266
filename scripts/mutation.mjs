#!/usr/bin/env node
// Mutation testing (StrykerJS) of the modules whose input comes from outside or whose numbers must be exact.
//
//   npm run mutation                  every module below, one after the other
//   npm run mutation -- pgd-fgsm rdp  only these modules (names from the table; --list prints them)
//   npm run mutation -- --force       ignore the incremental results of earlier runs
//
// Each module is mutated on its own, against its own test files only (vitest.mutation.config.ts), so a
// mutant runs a few fast tests, not the suite. Prints module → score, writes bench/results/mutation.json
// (merged with earlier runs' entries for modules not run now) and exits 1 if a module run now scores under
// its threshold. Not part of `npm test` or CI: it takes minutes per module.
//
// Stryker mutates the files in place (`inPlace`: through the @fedtune/shared workspace symlink a sandbox
// copy would load the unmutated sources) and restores them when it ends; do not edit or commit the module
// files while it runs (`npm run typecheck` fails on the instrumented file meanwhile). A run killed hard
// (SIGKILL) can leave them instrumented: this script refuses to start then and says which files to
// `git checkout`. StrykerJS is a root devDependency (pinned by the lockfile), so `npm ci` is all it needs.
import { spawnSync } from 'node:child_process';
import { scratchTmpdir } from './scratch-tmpdir.mjs';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = join(root, 'reports', 'mutation');
const resultsFile = join(root, 'bench', 'results', 'mutation.json');
const THRESHOLD = 85;

/** name → the files (or `file:from-to` line ranges) mutated, and the test files that must kill the mutants. */
const MODULES = [
  {
    name: 'pgd-fgsm',
    mutate: ['shared/src/robustness/attacks/pgd.ts', 'shared/src/robustness/attacks/fgsm.ts', 'shared/src/robustness/attacks/signed-step.ts'],
    tests: ['tests/robustness/attacks.test.ts', 'tests/wasm-kernels/signed-step.test.ts', 'tests/robustness/attack-losses.test.ts'],
  },
  {
    name: 'attack-losses',
    // The losses an attack ascends, the worst case over them, and the saturation self-check.
    mutate: ['shared/src/robustness/attacks/input-gradient.ts', 'shared/src/robustness/evaluate-robustness.ts:201-247', 'shared/src/robustness/self-checks.ts'],
    tests: ['tests/robustness/self-checks-exact.test.ts', 'tests/robustness/attack-losses.test.ts', 'tests/robustness/square-attack.test.ts', 'tests/robustness/worst-case-rows.test.ts'],
  },
  {
    name: 'fedprox',
    mutate: ['shared/src/strategies/aggregate-fedprox.ts'],
    tests: ['tests/strategies/fedprox.test.ts', 'tests/strategies/server-optimizers.test.ts'],
  },
  {
    name: 'rdp-accountant',
    mutate: ['shared/src/privacy/rdp-accountant.ts', 'shared/src/privacy/log-math.ts'],
    // The fast closed-form file first: most mutants die there before the slow reference values run.
    tests: ['tests/privacy/rdp-exact.test.ts', 'tests/privacy/rdp-accountant.test.ts'],
  },
  {
    name: 'update-validation',
    mutate: ['coordinator/src/engine/validate-fit-result.ts', 'coordinator/src/engine/claimed-example-count.ts', 'coordinator/src/engine/update-guard.ts'],
    // delta-norm-wasm.test.ts checks the JS norm loop (the wasm kernel's oracle and fallback) value for value.
    tests: ['tests/validate-fit-result.test.ts', 'tests/update-guard.test.ts', 'tests/load/delta-norm-wasm.test.ts'],
    coverageAnalysis: 'all',
  },
  {
    name: 'refusal-cut',
    // A connection cut for too many refusals, and the cooldown before its site's name may join again; the joins
    // per site name (connectionLimits.joinsPerMinute: its bucket, and the hello's check of it).
    mutate: ['coordinator/src/engine/cut-site-cooldowns.ts', 'coordinator/src/engine/site-connections.ts:93-95', 'coordinator/src/engine/site-connections.ts:314-320'],
    tests: ['tests/engine/cut-site-cooldowns.test.ts', 'tests/hostile/refusal-cut-cooldown.test.ts', 'tests/hostile/join-rate-limit.test.ts'],
  },
  {
    name: 'site-wire-reasons',
    // What a site's failures and refusals tell the coordinator: the words of errors about the coordinator's side only.
    mutate: ['shared/src/client/wire-reasons.ts'],
    tests: ['tests/privacy/site-failure-reasons.test.ts'],
  },
  {
    name: 'round-guards',
    // What a round refuses beyond single updates: the model adoption guard (collapse and drift) and who a retry leaves out.
    mutate: ['coordinator/src/engine/model-adoption.ts', 'coordinator/src/engine/retry-exclusions.ts'],
    tests: ['tests/model-adoption.test.ts', 'tests/engine/retry-exclusions.test.ts'],
  },
  {
    name: 'stragglers',
    // Cooldowns of sites that gave no answer, and the collector's close after its quorum (lines 57-81).
    mutate: ['coordinator/src/engine/unresponsive-sites.ts', 'coordinator/src/engine/round-collector.ts:57-81'],
    tests: ['tests/stragglers/unresponsive-sites.test.ts', 'tests/stragglers/round-collector-quorum-wait.test.ts', 'tests/stragglers/cooldowns-in-checkpoint.test.ts'],
  },
  {
    name: 'fedavg',
    mutate: ['shared/src/strategies/aggregate-fedavg.ts'],
    tests: ['tests/fedavg.test.ts'],
  },
  {
    name: 'streaming-fedavg',
    // The exact streaming sum: the class, its JS kernel and the wasm kernel's JS side (the .wat is tested
    // through them: wasm and JS must give the same bits).
    mutate: ['shared/src/strategies/streaming-fedavg.ts', 'shared/src/strategies/streaming-sum/streaming-sum-js.ts', 'shared/src/strategies/streaming-sum/streaming-sum-wasm.ts', 'shared/src/strategies/streaming-sum/sum-kernel.ts'],
    // The wasm kernel file first: exact words and the JS oracle, fast; the BigInt reference and the property suites after it.
    tests: ['tests/streaming-fedavg-no-wasm.test.ts', 'tests/streaming-fedavg-wasm-kernel.test.ts', 'tests/streaming-fedavg.test.ts', 'tests/streaming-fedavg-exact-reference.test.ts', 'tests/streaming-fedavg-properties.test.ts'],
    // Every test against every covered mutant: per-test coverage left the wasm kernel's tests out of what covers
    // its JS side (a mutant that never copies an update into the staging slot "survived" while 5 of those tests
    // fail on it when applied by hand).
    coverageAnalysis: 'all',
  },
  {
    name: 'krum-family',
    mutate: ['shared/src/strategies/aggregate-krum.ts', 'shared/src/strategies/aggregate-multikrum.ts', 'shared/src/strategies/aggregate-bulyan.ts'],
    tests: ['tests/strategies/krum-exact.test.ts', 'tests/strategies/krum-family.test.ts'],
  },
  {
    name: 'coordinatewise',
    mutate: ['shared/src/strategies/aggregate-fedmedian.ts', 'shared/src/strategies/aggregate-fedtrimmedavg.ts'],
    tests: ['tests/strategies/coordinatewise.test.ts'],
  },
  {
    name: 'strategy-math',
    mutate: ['shared/src/strategies/strategy-math.ts'],
    tests: ['tests/strategies/strategy-math.test.ts', 'tests/strategies/sorting-network.test.ts'],
  },
  {
    name: 'secagg-arithmetic',
    mutate: [
      'shared/src/privacy/fixed-point.ts',
      'shared/src/privacy/shamir.ts',
      // The server's checks of keys no one can agree with, of a dealer leaving neighbours out, of each unmask response
      // and its complaints; the sum and unmasking, and whom it names when a secret cannot be recovered; a site's
      // unusable boxes, masked input and complaints; the public-key test.
      'shared/src/privacy/secagg-server.ts:86-93',
      'shared/src/privacy/secagg-server.ts:117-117',
      'shared/src/privacy/secagg-server.ts:156-299',
      'shared/src/privacy/secagg-site.ts:76-78',
      'shared/src/privacy/secagg-site.ts:174-222',
      'shared/src/privacy/secagg-site.ts:230-242',
      'shared/src/privacy/secagg-crypto.ts:62-69',
      // Recovery of a committed secret: the first t shares, Reed–Solomon decoding, the bounded search of other sets.
      'shared/src/privacy/verified-recovery.ts',
      'shared/src/privacy/reed-solomon-decode.ts',
    ],
    tests: [
      'tests/privacy/secagg-arithmetic.test.ts',
      'tests/privacy/secagg-hostile-deliveries.test.ts',
      'tests/privacy/secagg-primitives.test.ts',
      'tests/privacy/secagg-protocol.test.ts',
      'tests/privacy/secagg-unmask-response-checks.test.ts',
      'tests/privacy/verified-recovery.test.ts',
      'tests/privacy/reed-solomon-decode.test.ts',
      'tests/privacy/secagg-unusable-dealers.test.ts',
      'tests/privacy/secagg-arrival-order.test.ts',
      'tests/privacy/secagg-failed-unmasking-work.test.ts',
    ],
  },
  {
    name: 'codec',
    mutate: ['shared/src/codec/weights-codec.ts'],
    tests: ['tests/codec.test.ts', 'tests/fuzz/weights-codec-properties.test.ts'],
  },
  {
    name: 'update-codec',
    mutate: ['shared/src/codec/update-codec.ts', 'shared/src/codec/int8-quantization.ts'],
    tests: ['tests/codec/int8-quantization.test.ts', 'tests/codec/update-codec.test.ts'],
  },
  {
    name: 'float16',
    mutate: ['shared/src/codec/float16.ts'],
    tests: ['tests/codec/float16.test.ts'],
  },
  {
    name: 'certification-numerics',
    mutate: ['shared/src/robustness/certification/normal-quantile.ts', 'shared/src/robustness/certification/incomplete-beta.ts', 'shared/src/robustness/certification/clopper-pearson.ts'],
    tests: ['tests/robustness/certification-numerics.test.ts'],
  },
  {
    name: 'temperature-search',
    mutate: ['shared/src/robustness/calibration/temperature-search.ts'],
    tests: ['tests/robustness/temperature-scaling.test.ts'],
  },
  {
    name: 'temperature-scaling',
    mutate: ['shared/src/robustness/calibration/temperature-scaling.ts'],
    // Exact values on hand-made examples (temperature-scaling.test.ts's statistical checks are too slow per mutant).
    tests: ['tests/robustness/temperature-scaling-exact.test.ts'],
  },
  {
    name: 'federated-calibration',
    mutate: [
      'coordinator/src/engine/federated-calibration.ts',
      // The calibration sums a site sends (and the inverse temperatures it is asked for) in evaluateResult / evaluate.
      'shared/src/messages/schemas.ts:402-446',
    ],
    tests: ['tests/robustness/federated-calibration.test.ts'],
  },
  {
    name: 'site-report-validation',
    mutate: [
      'shared/src/messages/site-report-schemas.ts',
      'coordinator/src/engine/site-report-round.ts',
      // robustAccuracyOf, siteRobustEps and summarizeSiteReports: the worst sites (and who is left out) and win counts of the report.
      'shared/src/report/site-report-section.ts:74-128',
    ],
    tests: ['tests/personalization/site-report-validation.test.ts'],
  },
  {
    name: 'personal-selection',
    // Mode 'auto''s selection rule at the site: which personal model a site keeps (pure, exact).
    // With the k-fold split and the paired noise estimate its near-tie margin uses.
    mutate: ['shared/src/personalization/select-personal-candidate.ts', 'shared/src/personalization/stratified-folds.ts', 'shared/src/personalization/paired-difference.ts'],
    tests: ['tests/personalization/select-personal-candidate.test.ts', 'tests/personalization/stratified-folds.test.ts', 'tests/personalization/paired-difference.test.ts'],
  },
  {
    name: 'sweep-core',
    // The sweep's user input (--param, the search-space file) and its exact selection: the rungs of successive halving and the Pareto front.
    mutate: ['cli/src/sweep/search-space.ts', 'cli/src/sweep/successive-halving.ts', 'cli/src/sweep/pareto-front.ts'],
    // The exact file first: it kills most mutants before the slower sweep runs of successive-halving.test.ts.
    tests: ['tests/sweep/sweep-core-exact.test.ts', 'tests/sweep/search-space.test.ts', 'tests/sweep/successive-halving.test.ts', 'tests/sweep/pareto-front.test.ts'],
  },
  {
    name: 'numeric-csv',
    // A holdout or evaluation CSV from outside: the reader that refuses what it cannot take (naming the column), and the imputation it applies.
    mutate: ['shared/src/node/read-numeric-csv.ts', 'shared/src/data/impute-missing.ts'],
    tests: ['tests/site-data/numeric-csv-exact.test.ts', 'tests/site-data/feature-columns-and-quoted-csv.test.ts', 'tests/site-data/check-dataset.test.ts', 'tests/read-csv-dataset-stream.test.ts'],
  },
  {
    name: 'input-files',
    // Files a user names (a site's CSV, a model directory, a run configuration, a site policy): not a pipe or device, bounded, labels under MAX_CLASSES, weights.bin the manifest's length and finite, CSV rows as RFC 4180 reads them.
    mutate: ['shared/src/node/read-input-file.ts', 'coordinator/src/model/weights-bin-length.ts', 'shared/src/data/class-limit.ts', 'shared/src/data/parse-csv-rows.ts', 'coordinator/src/model/model-files.ts', 'shared/src/data/encode-labels.ts', 'shared/src/data/image-header-size.ts'],
    tests: ['tests/hostile/redteam-input-files.test.ts', 'tests/fuzz/csv-rows-properties.test.ts', 'tests/site-data/site-data-loaders.test.ts'],
  },
  {
    name: 'l2-attacks',
    mutate: ['shared/src/robustness/attacks/pgd-l2.ts', 'shared/src/robustness/attacks/fgm-l2.ts', 'shared/src/robustness/attacks/l2-ball.ts'],
    tests: ['tests/robustness/l2-attacks-exact.test.ts', 'tests/robustness/attack-losses.test.ts'],
  },
  {
    name: 'worst-case',
    // The per-example worst case over the L∞ attacks at each ε (what the report calls worstCase).
    mutate: ['shared/src/robustness/worst-case-rows.ts'],
    tests: ['tests/robustness/worst-case-rows.test.ts'],
  },
  {
    name: 'square-attack',
    // The black-box attack that checks PGD for gradient masking: its schedule, margins, vertices and stopping (its self-check is in attack-losses).
    mutate: ['shared/src/robustness/attacks/square.ts'],
    tests: ['tests/robustness/square-attack.test.ts'],
  },
  {
    name: 'eps-scale',
    mutate: ['shared/src/robustness/eps-scale.ts'],
    tests: ['tests/robustness/eps-scale-exact.test.ts'],
  },
  {
    name: 'adversarial-training',
    mutate: ['shared/src/learning/adversarial-plan.ts', 'shared/src/learning/adversarial-warmup.ts', 'shared/src/learning/trades-step.ts', 'shared/src/client/site-train-config.ts'],
    tests: ['tests/robustness/adversarial-training-exact.test.ts', 'tests/robustness/site-adversarial-settings.test.ts'],
  },
  {
    name: 'robust-step',
    // The training step's adversarial parts: which examples each attack loss gets, AWP's move and its exact restore.
    mutate: ['shared/src/learning/adversarial-weight-perturbation.ts', 'shared/src/learning/robust-step.ts:31-70'],
    tests: ['tests/robustness/adversarial-weight-perturbation.test.ts', 'tests/robustness/adversarial-attack-loss.test.ts'],
  },
  {
    name: 'site-placement',
    // Where a cluster's sites join: the shares, the in-flight count, the node_busy decision (peers drive it with their hellos).
    mutate: ['coordinator/src/cluster/site-placement.ts', 'shared/src/transport/node-index-for-site.ts', 'shared/src/transport/failover-connector.ts'],
    tests: ['tests/cluster/site-placement.test.ts', 'tests/cluster/site-placement-transport.test.ts', 'tests/cluster/failover-connector.test.ts'],
  },
  {
    name: 'weight-averaging',
    // The final model's mean over the last rounds (exact float64 sums, the window's edges, the checkpoint's state).
    mutate: ['coordinator/src/engine/tail-average.ts'],
    tests: ['tests/robustness/weight-averaging.test.ts'],
  },
  {
    name: 'audit-recorder',
    // The recorder that joins each update's audit hash with its verdict and writes the log in the events' order.
    mutate: ['coordinator/src/audit/audit-recorder.ts'],
    tests: ['tests/audit/audit-recorder-updates.test.ts', 'tests/audit/audit-recorder.test.ts'],
  },
  {
    name: 'audit-log',
    // The coordinator's hash-chained audit log on disk: the exact lines and chain it appends, a reopened log verified and continued, batches and their fsyncs,
    // a last line a crash cut short (recovered: moved aside or completed) and batches a full disk refused (cut off again, kept, written later).
    mutate: ['coordinator/src/audit/audit-log.ts', 'coordinator/src/audit/torn-tail.ts', 'shared/src/node/move-tail-aside.ts'],
    tests: ['tests/audit/audit-log-exact.test.ts', 'tests/audit/audit-chain.test.ts', 'tests/audit/audit-recorder.test.ts', 'tests/audit/audit-recorder-updates.test.ts', 'tests/audit/audit-torn-tail.test.ts', 'tests/audit/audit-disk-full.test.ts'],
  },
  {
    name: 'model-inspection',
    // The site's inspection of a hostile coordinator's model (trap weights, imprint rows, over-wide layers): its
    // counts against their definitions, its thresholds at their edges.
    // The counting code (the stats the thresholds judge); its module-level constants and schema are pinned by the tests.
    // Ranges: gatingActivation … columnSquares, sparsity … layerInputOf, firingUnits; and the heap path.
    mutate: ['shared/src/policy/inspect-model.ts:181-287', 'shared/src/policy/inspect-model.ts:322-399', 'shared/src/policy/inspect-model.ts:409-418', 'shared/src/policy/inspection-heap-products.ts'],
    tests: ['tests/policy/inspect-model.test.ts', 'tests/policy/inspect-model-reuse.test.ts', 'tests/policy/inspect-model-reference.test.ts', 'tests/policy/inspect-model-baseline.test.ts'],
  },
  {
    name: 'message-schemas',
    // The wire protocol's validation: every payload a peer sends is parsed by these schemas before anything uses
    // it (the calibration sums at schemas.ts:396-440 are also under 'federated-calibration').
    mutate: ['shared/src/messages/parse-message.ts', 'shared/src/messages/schemas.ts', 'shared/src/messages/run-terms.ts', 'shared/src/messages/model-ref.ts', 'shared/src/messages/model-text-section.ts'],
    // Exact tables (every bound at its edge, every pattern's anchors, every rule's message); the property-based
    // fuzz file (tests/fuzz/message-schemas-properties.test.ts, ~4 s a run) is left to npm test: every mutant
    // here is static (the schemas are built when the module loads), so each one reruns all the module's tests.
    tests: ['tests/messages/schemas-load.test.ts', 'tests/messages/message-schemas-exact.test.ts', 'tests/messages/message-parsing-exact.test.ts', 'tests/schemas.test.ts'],
  },
  {
    name: 'instruction-checks',
    // What a site checks of every instruction a coordinator sends against the terms it accepted, and the weights a
    // coordinator's topology may make before they are allocated: input from the other side of the wire, at the site.
    mutate: ['shared/src/policy/check-instruction.ts', 'shared/src/model/weight-allocation-limit.ts'],
    tests: ['tests/policy/check-instruction-exact.test.ts', 'tests/policy/check-instruction.test.ts', 'tests/model/weight-allocation-limit.test.ts'],
  },
  {
    name: 'connection-admission',
    // What a connection may do at the transport: before its site is welcomed, its message size (the websocket's
    // limit, raised at the welcome) and how many such connections one address may hold open; always, its frame rate
    // and the pongs it can be owed; and how fast one address may open connections. The frame budget and the pong limit
    // guard a site's connection to its coordinator too.
    mutate: ['coordinator/src/transport/unwelcomed-connections.ts', 'shared/src/transport/websocket-message-size-limit.ts', 'shared/src/transport/websocket-frame-budget.ts', 'shared/src/transport/websocket-pong-limit.ts', 'coordinator/src/transport/connection-rate-limit.ts'],
    tests: ['tests/hostile/connection-churn.test.ts', 'tests/hostile/unwelcomed-connections-cap.test.ts', 'tests/hostile/pre-hello-message-size.test.ts', 'tests/transport/websocket-frame-budget-shapes.test.ts', 'tests/transport/websocket-pong-limit-shapes.test.ts', 'tests/hostile/websocket-frame-flood.test.ts', 'tests/hostile/site-frame-flood.test.ts'],
  },
  {
    name: 'socket-transport',
    // A peer's socket.io connection as the coordinator's transport sees it: nothing but a hello parsed before a hello
    // passed its schema, the queue while no run takes the link, the hello deadline, a throwing handler refused rather
    // than thrown into socket.io, pause and resume of the websocket, a closed link's close reason (clipped) and grace.
    mutate: ['shared/src/transport/endpoint-base.ts', 'coordinator/src/transport/socketio-server-transport.ts'],
    // The exact file (a bare socket.io server) plus the unit and pre-hello tests; the coordinator-wide ones
    // (tests/hostile/hello-timeout.test.ts: 200 idle connections, huge-event-names.test.ts) stay in npm test.
    tests: ['tests/transport/socket-transport-exact.test.ts', 'tests/transport/endpoint-queue.test.ts', 'tests/hostile/pre-hello-not-parsed.test.ts'],
  },
  {
    name: 'model-admission',
    // What a site lets a coordinator's model cost it, and what the wasm backend may do to the process: the
    // activations count the site's policy judges, and the removal of the Emscripten module's fatal listeners.
    mutate: ['shared/src/model/activations-per-example.ts', 'shared/src/wasm-kernels/drop-process-handlers-added-by.ts', 'shared/src/wasm-kernels/wasm-backend-factory.ts'],
    tests: ['tests/model/activations-per-example.test.ts', 'tests/wasm-kernels/process-listeners.test.ts', 'tests/policy/hostile-coordinator.test.ts'],
  },
  {
    name: 'audit-verification',
    // What `fedtune audit verify` concludes from a log someone may have edited: the chain's checks (seq, prev, hash,
    // cut lines, the expected head), the canonical JSON the hashes are of, and a site's own log against the run's.
    mutate: ['shared/src/audit/verify-audit-chain.ts', 'shared/src/audit/compare-site-log.ts', 'shared/src/audit/canonical-json.ts', 'shared/src/audit/audit-entry.ts', 'shared/src/audit/site-audit-entry.ts', 'shared/src/audit/site-audit-view.ts', 'shared/src/audit/redacted-audit-entry.ts'],
    tests: ['tests/audit/audit-chain.test.ts', 'tests/audit/compare-site-log.test.ts', 'tests/audit/audit-verification-edges.test.ts', 'tests/audit/site-audit-view.test.ts'],
  },
  {
    name: 'checkpoint-integrity',
    // What a checkpoint read back from disk may be before a run resumes from it: the header and checksum, the meta's
    // fields and sections, the state codec's tags, and the settled-rounds file's reference and hash chain.
    // Not settled-rounds-file.test.ts: its crash tests run a coordinator in a child process, which no mutant reaches.
    mutate: ['coordinator/src/persistence/checkpoint-format.ts', 'coordinator/src/persistence/state-codec.ts', 'coordinator/src/persistence/settled-rounds-log.ts'],
    tests: ['tests/persistence/checkpoint-corruption.test.ts', 'tests/persistence/checkpoint-store.test.ts', 'tests/persistence/settled-rounds.test.ts'],
  },
  {
    name: 'site-consent',
    // What a site agrees to: the run's signed terms checked against its policy at join (signature, hash, every
    // limit), then held for the run (SiteTermsGuard: a changed term or a departing instruction breaks it for good),
    // and the policy file itself (one clear line naming the field).
    mutate: ['shared/src/policy/check-run-terms.ts', 'shared/src/client/site-terms-guard.ts', 'shared/src/policy/parse-site-policy.ts'],
    tests: ['tests/policy/site-consent-exact.test.ts', 'tests/policy/check-run-terms.test.ts', 'tests/policy/site-policy-parsing.test.ts', 'tests/policy/check-instruction.test.ts'],
  },
  {
    name: 'privacy-ledger',
    // A site's privacy budget across runs: the ledger's lines on disk (parsed back from a file someone may have
    // edited), its accounts per run, the budget's verdict before a round, and what a site records after one.
    mutate: ['shared/src/policy/privacy-budget.ts', 'shared/src/policy/privacy-ledger.ts', 'shared/src/policy/privacy-ledger-accounts.ts', 'shared/src/policy/privacy-ledger-lines.ts', 'shared/src/client/site-privacy-accounting.ts'],
    tests: ['tests/privacy-ledger/privacy-ledger-exact.test.ts', 'tests/privacy-ledger/privacy-ledger.test.ts', 'tests/privacy-ledger/privacy-budget.test.ts', 'tests/privacy-ledger/local-storage-privacy-ledger.test.ts'],
  },
  {
    name: 'dp-noise',
    // The noise of client-level DP: the exact and float discrete Gaussian samplers, clipping, noise std z·C(/m), adaptive clipping.
    mutate: ['shared/src/privacy/discrete-gaussian.ts', 'shared/src/privacy/dp-fedavg.ts', 'coordinator/src/engine/dp-aggregation.ts'],
    // The exact files first (scripted tapes and uniforms, noise replayed from the seed): most mutants die there before the χ² suites run.
    tests: ['tests/privacy/dp-noise-exact.test.ts', 'tests/privacy/dp-fedavg-exact.test.ts', 'tests/privacy/discrete-gaussian.test.ts', 'tests/privacy/dp-fedavg.test.ts', 'tests/privacy/dp-noise-seed.test.ts', 'tests/run-config-effects/dp-field-effects.test.ts'],
  },
  {
    name: 'site-data',
    // A site's own data as it is read and checked before any training: the CSV reader (streamed, bounded, every
    // refusal naming the row and column), the tabular encoding, an image folder and the data check's verdicts. (Not
    // the site-data options: a zod schema, whose mutants are all static and would each rerun every test here.)
    mutate: ['shared/src/node/read-csv-dataset.ts', 'shared/src/data/check-dataset.ts', 'shared/src/data/encode-tabular-rows.ts', 'client-node/src/data/read-image-folder.ts'],
    // ~300 of its ~950 mutants are static (the test files read their CSVs while they load): unscored, or a run takes hours.
    ignoreStatic: true,
    tests: ['tests/site-data/tabular-rows-exact.test.ts', 'tests/site-data/check-dataset-exact.test.ts', 'tests/site-data/csv-reader-exact.test.ts', 'tests/site-data/image-folder-exact.test.ts', 'tests/read-csv-dataset-stream.test.ts', 'tests/site-data/check-dataset.test.ts', 'tests/site-data/site-data-loaders.test.ts', 'tests/site-data/feature-columns-and-quoted-csv.test.ts', 'tests/site-data/category-buckets.test.ts', 'tests/site-data/free-text-column.test.ts', 'tests/site-data/plain-decimal.test.ts', 'tests/site-data/csv-reader-hostile.test.ts', 'tests/site-data/image-folder-hostile.test.ts', 'tests/site-data/check-dataset-bounds.test.ts'],
  },
  {
    name: 'model-fetch',
    // The model bytes a site fetches over HTTP from a coordinator it does not trust: the status, the ETag against
    // the instruction's sha-256, the declared and streamed sizes (a chunked body refused past its limit), the hash,
    // the retries on "not now" and dropped connections, and the URL built under the server's base.
    mutate: ['shared/src/client/fetch-model-weights.ts', 'shared/src/transport/read-body-at-most.ts', 'shared/src/transport/server-url.ts'],
    tests: ['tests/model-delivery/model-fetch-exact.test.ts', 'tests/model-delivery/fetch-model-weights.test.ts', 'tests/model-delivery/fetch-model-weights-retry.test.ts', 'tests/model-delivery/reverse-proxy-prefix.test.ts'],
  },
  {
    name: 'wire-secagg',
    // What a peer puts on the wire and a site's side of secure aggregation facing a coordinator it does not trust.
    mutate: ['shared/src/transport/binary-fields.ts', 'shared/src/privacy/secagg-messages.ts', 'shared/src/client/secagg-participant.ts'],
    tests: ['tests/transport/wire-secagg-exact.test.ts', 'tests/privacy/wire-secagg-exact.test.ts', 'tests/binary-fields.test.ts', 'tests/privacy/distributed-dp-rules.test.ts', 'tests/privacy/secagg-instruction-bounds.test.ts'],
  },
  {
    name: 'run-config-input',
    // A run configuration from outside (a --config file, YAML or JSON; the body of POST /api/runs): syntax, unknown
    // and hostile keys (bounded, echoed cut), field types with their line and column, and the merge with the flags.
    mutate: ['coordinator/src/config/run-config-file.ts'],
    tests: ['tests/persistence/run-config-exact.test.ts', 'tests/persistence/run-config-file.test.ts', 'tests/persistence/run-config-hostile-keys.test.ts'],
  },
  {
    name: 'fan-in-flow-control',
    // How the coordinator paces a round's traffic: the fan-in queue (time slices per turn, pausing every joined
    // site's socket when it is full, resuming them a batch per turn) and the fan-out (a count and bytes per turn).
    mutate: ['coordinator/src/engine/site-connections.ts:112-112', 'coordinator/src/engine/site-connections.ts:145-247', 'coordinator/src/transport/paced-fan-out.ts'],
    tests: ['tests/fan-in-pacing.test.ts', 'tests/transport/paced-fan-out.test.ts'],
  },
  {
    name: 'packet-bounds',
    // What a welcomed peer's socket.io packets may be before any of them is parsed: the JSON's length, the
    // connection's JSON bytes per second, one binary attachment (hostile-peer audit 2026-12-05).
    mutate: ['coordinator/src/transport/bounded-socketio-parser.ts'],
    tests: ['tests/transport/bounded-socketio-parser.test.ts'],
  },
  {
    name: 'inactive-flags',
    // Run-config flags typed for a mode the run does not have, and fields that can have no effect wherever the
    // config enters (file, HTTP body, resume): refused, never silently ignored.
    mutate: ['cli/src/commands/inactive-run-config-flags.ts', 'coordinator/src/config/inactive-run-config.ts'],
    tests: ['tests/cli-options/run-config-flags.test.ts', 'tests/cli-options/inactive-config-everywhere.test.ts'],
  },
  {
    name: 'access-control',
    // Who may join and who may drive the control plane: site and admin tokens (salted hashes, constant-time
    // checks), the hello authorizer with its per-address and per-name limits, the token bucket, the admin guard, and
    // the key every per-address limit counts under (an IPv6 peer by its /64).
    mutate: [
      'coordinator/src/access/salted-token.ts',
      'coordinator/src/access/site-token-store.ts',
      'coordinator/src/access/admin-token-store.ts',
      'coordinator/src/access/admin-guard.ts',
      'coordinator/src/access/bearer-token.ts',
      'coordinator/src/access/site-authorizer.ts',
      'coordinator/src/access/rate-limiter.ts',
      'coordinator/src/access/address-key.ts',
    ],
    // The exact file plus the fast unit tests; the end-to-end ones (tests/access/site-authorization.test.ts,
    // tests/hostile-http/admin-token.test.ts: a coordinator, the CLI) stay in npm test. address-key.test.ts's one
    // coordinator (dual-stack) is quick; redteam-http-cross-site.test.ts covers the admin guard's remote names.
    tests: ['tests/access/access-control-exact.test.ts', 'tests/access/rate-limiter.test.ts', 'tests/access/site-token-store.test.ts', 'tests/access/address-key.test.ts', 'tests/hostile/redteam-http-cross-site.test.ts'],
  },
  {
    name: 'site-routing',
    // What a joined (or joining) site's messages may do at the coordinator: the router's checks (claimed id, terms first, round, run), membership (hello refusals reported, the terms' answers, leaving, waiting, sampling) and the registry.
    mutate: ['coordinator/src/engine/site-message-router.ts', 'coordinator/src/engine/site-membership.ts', 'coordinator/src/engine/site-registry.ts', 'coordinator/src/engine/data-summaries.ts'],
    tests: ['tests/data-summary/data-summary-units.test.ts', 'tests/engine/site-routing-exact.test.ts', 'tests/engine/site-routing-phases.test.ts', 'tests/engine/site-routing-membership.test.ts', 'tests/engine/site-routing-site-report.test.ts', 'tests/scale/site-registry-size.test.ts'],
  },
  {
    name: 'site-results',
    // What the coordinator takes from the sites beyond plain updates: federated evaluation answers (asked sites, once
    // each, example-weighted with the count cap), the federated temperature fit, and a secure-aggregation attempt's
    // phases (stale or out-of-phase messages refused, dropouts, the threshold, what a lost attempt records).
    mutate: [
      'coordinator/src/engine/federated-evaluation.ts',
      'coordinator/src/engine/evaluation-collector.ts',
      'coordinator/src/engine/secure-aggregation-round.ts',
      'coordinator/src/engine/secure-round-runner.ts',
    ],
    // In process over stand-in run contexts and real secure-aggregation participants, plus the engine over the
    // in-memory transport for the evaluation and the final site report.
    tests: [
      'tests/engine/site-results-evaluation.test.ts',
      'tests/engine/site-results-secure-round.test.ts',
      'tests/engine/site-results-secure-runner.test.ts',
      'tests/engine/site-results-engine.test.ts',
      'tests/engine/site-routing-phases.test.ts',
      'tests/engine/site-routing-site-report.test.ts',
    ],
  },
  {
    name: 'cluster-integrity',
    // What a coordinator node accepts from the others over Redis: the HMAC seal (secret file, window, nonces,
    // sender), the fencing tokens, and the strict schema of every inter-node message.
    mutate: [
      'coordinator/src/cluster/cluster-message-mac.ts',
      'coordinator/src/cluster/fencing-check.ts',
      'coordinator/src/cluster/cluster-messages.ts',
      'coordinator/src/cluster/round-plan-messages.ts',
      'coordinator/src/cluster/partial-round-messages.ts',
      'coordinator/src/cluster/record-batch-messages.ts',
      'coordinator/src/cluster/site-sends-messages.ts',
      'coordinator/src/cluster/evaluation-messages.ts',
    ],
    // Fast tests only (the schemas are static, so each of their mutants reruns all of these); the Redis and
    // socket.io tests (tests/cluster/cluster-secret.test.ts, partial-fencing.test.ts) stay in npm test.
    tests: ['tests/cluster/cluster-message-mac.test.ts', 'tests/cluster/cluster-integrity-exact.test.ts'],
  },
  {
    name: 'cluster-rounds',
    // How the nodes of a cluster combine a round's partial results: the follower folds its sites' updates and
    // sends records and a partial; the leader's ledger merges a partial only when it holds exactly the sites that
    // node recorded (right round, node and fencing token, each site once), and leaves out the sites of a node
    // whose partial never came or was refused.
    mutate: [
      'coordinator/src/cluster/leader-round-partials.ts',
      'coordinator/src/cluster/follower-partial-rounds.ts',
      'coordinator/src/cluster/follower-round-partial.ts',
      'coordinator/src/cluster/cluster-partial-ledger.ts',
      'coordinator/src/cluster/schema-issue.ts',
    ],
    // In-memory fakes only; the Redis and socket.io tests (cluster-partial-faults, partial-fencing, partial-weights-redis) stay in npm test.
    tests: ['tests/cluster/cluster-rounds-exact.test.ts', 'tests/cluster/cluster-partials.test.ts', 'tests/cluster/partial-round-wiring.test.ts'],
  },
  {
    name: 'http-input',
    // What the HTTP API does with a request before and after a route: the JSON depth bound and parser, the
    // rate limit's buckets, and the error answer (status and code from one catalogue, a clipped one-line message).
    mutate: [
      'coordinator/src/http/json-body.ts',
      'coordinator/src/http/http-error.ts',
      'coordinator/src/http/error-status.ts',
      'coordinator/src/http/api-rate-limit.ts',
    ],
    // A bare fastify app, no coordinator; the end-to-end files (tests/hostile-http/*.test.ts) stay in npm test.
    tests: ['tests/hostile-http/http-input-exact.test.ts'],
  },
  {
    name: 'http-routes',
    // The coordinator's admin and operations routes, with their input from outside: each route's status and typed
    // code (404 for an unknown or malformed run id, 409s of the run lifecycle, 400 for a round below 1 or a body that
    // is no object), which routes are the control plane, who reads the audit log; the security headers and page CSPs;
    // the request log (secrets redacted, method and URL one line and clipped) and the engine's log lines (free text
    // one line and clipped). Only the routes' handlers, admin flags and parameter limits of operations-routes.ts, and
    // errorResponses of api-schemas.ts: the rest of both is OpenAPI prose and `as const` schema literals, which Stryker
    // does not mutate (the body's type and kept fields, the round's minimum are asserted all the same).
    mutate: [
      'coordinator/src/http/operations-routes.ts:16-19',
      'coordinator/src/http/operations-routes.ts:30-41',
      'coordinator/src/http/operations-routes.ts:49-53',
      'coordinator/src/http/operations-routes.ts:72-78',
      'coordinator/src/http/operations-routes.ts:82-82',
      'coordinator/src/http/operations-routes.ts:92-92',
      'coordinator/src/http/operations-routes.ts:107-113',
      'coordinator/src/http/operations-routes.ts:120-120',
      'coordinator/src/http/operations-routes.ts:123-129',
      'coordinator/src/http/operations-routes.ts:132-132',
      'coordinator/src/http/operations-routes.ts:155-161',
      'coordinator/src/http/operations-routes.ts:164-164',
      'coordinator/src/http/operations-routes.ts:174-185',
      'coordinator/src/http/operations-routes.ts:188-188',
      'coordinator/src/http/operations-routes.ts:201-217',
      'coordinator/src/http/operations-routes.ts:220-220',
      'coordinator/src/http/operations-routes.ts:231-239',
      'coordinator/src/http/api-schemas.ts:21-25',
      'coordinator/src/audit/site-audit-copy.ts',
      'coordinator/src/access/audit-access.ts',
      'coordinator/src/http/run-control.ts',
      'coordinator/src/http/site-pages.ts',
      'coordinator/src/http/structured-log.ts',
      'coordinator/src/http/security-headers.ts',
    ],
    // A bare fastify app with a RunStore on a temporary directory, no coordinator; the end-to-end files
    // (tests/http-operations.test.ts, tests/http-runs-lifecycle.test.ts, tests/hostile-http/*.test.ts) stay in npm test.
    tests: ['tests/hostile-http/http-routes-exact.test.ts', 'tests/audit/audit-access.test.ts'],
  },
  {
    name: 'dense-stack-step',
    // The tape-free training step of a Dense stack: the same losses, gradients and weights as the tape's, bit for bit.
    mutate: ['shared/src/learning/dense-stack-step.ts'],
    tests: ['tests/training-loop/dense-stack-step-no-simd.test.ts', 'tests/training-loop/dense-stack-step.test.ts'],
  },
  {
    name: 'site-http',
    // What a site (or anyone posing as one) reaches over HTTP beside the socket: the run's terms and a model
    // version's bytes (auth, header bounds, ETag / If-None-Match), and a browser join link's ?server= with the CSP
    // the page gets for it.
    // The routes' OpenAPI prose (summaries, response descriptions, each on a line of its own) is left out: only a
    // test copying it could tell. Their tags (an untagged route is not in the document) and the statuses and
    // contents they document are in (site-http-document.test.ts). A schema object holding a prose line is out too
    // (a range keeps only the mutants wholly inside it).
    mutate: [
      'coordinator/src/http/terms-route.ts:1-25',
      'coordinator/src/http/terms-route.ts:27-30',
      'coordinator/src/http/terms-route.ts:32-49',
      'coordinator/src/http/model-weights-route.ts:1-42',
      'coordinator/src/http/model-weights-route.ts:44-48',
      'coordinator/src/http/model-weights-route.ts:50-52',
      'coordinator/src/http/model-weights-route.ts:54-74',
      'coordinator/src/http/site-csp.ts',
      'shared/src/transport/join-link-server.ts',
      'client-web/src/join-server-choice.ts',
    ],
    tests: ['tests/hostile-http/site-http-exact.test.ts', 'tests/hostile-http/site-http-document.test.ts', 'tests/model-delivery/model-weights-route.test.ts', 'tests/web-surfaces/join-server-choice.test.ts'],
  },
];

const args = process.argv.slice(2);
if (args.includes('--list')) {
  for (const m of MODULES) console.log(`${m.name.padEnd(20)} ${m.mutate.join(' ')}`);
  process.exit(0);
}
const force = args.includes('--force');
const wanted = args.filter((a) => !a.startsWith('--'));
const unknown = wanted.filter((w) => !MODULES.some((m) => m.name === w));
if (unknown.length > 0) {
  console.error(`unknown module(s): ${unknown.join(', ')} (known: ${MODULES.map((m) => m.name).join(', ')})`);
  process.exit(2);
}
const selected = wanted.length > 0 ? MODULES.filter((m) => wanted.includes(m.name)) : MODULES;

let strykerBin;
let strykerVersion;
try {
  const require = createRequire(join(root, 'package.json'));
  const pkgPath = require.resolve('@stryker-mutator/core/package.json');
  strykerVersion = JSON.parse(readFileSync(pkgPath, 'utf8')).version;
  strykerBin = join(dirname(pkgPath), 'bin', 'stryker.js');
  require.resolve('@stryker-mutator/vitest-runner/package.json');
} catch {
  console.error('StrykerJS is not installed: run `npm ci` (it is a devDependency of the root package).');
  process.exit(2);
}

const fileOf = (spec) => spec.replace(/:\d+-\d+$/, '');
const leftovers = selected.flatMap((m) => m.mutate.map(fileOf)).filter((f) => readFileSync(join(root, f), 'utf8').includes('stryMutAct_9fa48'));
if (leftovers.length > 0) {
  console.error(`these files still hold mutants from an interrupted run; restore them first:\n  git checkout -- ${[...new Set(leftovers)].join(' ')}`);
  process.exit(2);
}
const missing = selected.flatMap((m) => m.tests).filter((t) => !existsSync(join(root, t)));
if (missing.length > 0) {
  console.error(`missing test files: ${missing.join(', ')}`);
  process.exit(2);
}

mkdirSync(work, { recursive: true });

/** Stryker's mutation score: detected / (detected + undetected), ignoring compile and runtime errors. */
function scoreOf(report) {
  const counts = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, other: 0 };
  const survivors = [];
  for (const [file, { mutants }] of Object.entries(report.files)) {
    for (const m of mutants) {
      if (m.status === 'Killed') counts.killed++;
      else if (m.status === 'Timeout') counts.timeout++;
      else if (m.status === 'Survived' || m.status === 'NoCoverage') {
        counts[m.status === 'Survived' ? 'survived' : 'noCoverage']++;
        survivors.push(`${file}:${m.location.start.line}:${m.location.start.column} ${m.mutatorName}${m.replacement ? ` → ${m.replacement.replace(/\s+/g, ' ').slice(0, 80)}` : ''}${m.status === 'NoCoverage' ? ' (no coverage)' : ''}`);
      } else counts.other++;
    }
  }
  const detected = counts.killed + counts.timeout;
  const valid = detected + counts.survived + counts.noCoverage;
  return { ...counts, score: valid === 0 ? 100 : Math.round((1000 * detected) / valid) / 10, survivors };
}

const results = [];
for (const m of selected) {
  console.log(`\n=== ${m.name}: ${m.mutate.join(', ')}\n    tests: ${m.tests.join(', ')}`);
  const reportFile = join(work, `${m.name}.report.json`);
  const config = {
    testRunner: 'vitest',
    vitest: { configFile: 'vitest.mutation.config.ts', related: false },
    mutate: m.mutate,
    coverageAnalysis: m.coverageAnalysis ?? 'perTest',
    // A module whose tests run its code while their files load (every mutant there static: each reruns every test)
    // may leave those unscored; its entry says so (`ignoreStatic`), and the count is in the report as Ignored.
    ignoreStatic: m.ignoreStatic ?? false,
    concurrency: 1,
    inPlace: true,
    // Stryker otherwise prepends `// @ts-nocheck` to every TypeScript file of the repo (and, in place, restores
    // them all at the end, undoing any edit made meanwhile). vitest strips types without checking them, so
    // only the mutated files need touching.
    disableTypeChecks: false,
    incremental: true,
    incrementalFile: join(work, `${m.name}.incremental.json`),
    force,
    reporters: ['json', 'clear-text', 'progress-append-only'],
    clearTextReporter: { reportTests: false, reportMutants: false, reportScoreTable: true },
    jsonReporter: { fileName: reportFile },
    tempDirName: '.stryker-tmp',
    timeoutMS: 10_000,
    thresholds: { high: 90, low: THRESHOLD, break: null },
    plugins: ['@stryker-mutator/vitest-runner'],
  };
  const configFile = join(work, `${m.name}.stryker.json`);
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const started = Date.now();
  // Stryker runs the tests once per mutant: their temporary directories go to one directory, removed after.
  const scratch = scratchTmpdir('mutation');
  const run = spawnSync(process.execPath, [strykerBin, 'run', configFile], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...scratch.env, FEDTUNE_MUTATION_TESTS: JSON.stringify(m.tests) },
  });
  scratch.remove();
  const seconds = Math.round((Date.now() - started) / 1000);
  if (run.status !== 0 || !existsSync(reportFile)) {
    console.error(`${m.name}: Stryker failed (exit ${run.status}); see its output above`);
    results.push({ module: m.name, mutate: m.mutate, tests: m.tests, threshold: THRESHOLD, score: null, error: `stryker exit ${run.status}`, seconds });
    continue;
  }
  const s = scoreOf(JSON.parse(readFileSync(reportFile, 'utf8')));
  if (s.survivors.length > 0) console.log(`surviving mutants of ${m.name}:\n  ${s.survivors.join('\n  ')}`);
  results.push({ module: m.name, mutate: m.mutate, tests: m.tests, threshold: THRESHOLD, ...s, seconds });
}

const previous = existsSync(resultsFile) ? JSON.parse(readFileSync(resultsFile, 'utf8')) : { modules: [] };
const merged = MODULES.map((m) => results.find((r) => r.module === m.name) ?? previous.modules?.find((r) => r.module === m.name)).filter(Boolean);
mkdirSync(dirname(resultsFile), { recursive: true });
writeFileSync(resultsFile, `${JSON.stringify({ tool: `StrykerJS ${strykerVersion} (vitest runner, perTest coverage)`, updated: new Date().toISOString(), modules: merged }, null, 2)}\n`);

console.log('\nmodule               score   killed survived no-cov  threshold');
for (const r of results) {
  const score = r.score === null ? 'error' : `${r.score.toFixed(1)}%`;
  console.log(`${r.module.padEnd(20)} ${score.padStart(6)}  ${String(r.killed ?? '-').padStart(6)} ${String(r.survived ?? '-').padStart(8)} ${String(r.noCoverage ?? '-').padStart(6)}  ${r.threshold}%${r.score !== null && r.score < r.threshold ? '  BELOW' : ''}`);
}
console.log(`written: ${resultsFile.slice(root.length + 1)}`);
process.exit(results.every((r) => r.score !== null && r.score >= r.threshold) ? 0 : 1);
