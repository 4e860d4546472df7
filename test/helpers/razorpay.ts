import type { FakeRazorpay } from '../../scripts/fake-razorpay';

// The run's fake Razorpay server: scripts/run-suites.ts starts it before any test file loads (so
// RAZORPAY_API_BASE points at it in this process and in every worker process a test starts).

let fake: FakeRazorpay | null = null;

export function setFakeRazorpay(server: FakeRazorpay): void {
  fake = server;
}

export function fakeRazorpay(): FakeRazorpay {
  if (!fake) throw new Error('the fake Razorpay server was not started (run tests through npm test)');
  return fake;
}
