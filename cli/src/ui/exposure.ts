import type { Exposure } from '@fedtune/coordinator';

/** The banner lines saying exactly what the coordinator bound and who may use it. */
export function exposureLines(e: Exposure): string[] {
  const where = e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
  const lines = [
    e.loopback
      ? `bound to ${where} (loopback: only this machine can connect; --host 0.0.0.0 to expose)`
      : `bound to ${where} (${e.host === '0.0.0.0' || e.host === '::' ? 'every interface' : 'a network address'}: reachable from the network)`,
  ];
  if (e.adminTokenRequired) {
    lines.push(
      e.adminTokenExists
        ? `control plane (POST /api/runs…, site listings): admin token required (Authorization: Bearer; ${e.adminTokenDb})`
        : `warning: the control plane needs an admin token and none exists: its routes refuse everyone until you run \`fedtune admin-token --db ${e.adminTokenDb}\``,
    );
  } else {
    lines.push('control plane (POST /api/runs…, site listings): open to this machine (loopback, no site tokens)');
  }
  if (!e.loopback && !e.siteTokensRequired) {
    lines.push('warning: exposed to the network without site tokens: any peer that reaches this port can join as a site (fedtune sites add NAME)');
  }
  return lines;
}
