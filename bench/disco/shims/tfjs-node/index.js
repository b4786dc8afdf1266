// Shim standing in for @tensorflow/tfjs-node (whose install downloads libtensorflow,
// impossible on this machine). Importing it re-exports @tensorflow/tfjs and, like
// the real package, switches the global tfjs engine to a "fast" backend; here
// the WebAssembly backend. Top-level await: importers wait until it is ready.
import * as tf from "@tensorflow/tfjs";
import * as wasm from "@tensorflow/tfjs-backend-wasm";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const wanted = process.env.DISCO_TF_BACKEND ?? "wasm";

if (wanted === "wasm") {
  // In Node the backend reads the .wasm binaries from disk; point it at its dist dir.
  const dist = path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm"));
  wasm.setWasmPaths(dist + path.sep);
  if (process.env.DISCO_WASM_THREADS !== undefined)
    wasm.setThreadsCount(Number(process.env.DISCO_WASM_THREADS));
}
const ok = await tf.setBackend(wanted);
if (!ok) throw new Error(`tfjs-node shim: could not set tfjs backend '${wanted}'`);
await tf.ready();
if (process.env.DISCO_SHIM_QUIET === undefined)
  console.error(`[tfjs-node shim] tfjs ${tf.version.tfjs}, backend=${tf.getBackend()}`);

export * from "@tensorflow/tfjs";

function unsupported(name) {
  return () => {
    throw new Error(`tf.node.${name} is not available in the tfjs-node shim (wasm backend)`);
  };
}
// Minimal stand-ins for tfjs-node's extra namespace (image decoding, TensorBoard...).
export const node = {
  decodeImage: unsupported("decodeImage"),
  decodeJpeg: unsupported("decodeJpeg"),
  decodePng: unsupported("decodePng"),
  encodeJpeg: unsupported("encodeJpeg"),
  encodePng: unsupported("encodePng"),
  tensorBoard: unsupported("tensorBoard"),
  summaryFileWriter: unsupported("summaryFileWriter"),
};
