// `npm start`: the whole service on one machine from a fresh clone. Writes .env with random
// development secrets if there is none, finds or starts PostgreSQL and Redis (scripts/dev-services.ts),
// runs the Procfile's release step, loads demo data, prints tokens and curl commands, then runs
// every other Procfile process through foreman (`nf start`) with prefixed logs. Ctrl-C or SIGTERM
// stops the processes first, then the Redis and PostgreSQL it started.
import fs from 'fs';
import path from 'path';
import { randomBytes } from 'crypto';
import { ChildProcess, spawn, spawnSync } from 'child_process';
import { commandOf, DevService, DevServiceError, findOrStartPostgres, findOrStartRedis, portIsFree, signalAndWait } from './dev-services';

const ROOT = path.join(__dirname, '..');
const DEMO_DIR = path.join(ROOT, '.demo');
const ENV_FILE = path.join(ROOT, '.env');
const RUNTIME_ENV_FILE = path.join(DEMO_DIR, 'runtime.env');
const TOKENS_FILE = path.join(DEMO_DIR, 'tokens.env');
const FOREMAN_PID_FILE = path.join(DEMO_DIR, 'foreman.pid');

function say(message: string): void {
  process.stdout.write(`demo      | ${message}\n`);
}

class DemoError extends Error {}

// ---------------------------------------------------------------- .env

/** Writes .env from .env.example with random secrets; returns false when one already exists. */
function ensureEnvFile(): boolean {
  if (fs.existsSync(ENV_FILE)) return false;
  const secrets: Record<string, string> = {
    JWT_SECRET: randomBytes(32).toString('hex'),
    RAZORPAY_KEY_SECRET: randomBytes(16).toString('hex'),
    RAZORPAY_WEBHOOK_SECRET: randomBytes(16).toString('hex'),
    ADMIN_PASSWORD: randomBytes(9).toString('base64url'),
  };
  const written = new Set<string>();
  const example = fs.readFileSync(path.join(ROOT, '.env.example'), 'utf8').split('\n');
  // The example's opening comment speaks about the example; the header below replaces it.
  const firstSetting = example.findIndex((line) => !line.startsWith('#'));
  const lines = example.slice(Math.max(0, firstSetting)).map((line) => {
    const match = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match) return line;
    const [, , name, value] = match;
    if (name in secrets) {
      written.add(name);
      return `${name}=${secrets[name]}`;
    }
    if (name === 'DATABASE_URL' || name === 'REDIS_URL') return `# ${name}=${value}`;
    return line;
  });
  const missing = Object.keys(secrets).filter((name) => !written.has(name)).map((name) => `${name}=${secrets[name]}`);
  const header = [
    `# Written by \`npm start\` on ${new Date().toISOString().slice(0, 10)}: random secrets for local development only.`,
    '# DATABASE_URL and REDIS_URL are left unset: npm start finds a local server or starts its own',
    '# (see .demo/runtime.env for what it chose). Set them here to use particular servers.',
    '',
  ];
  fs.writeFileSync(ENV_FILE, [...header, ...lines, ...missing].join('\n').replace(/\n*$/, '\n'), { mode: 0o600 });
  return true;
}

function writeEnvFile(file: string, values: Record<string, string>, comment: string): void {
  const body = Object.entries(values).map(([name, value]) => `${name}=${value}`).join('\n');
  fs.writeFileSync(file, `# ${comment}\n${body}\n`, { mode: 0o600 });
}

// ---------------------------------------------------------------- Procfile

function readProcfile(): Map<string, string> {
  const processes = new Map<string, string>();
  for (const line of fs.readFileSync(path.join(ROOT, 'Procfile'), 'utf8').split('\n')) {
    const match = /^([A-Za-z0-9_-]+):\s*(.+)$/.exec(line.trim());
    if (match) processes.set(match[1], match[2]);
  }
  return processes;
}

function runRelease(command: string): void {
  say(`release: ${command}`);
  const result = spawnSync('/bin/sh', ['-c', command], { cwd: ROOT, stdio: 'inherit', env: process.env });
  if (result.status !== 0) throw new DemoError(`the release step (${command}) failed`);
}

// ---------------------------------------------------------------- demo data and the banner

function nextDateIn(zone: string, localNow: (zone: string) => { date: string }): string {
  const [y, m, d] = localNow(zone).date.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10).replace(/-/g, '');
}

