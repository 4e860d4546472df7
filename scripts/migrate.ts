// `npm run migrate` applies every migration; `npm run migrate -- --down` rolls them all back.
import { createKnex } from '../src/db/knex';

// Migrations may rewrite big tables: no statement or lock timeout here.
const db = createKnex(undefined, { boundedWaits: false });

async function main(): Promise<void> {
  if (process.argv.includes('--down')) {
    const [, files] = await db.migrate.rollback(undefined, true);
    console.log(files.length ? `rolled back ${files.join(', ')}` : 'nothing to roll back');
  } else {
    const [, files] = await db.migrate.latest();
    console.log(files.length ? `applied ${files.join(', ')}` : 'schema is up to date');
  }
}

main()
  .catch((error) => {
    console.error(`migration failed: ${error.message}`);
    process.exitCode = 1;
  })
  .finally(() => db.destroy());
