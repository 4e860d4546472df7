// Every environment variable the service reads, parsed and validated once (SPEC §11).
// A process that starts with a missing or malformed value stops with one message naming them all.

export interface Config {
  databaseUrl: string;
  /** '' when REDIS_CLUSTER_NODES is set and REDIS_URL is not: the cluster is used instead. */
  redisUrl: string;
  /** REDIS_CLUSTER_NODES: a Redis Cluster's start-up nodes; null (unset) for the one Redis at REDIS_URL. */
  redisClusterNodes: RedisNode[] | null;
  port: number;
  realtimePort: number;
  /** Where browsers reach the realtime process from the cafe board (an origin); null: the board's own host at REALTIME_PORT. */
  boardRealtimeUrl: string | null;
  jwtSecret: string;
  razorpayKeyId: string;
  razorpayKeySecret: string;
  razorpayWebhookSecret: string;
  razorpayApiBase: string;
  /** How long one Razorpay call may take before it counts as failed (and is retried). */
  razorpayTimeoutMs: number;
  holdTtlSeconds: number;
  sweepIntervalMs: number;
  bookingPartitions: number;
  syncWaitMs: number;
  maxSlotsPerBooking: number;
  maxPendingHoldsPerUser: number;
  /** How far ahead, in days in the cafe's zone, a slot may be held. */
  maxDaysAhead: number;
  cancellationCutoffMinutes: number;
  /** How often the payment reconciler asks Razorpay about open orders and settles what it finds. */
  reconcileIntervalMs: number;
  /** Origins allowed to call the API from a browser (SPEC §11): any, or these. */
  corsOrigins: '*' | string[];
  adminUser: string;
  adminPassword: string;
  redisKeyPrefix: string;
  logLevel: string;
  /** How long a worker's claim on a job lasts before another worker may take it over (crash recovery). */
  jobLockMs: number;
  /** Bounded waits on every PostgreSQL connection (SPEC §2): a lock wait, an idle open transaction, a statement. */
  dbLockTimeoutMs: number;
  dbIdleInTransactionTimeoutMs: number;
  dbStatementTimeoutMs: number;
  /** Names the process in every log line (the Procfile runner and tests set it). */
  processName: string;
  /** When set, booking workers append each job's start and end to this file (tests, diagnosis). */
  bookingTraceFile: string | null;
  /** Writes (POST, PUT, PATCH, DELETE) per minute per caller (token `sub`) and per client address; 0 = no limit. */
  rateLimitUserPerMin: number;
  rateLimitAddressPerMin: number;
  /** When set, a worker process serves its own Prometheus figures on this port. */
  metricsPort: number | null;
  /** `/metrics` on the web process: open, or behind the admin Basic credentials. */
  metricsAuth: 'none' | 'basic';
}

export interface RedisNode {
  host: string;
  port: number;
}

type Env = Record<string, string | undefined>;

export class ConfigError extends Error {}

