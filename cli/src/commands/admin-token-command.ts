import { Command } from 'commander';
import { AdminTokenStore } from '@fedtune/coordinator';
import { FedtuneError } from '@fedtune/shared';

const DEFAULT_DB = 'runs/fedtune.db';

/**
 * `fedtune admin-token`: makes the admin token of a coordinator's HTTP control plane (creating, starting and
 * stopping runs; listing sites) and prints it once. Only a salted hash is kept, next to the site tokens.
 */
export function adminTokenCommand(): Command {
  return new Command('admin-token')
    .description('make the admin token of the coordinator\'s HTTP control plane and print it once (stdout); needed when the coordinator is not on loopback or site tokens are required')
    .option('--db <path>', "the coordinator's database (the coordinator's --out dir + /fedtune.db, or its --sites-db)", DEFAULT_DB)
    .option('--rotate', 'replace the existing admin token (the old one stops working at once)')
    .option('--revoke', 'remove the admin token (the control plane then refuses everyone where a token is needed)')
    .action((o: { db: string; rotate?: boolean; revoke?: boolean }) => {
      const store = new AdminTokenStore(o.db);
      try {
        if (o.revoke) {
          if (!store.revoke()) throw new FedtuneError('not_found', `no admin token in ${o.db}`);
          console.log(`admin token revoked in ${o.db}`);
          return;
        }
        const made = store.create({ rotate: o.rotate });
        if ('exists' in made) {
          throw new FedtuneError('config', `an admin token already exists in ${o.db} (made ${made.exists.createdAt}): replace it with \`fedtune admin-token --rotate --db ${o.db}\``);
        }
        console.error(`admin token ${o.rotate ? 'rotated' : 'made'} in ${o.db}. Shown only this once (only a hash is kept):`);
        console.log(made.token);
        console.error('send it as the header Authorization: Bearer TOKEN to POST /api/runs…, /api/runs/:id/sites, /api/live and /api/events');
      } finally {
        store.close();
      }
    });
}