async function seedAndPrintGuide(services: { postgres: DevService; redis: DevService }): Promise<void> {
  // Imported only now: src/config.ts reads the environment once, when first loaded.
  const { seedDemoData } = await import('./seed');
  const { signToken } = await import('../src/http/auth');
  const { localNow } = await import('../src/domain/dates');
  const { db } = await import('../src/db/knex');
  try {
    const data = await seedDemoData();
    const [gamer] = data.gamers;
    const tokens: Array<[string, string, string]> = [
      ['ADMIN_TOKEN', `admin (user ${data.admin.id})`, signToken({ sub: data.admin.id, role: 'admin' })],
      ['GAMER_TOKEN', `gamer ${gamer.name} (user ${gamer.id})`, signToken({ sub: gamer.id, role: 'user' })],
      ...data.cafes.map((cafe, index): [string, string, string] => [
        `VENDOR${index + 1}_TOKEN`,
        `staff of vendor ${cafe.vendor.id} ${cafe.vendor.cafe_name} (user ${cafe.staff.id})`,
        signToken({ sub: cafe.staff.id, role: 'vendor', vendor_id: cafe.vendor.id }),
      ]),
    ];
    writeEnvFile(TOKENS_FILE, Object.fromEntries(tokens.map(([name, , token]) => [name, token])), 'Development tokens from npm start (valid 12h): `set -a; . .demo/tokens.env; set +a`');

    const port = process.env.PORT;
    const api = `http://localhost:${port}`;
    const [cafe] = data.cafes;
    const [game] = cafe.games;
    const date = nextDateIn(cafe.vendor.timezone, localNow);
    const out = [
      '',
      'HFG Booking Service is starting:',
      `  API          ${api}   (every route also under ${api}/api)`,
      `  Realtime     ws://localhost:${process.env.REALTIME_PORT}/socket.io`,
      `  Bull Board   ${api}/admin/queues   (user ${process.env.ADMIN_USER}, password ${process.env.ADMIN_PASSWORD}, from .env)`,
      `  PostgreSQL   ${services.postgres.url.replace(/:[^:@/]+@/, ':***@')}   (${services.postgres.origin})`,
      `  Redis        ${services.redis.url}   (${services.redis.origin})`,
      '',
      'Demo data (created once, kept across runs):',
      ...data.cafes.map((c) => `  vendor ${c.vendor.id} ${c.vendor.cafe_name}: ${c.games.map((g) => `game ${g.id} ${g.game_name}`).join(', ')}`),
      '',
      'Development tokens (12h; also in .demo/tokens.env, and `npm run -s token -- --help` mints more):',
      ...tokens.map(([name, who, token]) => `  # ${who}\n  export ${name}=${token}`),
      '',
      'Try:',
      `  curl -s ${api}/health`,
      `  curl -s ${api}/games/vendor/${cafe.vendor.id}`,
      `  curl -s ${api}/getSlots/vendor/${cafe.vendor.id}/game/${game.id}/${date}`,
      `  curl -s -X POST ${api}/vendors -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' -d '{"cafe_name":"My Cafe"}'`,
      `  curl -s -u ${process.env.ADMIN_USER}:${process.env.ADMIN_PASSWORD} ${api}/admin/queues/api/queues | head -c 300`,
      '',
      'Ctrl-C stops everything.',
      '',
    ];
    process.stdout.write(out.join('\n'));
  } finally {
    await db.destroy();
  }
}

// ---------------------------------------------------------------- run and stop

const started: DevService[] = [];
let foreman: ChildProcess | null = null;
let stopping = false;

async function stopServices(): Promise<void> {
  for (const service of started.splice(0).reverse()) {
    await service.stop().catch((error) => say(`stopping ${service.origin} failed: ${error.message}`));
  }
}

function foremanRunning(): boolean {
  return foreman !== null && foreman.exitCode === null && foreman.signalCode === null;
}

/**
 * Ctrl-C, SIGTERM, SIGHUP. While the Procfile processes run, stop them; foreman's exit handler
 * then stops the services. During start-up, main() notices at its next step (a second signal
 * does not wait for that).
 */
function requestStop(signal: NodeJS.Signals): void {
  if (stopping) {
    if (!foremanRunning()) void stopServices().then(() => process.exit(130));
    return;
  }
  stopping = true;
  if (!foremanRunning()) {
    say(`${signal}: stopping after the current start-up step`);
    return;
  }
  say(`${signal}: stopping the processes`);
  // Foreman runs in its own process group (see startProcesses), so this reaches every process it
  // started even through the `sh -c` it wraps them in.
  process.kill(-foreman!.pid!, 'SIGINT');
  setTimeout(() => {
    if (foremanRunning()) {
      say('processes did not stop within 20 s; killing them');
      process.kill(-foreman!.pid!, 'SIGKILL');
    }
  }, 20_000).unref();
}

