// Stub of node-datachannel/polyfill: any attempt to open a WebRTC connection fails loudly.
function unavailable() {
  throw new Error("node-datachannel stub: WebRTC is not available in this build (decentralized scheme unsupported)");
}
const wrtc = new Proxy({}, { get: (_t, key) => (key === "then" ? undefined : unavailable) });
export default wrtc;
