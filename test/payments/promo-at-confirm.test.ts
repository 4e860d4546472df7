import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { db } from '../../src/db/knex';
import { adminToken, api } from '../helpers/api';
import { bookingCafe, holdOrFail, useWorkers } from '../helpers/bookings';
import { confirm, gatewayBody, orderFor, pay, statusesOf } from '../helpers/payments';

// A promo named at confirm for an order the server priced without it: refused, never a refund of a payment that fits.
const test = suite('promo at confirm');
useWorkers(test, 2);

// ---- a promo named only at confirm, for an order priced without it ----------------------------

test('a promo code sent with the confirm of an order priced without it does not cost the customer a valid payment', async () => {
  const cafe = await bookingCafe({ price_rupees: 500 });
  const ids = await holdOrFail(cafe, [cafe.slots[8].id]);
  const code = `ATK${Date.now().toString(36).toUpperCase()}`;
  const made = await api('POST', '/promo-codes', { token: adminToken(), body: { code, discount_type: 'percent', discount_value: 10 } });
  assert.is(made.status, 201, JSON.stringify(made.body));
  const order = await orderFor(cafe.token, ids); // priced at ₹500, no promo
  const checkout = pay(order.id, { capture: true });
  const withPromo = await confirm(cafe.token, { ...gatewayBody(ids, checkout), promo_code: code });
  const plain = await confirm(cafe.token, gatewayBody(ids, checkout));
  const payment = await db('payments').where('id', checkout.razorpay_payment_id).first('status');
  assert.equal([plain.status, payment?.status, await statusesOf(ids)], [200, 'confirmed', ['confirmed']],
    `with promo: ${withPromo.status} ${JSON.stringify(withPromo.body)}; then without: ${plain.status} ${plain.body?.code}; payment ${payment?.status}`);
});

test.run();