/** Between start-up steps: if a stop was requested, undo what was started and leave. */
async function continueStarting(): Promise<void> {
  if (!stopping) return;
  await stopServices();
  say('stopped');
  process.exit(0);
}

/** Processes a previous run left behind when it was killed outright (SIGKILL, a crash). */
async function stopLeftoverProcesses(): Promise<void> {
  if (!fs.existsSync(FOREMAN_PID_FILE)) return;
  const pid = Number(fs.readFileSync(FOREMAN_PID_FILE, 'utf8'));
  if (commandOf(pid).includes('nf.js')) {
    say(`stopping the processes a previous run left running (foreman pid ${pid})`);
    try {
      process.kill(-pid, 'SIGINT');
    } catch {
      // already gone
    }
    await signalAndWait(pid, 'SIGINT');
  }
  fs.rmSync(FOREMAN_PID_FILE, { force: true });
}

function startProcesses(procfile: Map<string, string>, runtime: Record<string, string>): void {
  const names = [...procfile.keys()].filter((name) => name !== 'release');
  const formation = names.map((name) => `${name}=1`).join(',');
  say(`nf start ${formation}`);
  foreman = spawn(
    process.execPath,
    [require.resolve('foreman/nf.js'), '--procfile', 'Procfile', '--env', path.relative(ROOT, RUNTIME_ENV_FILE), 'start', formation],
    // A process group of its own, so that stopping is always done the same way (requestStop), and
    // a Ctrl-C does not reach the processes before the demo decides the order.
    { cwd: ROOT, stdio: 'inherit', detached: true, env: { ...process.env, ...runtime } },
  );
  fs.writeFileSync(FOREMAN_PID_FILE, String(foreman.pid));
  foreman.once('exit', (code, signal) => {
    fs.rmSync(FOREMAN_PID_FILE, { force: true });
    const expected = stopping;
    stopping = true;
    if (!expected) say(`a process stopped (foreman exited with ${signal ?? code}); stopping everything`);
    void stopServices().then(() => {
      say('stopped');
      process.exit(expected ? 0 : 1);
    });
  });
}

async function main(): Promise<void> {
  process.chdir(ROOT);
  fs.mkdirSync(DEMO_DIR, { recursive: true });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => requestStop(signal));

  if (ensureEnvFile()) say('wrote .env with random development secrets');
  // Values already in the environment win over .env, as for every process of the service.
  process.loadEnvFile(ENV_FILE);
  await stopLeftoverProcesses();
  process.env.PORT ||= '3000';
  process.env.REALTIME_PORT ||= '3001';
  for (const name of ['PORT', 'REALTIME_PORT']) {
    if (!(await portIsFree(Number(process.env[name])))) {
      throw new DemoError(`port ${process.env[name]} (${name}) is in use; choose others, e.g. PORT=4000 REALTIME_PORT=4001 npm start`);
    }
  }

  const postgres = await findOrStartPostgres(process.env.DATABASE_URL, path.join(DEMO_DIR, 'pg'), say);
  started.push(postgres);
  await continueStarting();
  const redis = await findOrStartRedis(process.env.REDIS_URL, path.join(DEMO_DIR, 'redis'), say);
  started.push(redis);
  await continueStarting();

  const runtime = { DATABASE_URL: postgres.url, REDIS_URL: redis.url, PORT: process.env.PORT, REALTIME_PORT: process.env.REALTIME_PORT };
  Object.assign(process.env, runtime);
  writeEnvFile(RUNTIME_ENV_FILE, runtime, 'What the last `npm start` chose. While those servers run: npx nf start -e .env,.demo/runtime.env web=1,worker=1,realtime=1');

  const procfile = readProcfile();
  const release = procfile.get('release');
  if (release) runRelease(release);
  await continueStarting();
  await seedAndPrintGuide({ postgres, redis });
  await continueStarting();
  startProcesses(procfile, runtime);
}

main().catch(async (error) => {
  const known = error instanceof DemoError || error instanceof DevServiceError;
  process.stderr.write(`\nnpm start failed: ${known ? error.message : error?.stack ?? error}\n`);
  await stopServices();
  process.exit(1);
});
