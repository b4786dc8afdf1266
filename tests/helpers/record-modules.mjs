// `node --import ./tests/helpers/record-modules.mjs …` with FEDTUNE_MODULE_LOG=<file>: appends the URL of
// every module the process resolves through `import` (as it happens, from a resolve hook) and, when the
// process exits (also on SIGTERM), the path of every CommonJS module it required. Tests read the file to
// see what a command loaded (tests/cli-startup.test.ts); nothing here changes what the program does.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const file = process.env.FEDTUNE_MODULE_LOG;
if (file) {
  register('./record-modules-hooks.mjs', import.meta.url, { data: { file } });
  const require = createRequire(import.meta.url);
  let dumped = false;
  const dump = () => {
    if (dumped) return;
    dumped = true;
    appendFileSync(file, Object.keys(require.cache).map((p) => `${p}\n`).join(''));
  };
  process.on('exit', dump);
  process.once('SIGTERM', () => {
    dump();
    process.exit(143);
  });
}
