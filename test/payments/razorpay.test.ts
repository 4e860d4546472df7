import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHmac } from 'crypto';
import Razorpay from 'razorpay';
import { config } from '../../src/config';
import {
  capturePayment, checkoutSignatureValid, createOrder, fetchPayment, GatewayError, paymentsOfOrder, refundOnce, webhookSignatureValid,
} from '../../src/payments/razorpay';
import { fakeRazorpay } from '../helpers/razorpay';

// The gateway adapter through the real `razorpay` SDK against the project's fake Razorpay server
// (scripts/fake-razorpay.ts): what the payment jobs will stand on.

async function refusal(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (error) {
    assert.instance(error, GatewayError);
    return error as GatewayError;
  }
  throw new Error('the call succeeded');
}

test('an order, paid and authorized at the checkout, is fetched, captured once and refunded once per receipt', async () => {
  const order = await createOrder({ amount: 50000, currency: 'INR', receipt: 'order_rcpt_1' });
  assert.match(order.id, /^order_/);
  assert.equal([order.amount, order.currency, order.receipt, order.status], [50000, 'INR', 'order_rcpt_1', 'created']);
  const checkout = fakeRazorpay().pay(order.id);
  assert.ok(checkoutSignatureValid(order.id, checkout.razorpay_payment_id, checkout.razorpay_signature));

  const authorized = await fetchPayment(checkout.razorpay_payment_id);
  assert.equal([authorized.order_id, authorized.amount, authorized.status, authorized.captured], [order.id, 50000, 'authorized', false]);
  assert.equal((await paymentsOfOrder(order.id)).map((p) => p.id), [checkout.razorpay_payment_id]);
  const captured = await capturePayment(checkout.razorpay_payment_id, 50000, 'INR');
  assert.equal([captured.status, captured.captured], ['captured', true]);
  const again = await refusal(capturePayment(checkout.razorpay_payment_id, 50000, 'INR'));
  assert.equal([again.status, again.transient], [400, false]);

  const refund = await refundOnce(checkout.razorpay_payment_id, 50000, 'refund-booking-1');
  assert.equal([refund.amount, refund.receipt, refund.status], [50000, 'refund-booking-1', 'processed']);
  const repeated = await refundOnce(checkout.razorpay_payment_id, 50000, 'refund-booking-1');
  assert.is(repeated.id, refund.id, 'the same receipt is the same refund');
  assert.equal([...fakeRazorpay().payments.values()].filter((p) => p.id === checkout.razorpay_payment_id).map((p) => [p.status, p.amount_refunded]), [['refunded', 50000]]);
});

test('signatures: forged, swapped and for another order are refused; webhook bodies are checked raw', () => {
  const signature = createHmac('sha256', config.razorpayKeySecret).update('order_a|pay_b').digest('hex');
  assert.ok(checkoutSignatureValid('order_a', 'pay_b', signature));
  assert.not.ok(checkoutSignatureValid('pay_b', 'order_a', signature), 'swapped ids');
  assert.not.ok(checkoutSignatureValid('order_c', 'pay_b', signature), 'another order');
  assert.not.ok(checkoutSignatureValid('order_a', 'pay_b', signature.toUpperCase()), 'not the same hex');
  assert.not.ok(checkoutSignatureValid('order_a', 'pay_b', ''), 'empty');
  assert.not.ok(checkoutSignatureValid('order_a', 'pay_b', createHmac('sha256', 'wrong-secret').update('order_a|pay_b').digest('hex')), 'another secret');
  const body = '{"event":"payment.captured","payload":{}}';
  const webhook = createHmac('sha256', config.razorpayWebhookSecret).update(body).digest('hex');
  assert.ok(webhookSignatureValid(Buffer.from(body), webhook));
  assert.not.ok(webhookSignatureValid('{"event": "payment.captured","payload":{}}', webhook), 'the same JSON, other bytes');
});

test('Razorpay answering 500 or not answering is a transient GatewayError; a wrong key pair is not', async () => {
  fakeRazorpay().fail('error500');
  const failed = await refusal(createOrder({ amount: 10000, currency: 'INR', receipt: 'r-500' }));
  assert.equal([failed.status, failed.transient], [500, true]);
  // The next call goes through again.
  assert.match((await createOrder({ amount: 10000, currency: 'INR', receipt: 'r-ok' })).id, /^order_/);

  const unknown = await refusal(fetchPayment('pay_doesnotexist'));
  assert.equal([unknown.status, unknown.transient], [400, false]);

  const stranger = new Razorpay({ key_id: config.razorpayKeyId, key_secret: 'not-the-secret' });
  (stranger as any).api.rq.defaults.baseURL = fakeRazorpay().url;
  const denied = await stranger.orders.create({ amount: 10000, currency: 'INR', receipt: 'r-denied' }).then(() => null, (error: any) => error);
  assert.is(denied.statusCode, 401);
});

test('a call Razorpay never answers times out (RAZORPAY_TIMEOUT_MS) as a transient GatewayError', async () => {
  fakeRazorpay().fail('timeout');
  const timedOut = await refusal(createOrder({ amount: 10000, currency: 'INR', receipt: 'r-timeout' }));
  assert.equal([timedOut.status, timedOut.transient], [null, true]);
  assert.match(timedOut.message, /unreachable/);
  assert.match((await createOrder({ amount: 10000, currency: 'INR', receipt: 'r-after' })).id, /^order_/);
});

test.run();
