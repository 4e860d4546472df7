import { db, Transaction } from './knex';
import { NotFound } from '../errors';
import { paiseToRupees } from '../domain/money';

// The in-app wallet (SPEC §5.4): a balance and the ledger that explains it. Every change locks the
// wallet row and then reads it (lock, then read), and writes the ledger entry and the new balance
// in one transaction, so the balance always equals the sum of the ledger; CHECK (balance >= 0)
// is the database's last word on a debit.

export interface WalletView {
  balance: number;
  transactions: Array<{ id: number; amount: number; reason: string; transaction_id: number | null; created_at: string }>;
}

const HISTORY_LIMIT = 50;

/** A user's balance (rupees) and latest ledger entries, newest first; an empty wallet for a user who never had one. */
export async function walletOf(userId: number): Promise<WalletView | null> {
  const user = await db('users as u').leftJoin('wallets as w', 'w.user_id', 'u.id').where('u.id', userId).first('u.id', 'w.balance_paise');
  if (!user) return null;
  const entries: Array<{ id: number; amount_paise: number; reason: string; transaction_id: number | null; created_at: Date }> = await db('wallet_ledger')
    .where('user_id', userId).orderBy('id', 'desc').limit(HISTORY_LIMIT).select('id', 'amount_paise', 'reason', 'transaction_id', 'created_at');
  return {
    balance: paiseToRupees(user.balance_paise ?? 0),
    transactions: entries.map((e) => ({ id: e.id, amount: paiseToRupees(e.amount_paise), reason: e.reason, transaction_id: e.transaction_id, created_at: e.created_at.toISOString() })),
  };
}

/** Locks a user's wallet (lock order 6), creating an empty one first; returns its balance, read after the lock. */
export async function lockWallet(trx: Transaction, userId: number): Promise<number> {
  await trx('wallets').insert({ user_id: userId }).onConflict('user_id').ignore();
  await trx('wallets').where('user_id', userId).forUpdate().first('user_id');
  const { balance_paise } = await trx('wallets').where('user_id', userId).first('balance_paise');
  return balance_paise;
}

/** Writes a ledger entry and the balance it makes, on a wallet locked by lockWallet. */
export async function changeWallet(trx: Transaction, userId: number, amountPaise: number, reason: string, transactionId: number | null = null): Promise<void> {
  await trx('wallet_ledger').insert({ user_id: userId, amount_paise: amountPaise, reason, transaction_id: transactionId });
  await trx('wallets').where('user_id', userId).update({ balance_paise: trx.raw('balance_paise + ?', [amountPaise]), updated_at: trx.fn.now() });
}

/** Adds money to a user's wallet (an admin's credit); the wallet is created on its first credit. */
export async function creditWallet(userId: number, amountPaise: number, reason: string): Promise<WalletView> {
  await db.transaction(async (trx) => {
    const user = await trx('users').where('id', userId).first('id');
    if (!user) throw new NotFound('User');
    await lockWallet(trx, userId);
    await changeWallet(trx, userId, amountPaise, reason);
  });
  return (await walletOf(userId))!;
}
