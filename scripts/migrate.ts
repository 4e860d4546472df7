// `npm run migrate` applies every migration; `npm run migrate -- --down` rolls them all back.
import { db } from '../src/db/knex';

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
