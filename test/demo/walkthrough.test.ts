// `npm start` as a newcomer meets it: a real demo (in a throw-away checkout, on free ports, with its
// own database and Redis prefix), the README's walk-throughs run twice against it by
// scripts/walkthrough.sh, then a second `npm start` beside it: refused on the same state or port,
// welcome on other ports.
import fs from 'fs';
import path from 'path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort } from '../../scripts/test-env';
import { onTestsDone } from '../helpers/resources';
import { answers, createDemoTree, Demo, DemoTree, readEnvFile, runInTree, startDemo, waitUntilReady } from './helpers/demo-tree';

const test = suite('npm start and the README walk-throughs');

let tree: DemoTree;
let first: Demo;
const demos: Demo[] = [];

async function cleanUp(): Promise<void> {
  await Promise.all(demos.splice(0).map((demo) => demo.stop()));
  await tree?.remove();
}
onTestsDone(cleanUp);

const health = (port: number) => answers(`http://127.0.0.1:${port}/health`);

test.before(async () => {
  tree = createDemoTree();
  // RAZORPAY_FAKE_PORT left to the demo (4010 when free), so that the second demo must choose another.
  first = await startDemo(tree, { env: { RAZORPAY_FAKE_PORT: '' } });
  demos.push(first);
  await waitUntilReady(first);
});

test.after(cleanUp);

test('scripts/walkthrough.sh runs every command of the README walk-throughs, twice against one demo', async () => {
  for (const pass of [1, 2]) {
    const run = await runInTree(tree, 'bash', ['scripts/walkthrough.sh'], 120_000);
    assert.is(run.code, 0, `pass ${pass} of the walk-through failed:\n${run.output.slice(-6000)}\n--- demo:\n${first.output().slice(-3000)}`);
    assert.match(run.output, "every command of the README's walk-throughs succeeded");
    // The refusals the README shows were met as such.
    for (const status of ['409', '402', '400']) assert.match(run.output, `→ ${status} {`, `pass ${pass}: no ${status} answer`);
  }
});

test('a second npm start on the same state or port says a demo is running and exits non-zero; the first keeps running', async () => {
  const lock = path.join(tree.dir, '.demo', 'demo.lock');
  const tokens = fs.readFileSync(path.join(tree.dir, '.demo', 'tokens.env'), 'utf8');
  const sameState = await startDemo(tree, { port: first.port });
  const sameStateCode = await sameState.exited;
  assert.is(sameStateCode, 1, sameState.output());
  const { PID } = readEnvFile(lock);
  assert.match(sameState.output(), `a demo is already running with this demo's state, .demo (pid ${PID}, API http://localhost:${first.port}, state in .demo)`);
  assert.match(sameState.output(), 'npm start');

  // Its own state (.demo/<port>/), the first demo's port.
  const samePort = await startDemo(tree, { port: first.port, env: { DEMO_DIR: '' } });
  assert.is(await samePort.exited, 1, samePort.output());
  assert.match(samePort.output(), `a demo is already running on port ${first.port} (PORT)`);
  assert.not.match(samePort.output(), /\n\s+at /, 'no stack trace');

  assert.ok(await health(first.port), 'the first demo still answers');
  assert.ok(fs.existsSync(lock), 'the first demo still holds its state');
  assert.is(fs.readFileSync(path.join(tree.dir, '.demo', 'tokens.env'), 'utf8'), tokens, 'its tokens are untouched');
});

test('a second demo on other ports runs beside the first, with its own state, Redis prefix and fake Razorpay', async () => {
  const port = await freePort();
  // As a developer starts it: PORT and REALTIME_PORT only; state, Redis prefix and fake port are the demo's choice.
  const second = await startDemo(tree, { port, env: { DEMO_DIR: '', REDIS_KEY_PREFIX: '', RAZORPAY_FAKE_PORT: '', REALTIME_PORT: String(await freePort()) } });
  demos.push(second);
  tree.prefixes.push(`hfg-demo-${port}`);
  await waitUntilReady(second);
  assert.ok(await health(first.port), 'the first demo still answers');
  assert.ok(await health(port), 'the second demo answers');

  const firstRuntime = readEnvFile(path.join(tree.dir, '.demo', 'runtime.env'));
  const secondRuntime = readEnvFile(path.join(tree.dir, '.demo', String(port), 'runtime.env'));
  assert.is(firstRuntime.PORT, String(first.port), 'the first demo\'s runtime.env is its own still');
  assert.is(secondRuntime.PORT, String(port));
  assert.is(secondRuntime.REDIS_KEY_PREFIX, `hfg-demo-${port}`);
  assert.is.not(secondRuntime.REDIS_KEY_PREFIX, firstRuntime.REDIS_KEY_PREFIX);
  assert.is.not(secondRuntime.RAZORPAY_FAKE_PORT, firstRuntime.RAZORPAY_FAKE_PORT);
  assert.is(readEnvFile(path.join(tree.dir, '.demo', String(port), 'tokens.env')).API, `http://localhost:${port}`);

  assert.is(await second.stop(), 0, second.output().slice(-3000));
  demos.splice(demos.indexOf(second), 1);
  assert.ok(await health(first.port), 'the first demo answers after the second stopped');
});

test('SIGTERM stops the demo cleanly and gives its state back', async () => {
  assert.is(await first.stop(), 0, first.output().slice(-3000));
  demos.splice(demos.indexOf(first), 1);
  assert.match(first.output(), 'demo      | stopped');
  assert.not.ok(fs.existsSync(path.join(tree.dir, '.demo', 'demo.lock')), 'the lock is gone');
  assert.not.ok(await health(first.port), 'nothing answers on its port');
});

test.run();
