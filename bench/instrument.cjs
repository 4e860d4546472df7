'use strict';
// Bench-only instrument for a child process (bench/profile.ts loads it with
// `node --require ./bench/instrument.cjs`, BENCH_INSTRUMENT_DIR=<dir>): counts every SQL
// statement node-postgres sends (one round trip each: pg does not pipeline) and every Redis
// command ioredis sends (Lua scripts by their BullMQ name, pipelined commands counted apart),
// and profiles the CPU with the in-process inspector. A window is opened by the first SIGUSR2
// and closed by the next: then the counts of the window and its CPU profile are written to
// <dir>/<HFG_PROCESS>-<pid>.json and .cpuprofile. Never loaded by the product.

const fs = require('fs');
const path = require('path');
const inspector = require('inspector');

const dir = process.env.BENCH_INSTRUMENT_DIR;
if (dir) {
  const role = process.env.HFG_PROCESS || 'process';
  const sql = new Map();
  const redis = new Map();
  const bump = (map, key) => map.set(key, (map.get(key) || 0) + 1);

  /** A statement's shape: its first words, whitespace folded, numbers and literals left as they are (they are bound). */
  const shapeOf = (text) => String(text).replace(/\s+/g, ' ').trim().slice(0, 90);

  const pg = require('pg');
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function countedQuery(config, ...rest) {
    bump(sql, shapeOf(typeof config === 'string' ? config : config && config.text));
    return query.call(this, config, ...rest);
  };

  const Redis = require('ioredis').default || require('ioredis');
  const sendCommand = Redis.prototype.sendCommand;
  const scriptNames = new Map();
  Redis.prototype.sendCommand = function countedCommand(command, stream) {
    let name = command.name;
    if ((name === 'evalsha' || name === 'eval') && this.scriptsSet) {
      const sha = command.args[0];
      if (!scriptNames.has(sha)) {
        const script = Object.entries(this.scriptsSet).find(([, s]) => s.sha === sha || s.lua === sha);
        if (script) scriptNames.set(sha, `script ${script[0].split(":")[0]}`);
      }
      name = scriptNames.get(sha) || name;
    }
    bump(redis, stream ? `${name} (pipelined)` : name);
    return sendCommand.call(this, command, stream);
  };

  let window = null;
  const session = new inspector.Session();
  session.connect();
  process.on('SIGUSR2', () => {
    if (!window) {
      window = { at: Date.now(), sql: new Map(sql), redis: new Map(redis) };
      session.post('Profiler.enable', () => session.post('Profiler.setSamplingInterval', { interval: 250 }, () => session.post('Profiler.start')));
      return;
    }
    const opened = window;
    window = null;
    const delta = (now, then) => Object.fromEntries([...now].map(([k, v]) => [k, v - (then.get(k) || 0)]).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]));
    const base = path.join(dir, `${role}-${process.pid}`);
    fs.writeFileSync(`${base}.json`, JSON.stringify({ role, pid: process.pid, ms: Date.now() - opened.at, sql: delta(sql, opened.sql), redis: delta(redis, opened.redis) }, null, 1));
    session.post('Profiler.stop', (error, result) => {
      if (!error) fs.writeFileSync(`${base}.cpuprofile`, JSON.stringify(result.profile));
    });
  });
}
