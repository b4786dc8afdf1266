import { Command } from 'commander';
import { SiteTokenStore } from '@fedtune/coordinator';
import { FedtuneError } from '@fedtune/shared';

const DEFAULT_DB = 'runs/fedtune.db';

function withStore<T>(path: string, fn: (store: SiteTokenStore) => T): T {
  const store = new SiteTokenStore(path);
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

/** `fedtune sites add|revoke|list`: the sites allowed to join a coordinator, with their tokens. */
export function sitesCommand(): Command {
  const sites = new Command('sites').description('register sites with the coordinator, revoke and list them (tokens are stored only as hashes)');
  sites
    .command('add')
    .description('register a site and print its new token once (stdout); once a site is registered, coordinators require tokens')
    .argument('<name>', 'the site name it joins with (fedtune client --site NAME)')
    .option('--db <path>', "the coordinator's database (the coordinator's --out dir + /fedtune.db)", DEFAULT_DB)
    .option('--rotate', 'replace the token of a site that is already registered (the old token stops working)')
    .action((name: string, o: { db: string; rotate?: boolean }) => {
      const token = withStore(o.db, (store) => store.add(name, { rotate: o.rotate }));
      console.error(`site ${name} registered in ${o.db}. Its token, shown only this once (only a hash is kept):`);
      console.log(token);
      console.error(`give it to the site over a safe channel: fedtune client --site ${name} --token TOKEN …`);
    });
  sites
    .command('revoke')
    .description('revoke a site’s token: new connections with it are refused at once (open ones run until they close)')
    .argument('<name>', 'the site name')
    .option('--db <path>', "the coordinator's database", DEFAULT_DB)
    .action((name: string, o: { db: string }) => {
      const revoked = withStore(o.db, (store) => (store.revoke(name) ? true : store.list().find((s) => s.name === name)));
      if (revoked === true) console.log(`site ${name} revoked`);
      else if (revoked) throw new FedtuneError('config', `site ${name} was already revoked at ${revoked.revokedAt}`);
      else throw new FedtuneError('not_found', `no site ${name} in ${o.db}`);
    });
  sites
    .command('list')
    .description('list registered sites: name, created, revoked, last used (never the token)')
    .option('--db <path>', "the coordinator's database", DEFAULT_DB)
    .option('--json', 'print one JSON array')
    .action((o: { db: string; json?: boolean }) => {
      const rows = withStore(o.db, (store) => store.list());
      if (o.json) {
        console.log(JSON.stringify(rows));
        return;
      }
      if (rows.length === 0) {
        console.log(`no sites registered in ${o.db}: coordinators using it let any site join (fedtune sites add NAME)`);
        return;
      }
      const table = [['site', 'created', 'revoked', 'last used'], ...rows.map((r) => [r.name, r.createdAt, r.revokedAt ?? '-', r.lastUsedAt ?? 'never'])];
      const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
      for (const row of table) console.log(row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd());
    });
  return sites;
}
