// `npm run -s pay -- order_… [--authorize-only] [--amount <paise>] [--webhook]`: pays an order on the
// fake Razorpay that a running `npm start` serves, as Razorpay's checkout would, and prints the
// checkout's signed response, `{ razorpay_payment_id, razorpay_order_id, razorpay_signature }`,
// as one line of JSON, ready for POST /capture_payment or POST /bookings/confirm. With --webhook the
// fake also delivers the signed payment.captured webhook to the demo's POST /webhooks/razorpay,
// as Razorpay does for a user who closed the app after paying.
//
// The fake's address and the API's port come from .demo/runtime.env, which npm start writes; the
// fake holds the key pair and webhook secret, so this script needs neither.
import { DEFAULT_PORT, demoState } from './demo-state';
import fs from 'fs';
import path from 'path';
import { parseArgs, parseEnv } from 'util';

// The demo on PORT (default 3000), or the one in DEMO_DIR: the same state npm start chose.
const RUNTIME_ENV_FILE = demoState(path.join(__dirname, '..'), Number(process.env.PORT || DEFAULT_PORT), process.env.DEMO_DIR).runtimeEnvFile;

const USAGE = `Usage: npm run -s pay -- <order_id> [--authorize-only] [--amount <paise>] [--webhook]

Pays an order on the fake Razorpay of a running \`npm start\`, as Razorpay's checkout would, and prints
the checkout response: {"razorpay_payment_id":…,"razorpay_order_id":…,"razorpay_signature":…}.

  --authorize-only  leave the payment authorized (the service captures it); default: captured, as
                    Razorpay's automatic capture does
  --amount <paise>  pay this amount instead of the order's (to see a wrong amount refused)
  --webhook         also deliver the signed payment.captured webhook to the demo's /webhooks/razorpay

Run it with -s (npm run -s pay) so that npm prints nothing else, e.g.
  npm run -s pay -- "$ORDER" | curl -s -X POST localhost:3000/capture_payment \\
    -H "Authorization: Bearer $GAMER_TOKEN" -H 'Content-Type: application/json' -d @-`;

class PayError extends Error {}

function usageError(message: string): never {
  process.stderr.write(`${message}\nUsage: npm run -s pay -- <order_id> [--authorize-only] [--amount <paise>] [--webhook]   (--help says more)\n`);
  process.exit(64); // EX_USAGE
}

interface Demo {
  fakeUrl: string;
  webhookUrl: string;
}

/** Where the last `npm start` runs its fake Razorpay and its API. */
function readDemo(): Demo {
  if (!fs.existsSync(RUNTIME_ENV_FILE)) {
    throw new PayError('No demo has run in this checkout (.demo/runtime.env is missing). Start it with `npm start` in another terminal.');
  }
  const runtime = parseEnv(fs.readFileSync(RUNTIME_ENV_FILE, 'utf8')) as Record<string, string | undefined>;
  if (!runtime.RAZORPAY_API_BASE) {
    throw new PayError(
      'The last `npm start` uses Razorpay itself (RAZORPAY_KEY_ID is configured), not the fake: pay the order in\n' +
        "Razorpay's checkout (test mode: a test card), then send its response to POST /capture_payment.",
    );
  }
  return { fakeUrl: runtime.RAZORPAY_API_BASE, webhookUrl: `http://127.0.0.1:${runtime.PORT ?? 3000}/webhooks/razorpay` };
}

/** A control route of the fake; a connection refused means the demo is not running. */
async function callFake(demo: Demo, route: string, body: unknown): Promise<{ status: number; body: any }> {
  let response: Response;
  try {
    response = await fetch(`${demo.fakeUrl}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new PayError(
      `Nothing answers at ${demo.fakeUrl}, where the last \`npm start\` ran its fake Razorpay (${cause}).\n` +
        'Is the demo running? Start it with `npm start` in another terminal, then create the order again:\n' +
        'the fake keeps its orders in memory only.',
    );
  }
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch {
    throw new PayError(`${demo.fakeUrl} answered ${response.status} with something other than JSON: is it the demo's fake Razorpay?\n${text.slice(0, 300)}`);
  }
}

function describe(answer: { body: any }): string {
  return answer.body?.error?.description ?? JSON.stringify(answer.body);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        'authorize-only': { type: 'boolean', default: false },
        amount: { type: 'string' },
        webhook: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    usageError((error as Error).message);
  }
  const { values: options, positionals } = parsed;
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (positionals.length !== 1) usageError(positionals.length === 0 ? 'Which order? Give its id (order_…), from POST /create_order.' : `One order at a time (got ${positionals.join(' ')})`);
  const [orderId] = positionals;
  if (!/^order_[A-Za-z0-9]{1,40}$/.test(orderId)) usageError(`"${orderId}" is not a Razorpay order id (order_…)`);
  let amount: number | undefined;
  if (options.amount !== undefined) {
    if (!/^\d+$/.test(options.amount) || Number(options.amount) < 100) usageError(`--amount is in paise, a whole number of at least 100 (got "${options.amount}")`);
    amount = Number(options.amount);
  }
  if (options.webhook && options['authorize-only']) {
    usageError('--webhook delivers payment.captured, which Razorpay sends once a payment is captured: leave out --authorize-only');
  }

  const demo = readDemo();
  const paid = await callFake(demo, `/_fake/orders/${orderId}/pay`, { capture: !options['authorize-only'], ...(amount !== undefined ? { amount } : {}) });
  if (paid.status === 404) {
    throw new PayError(
      `${orderId} is not an order of the running fake Razorpay (${demo.fakeUrl}). Its orders live in memory: an order\n` +
        'created before the demo last started is gone. Create one with POST /create_order.',
    );
  }
  if (paid.status !== 200) throw new PayError(`The fake Razorpay refused to pay ${orderId} (${paid.status}): ${describe(paid)}`);
  // The one line on stdout: what the checkout hands the app.
  process.stdout.write(`${JSON.stringify(paid.body)}\n`);
  process.stderr.write(`paid ${orderId}: ${paid.body.razorpay_payment_id}, ${options['authorize-only'] ? 'authorized (the service captures it)' : 'captured'}\n`);

  if (options.webhook) {
    const delivered = await callFake(demo, `/_fake/payments/${paid.body.razorpay_payment_id}/webhook`, { url: demo.webhookUrl, event: 'payment.captured' });
    if (delivered.status !== 200) throw new PayError(`The payment is made, but its webhook was not delivered: ${describe(delivered)}\nIs the API of the demo up at ${demo.webhookUrl}?`);
    const status: number = delivered.body.status;
    process.stderr.write(`webhook payment.captured → POST ${demo.webhookUrl}: ${status}${status === 200 ? '' : ' (the service refused it: see the web log)'}\n`);
    if (status !== 200) process.exitCode = 1;
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof PayError ? error.message : (error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
