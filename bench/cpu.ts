import { readdirSync, readFileSync } from 'fs';

// Where the CPU went during a measured window, from /proc (Linux only; elsewhere it reports
// nothing). Processes are grouped by the role the run gave them, or by program name for the
// shared services (postgres, redis-server). Only processes alive at both ends are counted, so a
// short-lived one is missed; the machine-wide idle share comes from /proc/stat and is exact.

export type Roles = Map<number, string>;

interface Snapshot {
  at: number;
  ticks: Map<number, { group: string; ticks: number }>;
  idle: number;
  total: number;
}

const SERVICES = new Set(['postgres', 'redis-server']);
const TICKS_PER_SECOND = 100;

/**
 * A PostgreSQL backend serving another database (someone's test run on the same server) is not
 * ours: "postgres: 15/main: <user> <database> <host> <state>". Background processes name no database.
 */
function otherDatabase(pid: number, database: string | undefined): boolean {
  if (!database) return false;
  try {
    const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    const words = title.replace(/^postgres:\s*[^:]*:\s*/, '').trim().split(/\s+/);
    return words.length >= 3 && /\(\d+\)$|^\[local\]$/.test(words[2]) && words[1] !== database;
  } catch {
    return false;
  }
}

function readProcessTicks(pid: number): { comm: string; ticks: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after "pid (comm) ".
    return { comm, ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return null;
  }
}

export function snapshot(roles: Roles, database?: string): Snapshot | null {
  let pids: number[];
  let machine: string;
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number);
    machine = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  } catch {
    return null;
  }
  const ticks = new Map<number, { group: string; ticks: number }>();
  for (const pid of pids) {
    const role = roles.get(pid);
    const read = readProcessTicks(pid);
    if (!read) continue;
    const service = SERVICES.has(read.comm) && !(read.comm === 'postgres' && otherDatabase(pid, database));
    const group = role ?? (service ? read.comm : null);
    if (group) ticks.set(pid, { group, ticks: read.ticks });
  }
  const counters = machine.split(/\s+/).slice(1).map(Number);
  // idle + iowait; the total leaves out guest time, which user time already includes.
  return { at: Date.now(), ticks, idle: counters[3] + counters[4], total: counters.slice(0, 8).reduce((a, b) => a + b, 0) };
}

export interface CpuUse {
  /** "api 95%, postgres 60%, ...": percent of one core, busiest first, then the rest and the idle share. */
  text: string;
  /** Percent of one core used by processes outside the run (other programs, the kernel). */
  others: number;
}

export function describeUse(before: Snapshot | null, after: Snapshot | null): CpuUse {
  if (!before || !after) return { text: 'cpu: not available on this platform', others: 0 };
  const seconds = (after.at - before.at) / 1000;
  const byGroup = new Map<string, number>();
  for (const [pid, end] of after.ticks) {
    const start = before.ticks.get(pid);
    if (!start) continue;
    byGroup.set(end.group, (byGroup.get(end.group) ?? 0) + (end.ticks - start.ticks));
  }
  const percent = (ticks: number) => Math.round((ticks / TICKS_PER_SECOND / seconds) * 100);
  const parts = [...byGroup].sort((a, b) => b[1] - a[1]).map(([group, used]) => `${group} ${percent(used)}%`);
  const busy = (after.total - before.total) - (after.idle - before.idle);
  const others = percent(Math.max(0, busy - [...byGroup.values()].reduce((a, b) => a + b, 0)));
  const idle = Math.round(((after.idle - before.idle) / Math.max(1, after.total - before.total)) * 100);
  return { text: `cpu (% of one core): ${parts.join(', ')}, everything else ${others}%; machine idle ${idle}%`, others };
}

/** Share of the machine's CPU busy over `ms` before the run starts: other programs skew the numbers. */
export async function machineBusyPercent(ms = 1000): Promise<number | null> {
  const before = snapshot(new Map());
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = snapshot(new Map());
  if (!before || !after) return null;
  return Math.round((1 - (after.idle - before.idle) / Math.max(1, after.total - before.total)) * 100);
}

/** CPU milliseconds each group (role or service) used between the two snapshots; empty where /proc is not available. */
export function cpuMsByGroup(before: Snapshot | null, after: Snapshot | null): Map<string, number> {
  const byGroup = new Map<string, number>();
  if (!before || !after) return byGroup;
  for (const [pid, end] of after.ticks) {
    const start = before.ticks.get(pid);
    if (!start) continue;
    byGroup.set(end.group, (byGroup.get(end.group) ?? 0) + ((end.ticks - start.ticks) * 1000) / TICKS_PER_SECOND);
  }
  return byGroup;
}
