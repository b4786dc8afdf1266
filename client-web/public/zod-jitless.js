// Runs before the page's modules (a classic script, first in index.html): zod checks schemas by interpretation,
// never compiling one with `new Function`. zod probes whether eval is allowed as each module builds its schemas,
// and the page's CSP forbids eval (coordinator/src/http/site-csp.ts): the probe, though caught, would be a
// reported violation. zod reads this global config object when it loads (zod/v4/core/core.js).
globalThis.__zod_globalConfig = Object.assign(globalThis.__zod_globalConfig || {}, { jitless: true });
