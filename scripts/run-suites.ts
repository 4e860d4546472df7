// Loads every test/**/*.test.ts (optionally filtered by argv substrings) into uvu, runs them, then
// closes shared connections so the process exits with uvu's code.
import fs from 'fs';
import path from 'path';
import { startFakeRazorpay } from './fake-razorpay';
import { setFakeRazorpay } from '../test/helpers/razorpay';

function findTests(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'helpers' ? [] : findTests(full);
    return entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

async function main(): Promise<void> {
  const filters = process.argv.slice(2);
  const files = findTests(path.join(__dirname, '..', 'test'))
    .sort()
    .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)));
  if (files.length === 0) throw new Error(`no test files match ${filters.join(' ')}`);
  // Razorpay is reached at the fake server, here and in every worker process the tests start: set
  // before any test file loads src/config.ts.
  const fake = await startFakeRazorpay({
    keyId: process.env.RAZORPAY_KEY_ID!, keySecret: process.env.RAZORPAY_KEY_SECRET!, webhookSecret: process.env.RAZORPAY_WEBHOOK_SECRET!,
  });
  process.env.RAZORPAY_API_BASE = fake.url;
  setFakeRazorpay(fake);
  (globalThis as any).UVU_DEFER = 1;
  const uvu = require('uvu');
  files.forEach((file, index) => {
    (globalThis as any).UVU_QUEUE.push([path.relative(process.cwd(), file)]);
    (globalThis as any).UVU_INDEX = index;
    require(file);
  });
  await uvu.exec(false);
  const { closeTestResources } = require('../test/helpers/resources');
  await closeTestResources();
  await fake.close();
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
