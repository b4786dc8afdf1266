import { buildApp } from '@fedtune/coordinator';
import { socketIoConnector } from '@fedtune/shared';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTransportConformance } from './helpers/transport-conformance.ts';

runTransportConformance('socket.io over a real loopback connection', async () => {
  const maxMessageBytes = 256 * 1024;
  const { app, transport } = buildApp({ runsDir: mkdtempSync(join(tmpdir(), 'fedtune-')), maxMessageBytes });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return { server: transport, connector: socketIoConnector({ url: address }), maxMessageBytes, close: () => app.close() };
});
