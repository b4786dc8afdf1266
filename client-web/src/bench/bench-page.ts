import { selectBrowserBackend } from '../backend/select-browser-backend.ts';
import { measureFitThroughput, type ThroughputOptions, type ThroughputResult } from './measure-throughput.ts';

declare global {
  interface Window {
    fedtuneBench: (options: ThroughputOptions & { backend?: string }) => Promise<ThroughputResult & { skipped: string[] }>;
  }
}

// bench.html: the browser half of bench/browser-throughput.ts. Picks the backend as the site page does
// (or the one asked for) and times the site's training loop.
window.fedtuneBench = async (options) => {
  const selection = await selectBrowserBackend(options.backend);
  const result = await measureFitThroughput(options);
  const out = { ...result, skipped: selection.skipped.map((s) => `${s.backend}: ${s.reason}`) };
  document.getElementById('out')!.textContent = JSON.stringify(out, null, 2);
  return out;
};
document.body.dataset.ready = 'true';
