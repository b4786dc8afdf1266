import { execSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A throwaway private CA and a server certificate for localhost / 127.0.0.1 signed by it (P-256, 1 day), as PEM text and files in `dir`. */
export function makeCertificates(dir: string): { ca: string; cert: string; key: string; caFile: string } {
  const run = (cmd: string) => execSync(cmd, { cwd: dir, stdio: 'pipe' });
  const ec = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';
  run(`openssl req -x509 ${ec} -keyout ca.key -out ca.pem -days 1 -subj "/CN=fedtune test CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"`);
  run(`openssl req ${ec} -keyout server.key -out server.csr -subj "/CN=localhost"`);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  run('openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 -extfile ext.cnf');
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return { ca: read('ca.pem'), cert: read('server.pem'), key: read('server.key'), caFile: join(dir, 'ca.pem') };
}
