// What `import * as tf from '@tensorflow/tfjs'` is in the bundled subcommands (scripts/build-bundles.mjs
// aliases the package to this file): tfjs-core, tfjs-layers and the CPU backend — what fedtune's Node code
// uses. The package itself also loads the WebGL backend (no WebGL in Node), tfjs-data, the graph-model
// converter and, in its Node build, a second copy of parts of tfjs-core: ~2.5 MB of the client's ~4.8 MB
// bundle, compiled or deserialized and evaluated at every start for nothing (docs/performance.md, fast start).
// tests/startup/tfjs-for-bundles.test.ts checks that only those are left out and that no source uses them.
// As the package does: gradients (training) and the chained tensor methods (`t.norm()`, `t.sum()`, …). These
// are tfjs-core's ES modules, so the bundles take tfjs-core, tfjs-layers and the backends as ES modules too:
// one tfjs-core (TFJS_ES_MODULE_PACKAGES in scripts/build-bundles.mjs; tests/startup/one-tfjs-core-in-bundles.test.ts).
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';
export * from '@tensorflow/tfjs-core';
export * from '@tensorflow/tfjs-layers';
export * from '@tensorflow/tfjs-backend-cpu';
