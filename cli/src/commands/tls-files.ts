import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { FedtuneError, oneLine } from '@fedtune/shared';

/**
 * Checks the PEM files of --tls-cert and --tls-key before the server starts: a file that is not a PEM certificate
 * or private key, or a pair that does not match, is one FedtuneError('config') line naming the flag and the file
 * (it ended in `fedtune: internal: error:0480006C:PEM routines::no start line`).
 */
export function checkTlsFiles(tls: { cert: Uint8Array; key: Uint8Array }, paths: { cert: string; key: string }): void {
  const why = (err: unknown) => oneLine((err as Error).message, 120);
  try {
    new X509Certificate(tls.cert);
  } catch (err) {
    throw new FedtuneError('config', `--tls-cert ${paths.cert} is not a PEM certificate (${why(err)})`, { cause: err });
  }
  try {
    createPrivateKey({ key: Buffer.from(tls.key), format: 'pem' });
  } catch (err) {
    throw new FedtuneError('config', `--tls-key ${paths.key} is not an unencrypted PEM private key (${why(err)})`, { cause: err });
  }
  try {
    createSecureContext({ cert: Buffer.from(tls.cert), key: Buffer.from(tls.key) });
  } catch (err) {
    throw new FedtuneError('config', `--tls-key ${paths.key} does not match the certificate of --tls-cert ${paths.cert} (${why(err)})`, { cause: err });
  }
}
