import { AppContext, createRouter } from '../context';
import { requireRole, requireUser } from '../auth';
import { bodyParser, idParams } from '../validate';
import { NotFound } from '../../errors';
import { creditWallet, walletOf } from '../../db/wallets';
import { rupeesToPaise } from '../../domain/money';

// SPEC §5.4, the wallet: the caller's own, any user's for an admin, and an admin's credit.
// (Paying with the wallet is a confirmation: payment-verification and the booking partitions.)

export const walletsRouter = createRouter();

const MAX_CREDIT_RUPEES = 100_000;

const parseCredit = bodyParser<{ amount: number; reason: string }>({
  type: 'object',
  properties: {
    amount: { type: 'integer', minimum: 1, maximum: MAX_CREDIT_RUPEES },
    reason: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' },
  },
  required: ['amount', 'reason'],
  additionalProperties: false,
});
const parseUserId = idParams('id');

/** A wallet answer carries personal data: never cached. */
async function answerWallet(ctx: AppContext, userId: number): Promise<void> {
  const wallet = await walletOf(userId);
  if (!wallet) throw new NotFound('User');
  ctx.set('Cache-Control', 'no-store');
  ctx.body = wallet;
}

walletsRouter.get('/wallet', (ctx) => answerWallet(ctx, requireUser(ctx.state.user).id));

walletsRouter.get('/users/:id/wallet', async (ctx) => {
  requireUser(ctx.state.user);
  const { id } = parseUserId(ctx.params);
  requireRole(ctx.state.user, 'admin');
  await answerWallet(ctx, id);
});

walletsRouter.post('/users/:id/wallet/credit', async (ctx) => {
  requireUser(ctx.state.user);
  const { id } = parseUserId(ctx.params);
  requireRole(ctx.state.user, 'admin');
  const { amount, reason } = parseCredit(ctx.request.body);
  ctx.set('Cache-Control', 'no-store');
  ctx.body = await creditWallet(id, rupeesToPaise(amount), reason.trim());
});
