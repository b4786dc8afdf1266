import { MemoryNetwork } from '@fedtune/shared';
import { runTransportConformance } from './helpers/transport-conformance.ts';

runTransportConformance('in-memory network', async () => {
  const net = new MemoryNetwork({ maxMessageBytes: 256 * 1024 });
  const server = net.serverTransport();
  return { server, connector: net.connector(), maxMessageBytes: net.maxMessageBytes, close: () => server.close() };
});
