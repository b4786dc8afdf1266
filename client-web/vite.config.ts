import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

const require = createRequire(import.meta.url);
/** The tfjs wasm binaries, served next to the page (setWasmPaths points at `<base>tfjs-wasm/`). */
const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];

function tfjsWasmBinaries(): Plugin {
  const dir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  return {
    name: 'fedtune-tfjs-wasm-binaries',
    generateBundle() {
      for (const file of WASM_FILES) this.emitFile({ type: 'asset', fileName: `tfjs-wasm/${file}`, source: readFileSync(join(dir, file)) });
    },
  };
}

// The browser site, served by the coordinator at /site/ (coordinator/src/http/dashboard/).
export default defineConfig({
  root: import.meta.dirname,
  base: '/site/',
  plugins: [tfjsWasmBinaries()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    rollupOptions: { input: { index: join(import.meta.dirname, 'index.html'), bench: join(import.meta.dirname, 'bench.html') } },
  },
});
