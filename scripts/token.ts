// `npm run -s token -- --role user --sub 456 [--vendor-id 7] [--expires 12h]` prints a development
// JWT signed with JWT_SECRET (from the environment, else from .env, which `npm start` writes).
// In production tokens come from the HFG user service; this only mints what it would.
import fs from 'fs';
import path from 'path';
import { parseArgs } from 'util';

const USAGE = `Usage: npm run -s token -- --role <user|vendor|admin> --sub <user id> [--vendor-id <id>] [--expires <12h|30m|7d|seconds>]

  --role       user, vendor or admin
  --sub        the user id the token speaks for (a positive integer; staff and admins are users too)
  --vendor-id  the cafe of a vendor token (required with --role vendor, refused otherwise)
  --expires    lifetime: seconds, or a number with s, m, h, d or w (default 12h)

Signs with JWT_SECRET from the environment or .env. Prints only the token, so
  TOKEN=$(npm run -s token -- --role user --sub 456)
works in a shell.`;

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(64); // EX_USAGE
}

function positiveInteger(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) fail(`--${name} must be a positive integer (got "${value}")`);
  return Number(value);
}

/** jsonwebtoken reads a bare number as seconds but a bare numeric string as milliseconds. */
function lifetime(value: string): number | `${number}${'s' | 'm' | 'h' | 'd' | 'w'}` {
  if (/^\d+$/.test(value) && Number(value) > 0) return Number(value);
  if (/^[1-9]\d*[smhdw]$/.test(value)) return value as `${number}${'s' | 'm' | 'h' | 'd' | 'w'}`;
  return fail(`--expires must be seconds or a number with s, m, h, d or w (got "${value}")`);
}

type Role = 'user' | 'vendor' | 'admin';

function isRole(value: string | undefined): value is Role {
  return value === 'user' || value === 'vendor' || value === 'admin';
}

function loadDotEnv(): void {
  const file = path.join(__dirname, '..', '.env');
  // Values already in the environment win, as with every other process of the service.
  if (fs.existsSync(file)) process.loadEnvFile(file);
}

async function main(): Promise<void> {
  let options;
  try {
    ({ values: options } = parseArgs({
      options: {
        role: { type: 'string' },
        sub: { type: 'string' },
        'vendor-id': { type: 'string' },
        expires: { type: 'string', default: '12h' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    fail((error as Error).message);
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const role = options.role;
  if (!isRole(role)) fail(`--role must be user, vendor or admin (got ${role === undefined ? 'nothing' : `"${role}"`})`);
  const sub = positiveInteger('sub', options.sub) ?? fail('--sub is required');
  const vendorId = positiveInteger('vendor-id', options['vendor-id']);
  if (role === 'vendor' && vendorId === undefined) fail('--vendor-id is required with --role vendor');
  if (role !== 'vendor' && vendorId !== undefined) fail('--vendor-id applies only to --role vendor');
  const expiresIn = lifetime(options.expires!);

  loadDotEnv();
  if (!process.env.JWT_SECRET) {
    process.stderr.write(
      'JWT_SECRET is not set, so there is nothing to sign the token with.\n' +
        'Run `npm start` once (it writes .env with a random JWT_SECRET), or set JWT_SECRET in .env or the\n' +
        'environment to the secret the API verifies tokens with.\n',
    );
    process.exit(78); // EX_CONFIG, as src/config.ts uses
  }
  // src/config.ts validates every variable when first imported. Minting a token touches none but
  // JWT_SECRET, so the others get inert stand-ins instead of demanding a full configuration.
  const standIns: Record<string, string> = {
    DATABASE_URL: 'postgres://unused@127.0.0.1/unused',
    REDIS_URL: 'redis://127.0.0.1:6379',
    RAZORPAY_KEY_ID: 'unused',
    RAZORPAY_KEY_SECRET: 'unused',
    RAZORPAY_WEBHOOK_SECRET: 'unused',
    ADMIN_USER: 'unused',
    ADMIN_PASSWORD: 'unused-stand-in',
  };
  for (const [name, value] of Object.entries(standIns)) process.env[name] ||= value;

  const { signToken } = await import('../src/http/auth');
  const claims = vendorId === undefined ? { sub, role } : { sub, role, vendor_id: vendorId };
  process.stdout.write(`${signToken(claims, expiresIn)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