export function parseConfig(env: Env): Config {
  const problems: string[] = [];

  function text(name: string, fallback?: string, minLength = 1): string {
    const value = env[name] ?? fallback;
    if (value === undefined || value === '') {
      problems.push(`${name} is required`);
      return '';
    }
    if (value.length < minLength) problems.push(`${name} must be at least ${minLength} characters`);
    return value;
  }

  function url(name: string, protocols: string[], fallback?: string): string {
    const value = text(name, fallback);
    if (!value) return value;
    try {
      const parsed = new URL(value);
      if (!protocols.includes(parsed.protocol)) {
        problems.push(`${name} must use ${protocols.join(' or ')} (got ${parsed.protocol})`);
      }
    } catch {
      problems.push(`${name} is not a valid URL`);
    }
    return value;
  }

  function integer(name: string, fallback: number, min: number, max: number): number {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw.trim())) {
      problems.push(`${name} must be a whole number (got "${raw}")`);
      return fallback;
    }
    const value = Number(raw);
    if (value < min || value > max) problems.push(`${name} must be between ${min} and ${max} (got ${value})`);
    return value;
  }

  function origins(name: string): '*' | string[] {
    const raw = (env[name] ?? '*').trim();
    if (raw === '*' || raw === '') return '*';
    const list = raw.split(',').map((origin) => origin.trim()).filter(Boolean);
    for (const origin of list) {
      let parsed: URL | null = null;
      try { parsed = new URL(origin); } catch { /* reported below */ }
      if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== origin) {
        problems.push(`${name} must be * or a comma-separated list of origins such as https://dashboard.example.com (got "${origin}")`);
      }
    }
    return list;
  }

  /** An http(s) origin without a path (socket.io would read a path as a namespace); a trailing slash is dropped. */
  function optionalOrigin(name: string): string | null {
    const raw = (env[name] ?? '').trim().replace(/\/$/, '');
    if (raw === '') return null;
    let parsed: URL | null = null;
    try { parsed = new URL(raw); } catch { /* reported below */ }
    if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== raw) {
      problems.push(`${name} must be an origin such as https://realtime.example.com (got "${raw}")`);
      return null;
    }
    return raw;
  }

  /** `host:port,host:port` (an IPv6 host in brackets); null when unset. */
  function redisNodes(name: string): RedisNode[] | null {
    const raw = (env[name] ?? '').trim();
    if (raw === '') return null;
    const nodes: RedisNode[] = [];
    for (const entry of raw.split(',').map((part) => part.trim())) {
      const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry);
      const port = match ? Number(match[2]) : 0;
      if (!match || port < 1 || port > 65535) {
        problems.push(`${name} must be a comma-separated list of host:port of Redis Cluster nodes, such as 10.0.0.1:7000,10.0.0.2:7000 (got "${entry}")`);
        return null;
      }
      nodes.push({ host: match[1].replace(/^\[(.*)\]$/, '$1'), port });
    }
    return nodes;
  }

  function oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      problems.push(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
      return fallback;
    }
    return raw as T;
  }

  const redisClusterNodes = redisNodes('REDIS_CLUSTER_NODES');
  const config: Config = {
    databaseUrl: url('DATABASE_URL', ['postgres:', 'postgresql:']),
    // With a cluster, REDIS_URL is not used; checked only when given, so that a typo still shows.
    redisUrl: (env.REDIS_CLUSTER_NODES ?? '').trim() && !env.REDIS_URL ? '' : url('REDIS_URL', ['redis:', 'rediss:']),
    redisClusterNodes,
    port: integer('PORT', 3000, 0, 65535),
    realtimePort: integer('REALTIME_PORT', 3001, 0, 65535),
    boardRealtimeUrl: optionalOrigin('BOARD_REALTIME_URL'),
    jwtSecret: text('JWT_SECRET', undefined, 16),
    razorpayKeyId: text('RAZORPAY_KEY_ID'),
    razorpayKeySecret: text('RAZORPAY_KEY_SECRET'),
    razorpayWebhookSecret: text('RAZORPAY_WEBHOOK_SECRET'),
    razorpayApiBase: url('RAZORPAY_API_BASE', ['http:', 'https:'], 'https://api.razorpay.com'),
    razorpayTimeoutMs: integer('RAZORPAY_TIMEOUT_MS', 10000, 100, 120000),
    holdTtlSeconds: integer('HOLD_TTL_SECONDS', 360, 1, 86400),
    sweepIntervalMs: integer('SWEEP_INTERVAL_MS', 15000, 100, 3600000),
    bookingPartitions: integer('BOOKING_PARTITIONS', 8, 1, 1024),
    syncWaitMs: integer('SYNC_WAIT_MS', 5000, 0, 60000),
    maxSlotsPerBooking: integer('MAX_SLOTS_PER_BOOKING', 12, 1, 1000),
    maxPendingHoldsPerUser: integer('MAX_PENDING_HOLDS_PER_USER', 12, 1, 100000),
    maxDaysAhead: integer('MAX_DAYS_AHEAD', 90, 0, 3650),
    cancellationCutoffMinutes: integer('CANCELLATION_CUTOFF_MINUTES', 60, 0, 100000),
    reconcileIntervalMs: integer('RECONCILE_INTERVAL_MS', 60000, 1000, 86400000),
    corsOrigins: origins('CORS_ORIGINS'),
    adminUser: text('ADMIN_USER'),
    adminPassword: text('ADMIN_PASSWORD', undefined, 8),
    redisKeyPrefix: text('REDIS_KEY_PREFIX', 'hfg'),
    logLevel: text('LOG_LEVEL', 'info'),
    jobLockMs: integer('JOB_LOCK_MS', 30000, 500, 600000),
    dbLockTimeoutMs: integer('DB_LOCK_TIMEOUT_MS', 3000, 50, 600000),
    dbIdleInTransactionTimeoutMs: integer('DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', 10000, 100, 3600000),
    dbStatementTimeoutMs: integer('DB_STATEMENT_TIMEOUT_MS', 15000, 100, 3600000),
    processName: env.HFG_PROCESS || 'hfg',
    bookingTraceFile: env.BOOKING_TRACE_FILE || null,
    // A Friday rush: 30 gamers behind one cafe NAT, each holding, confirming, cancelling and
    // moving a few times a minute, stay far below 3000; one person's client stays below 120.
    rateLimitUserPerMin: integer('RATE_LIMIT_USER_PER_MIN', 120, 0, 1_000_000),
    rateLimitAddressPerMin: integer('RATE_LIMIT_ADDRESS_PER_MIN', 3000, 0, 1_000_000),
    metricsPort: env.METRICS_PORT === undefined || env.METRICS_PORT === '' ? null : integer('METRICS_PORT', 0, 0, 65535),
    metricsAuth: oneOf('METRICS_AUTH', ['none', 'basic'] as const, 'none'),
  };
  if (config.redisKeyPrefix && !/^[A-Za-z0-9_.:-]+$/.test(config.redisKeyPrefix)) {
    problems.push('REDIS_KEY_PREFIX may hold only letters, digits and _ . : - (no braces: it goes inside a hash tag)');
  }
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(config.logLevel)) {
    problems.push(`LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "${config.logLevel}")`);
  }
  if (problems.length > 0) {
    throw new ConfigError(`Invalid configuration:\n  - ${problems.join('\n  - ')}\nSee .env.example.`);
  }
  return config;
}

function loadConfig(): Config {
  try {
    return parseConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
}

export const config: Config = loadConfig();
