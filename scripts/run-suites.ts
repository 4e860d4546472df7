// Loads every test/**/*.test.ts (optionally filtered by argv substrings) into uvu, runs them, then
// closes shared connections so the process exits with uvu's code.
import fs from 'fs';
import path from 'path';

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
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
