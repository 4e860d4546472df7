import knexFactory, { Knex } from 'knex';
import { Model } from 'objection';
import { types } from 'pg';
import path from 'path';
import { config } from '../config';

// DATE columns stay 'YYYY-MM-DD' strings: a booking date is a calendar day in the vendor's zone,
// and turning it into a JS Date would shift it by the server's offset.
types.setTypeParser(1082, (value: string) => value);
// BIGINT ids and counts fit comfortably in a JS number for this product.
types.setTypeParser(20, (value: string) => Number(value));

export function createKnex(databaseUrl = config.databaseUrl, poolMax = 10): Knex {
  return knexFactory({
    client: 'pg',
    connection: databaseUrl,
    pool: { min: 0, max: poolMax },
    migrations: {
      directory: path.join(__dirname, '..', '..', 'migrations'),
      loadExtensions: ['.ts', '.js'],
      tableName: 'knex_migrations',
    },
  });
}

export const db: Knex = createKnex();
Model.knex(db);

export type Transaction = Knex.Transaction;
