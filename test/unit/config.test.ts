/**
 * The configuration: one variable per setting (`TRL_` + the key), old names
 * of renamed settings accepted as variables and flags, the new name winning
 * within one layer and flags winning over the environment, and errors naming
 * what the user typed. loadConfig is pure: it is called directly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { addConfigFlags, configFlagValues } from '../../src/cli/config-flags.js';
import { CONFIG_ALIASES } from '../../src/config/config-aliases.js';
import type { z } from 'zod';
import { CONFIG_ENV, configSchema, type ConfigKey } from '../../src/config/config-schema.js';
import { defaultText, humanBytes, humanSeconds } from '../../src/config/default-text.js';
import { ConfigError, loadConfig, type ConfigFlags } from '../../src/config/load-config.js';
import { limitsInForce } from '../../src/runtime/limits-in-force.js';

/** loadConfig's problems, or a failure if it accepted the input. */
function problemsOf(flags: ConfigFlags, env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(flags, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('the configuration was accepted');
}

/** The flags `trl serve ARGS` hands to loadConfig. */
function serveFlags(args: string[]): ConfigFlags {
  const cmd = new Command('serve').exitOverride();
  addConfigFlags(cmd);
  cmd.parse(args, { from: 'user' });
  return configFlagValues(cmd);
}

describe('setting names', () => {
  it('every setting has the variable TRL_ + its upper-cased key, and only settings have one', () => {
    assert.deepEqual(Object.keys(CONFIG_ENV).sort(), Object.keys(configSchema().shape).sort());
    for (const [key, env] of Object.entries(CONFIG_ENV)) assert.equal(env, `TRL_${key.toUpperCase()}`);
    assert.equal(CONFIG_ENV.max_idle_s, 'TRL_MAX_IDLE_S');
  });

  it('every duration setting ends in _s', () => {
    const durations = Object.keys(configSchema().shape).filter((k) => /idle|ttl|timeout|grace|retention/.test(k));
    assert.ok(durations.length >= 5, `found only ${durations.join(', ')}`);
    for (const k of durations) assert.match(k, /_s$/);
  });

  it('each old name stands for an existing setting', () => {
    for (const [alias, key] of Object.entries(CONFIG_ALIASES)) {
      assert.ok(key in configSchema().shape, `${alias} → ${key}, which is no setting`);
      assert.ok(!(alias in configSchema().shape), `${alias} is still a setting of its own`);
    }
  });
});

describe('loadConfig: renamed settings', () => {
  it('defaults: 3600 s idle, 86400 s ttl, under the new names only', () => {
    const c = loadConfig({}, {});
    assert.equal(c.max_idle_s, 3600);
    assert.equal(c.session_ttl_s, 86400);
    assert.ok(!('max_idle_sec' in c) && !('session_ttl_sec' in c));
  });

  it('the new variables are read', () => {
    const c = loadConfig({}, { TRL_MAX_IDLE_S: '5', TRL_SESSION_TTL_S: '6' });
    assert.equal(c.max_idle_s, 5);
    assert.equal(c.session_ttl_s, 6);
  });

  it('the old variables TRL_MAX_IDLE_SEC and TRL_SESSION_TTL_SEC still set them', () => {
    const c = loadConfig({}, { TRL_MAX_IDLE_SEC: '7', TRL_SESSION_TTL_SEC: '8' });
    assert.equal(c.max_idle_s, 7);
    assert.equal(c.session_ttl_s, 8);
  });

  it('an old and a new variable both set: the new one wins', () => {
    const c = loadConfig({}, { TRL_MAX_IDLE_SEC: '7', TRL_MAX_IDLE_S: '5', TRL_SESSION_TTL_S: '6', TRL_SESSION_TTL_SEC: '8' });
    assert.equal(c.max_idle_s, 5);
    assert.equal(c.session_ttl_s, 6);
  });

  it('the old flags --max-idle-sec and --session-ttl-sec still set them', () => {
    const c = loadConfig(serveFlags(['--max-idle-sec', '11', '--session-ttl-sec', '12']), {});
    assert.equal(c.max_idle_s, 11);
    assert.equal(c.session_ttl_s, 12);
  });

  it('an old and a new flag both given: the new one wins, in either order', () => {
    assert.equal(loadConfig(serveFlags(['--max-idle-sec', '11', '--max-idle-s', '13']), {}).max_idle_s, 13);
    assert.equal(loadConfig(serveFlags(['--session-ttl-s', '14', '--session-ttl-sec', '12']), {}).session_ttl_s, 14);
  });

  it('a flag wins over a variable whatever their names', () => {
    assert.equal(loadConfig(serveFlags(['--max-idle-sec', '11']), { TRL_MAX_IDLE_S: '5' }).max_idle_s, 11);
    assert.equal(loadConfig(serveFlags(['--session-ttl-s', '14']), { TRL_SESSION_TTL_SEC: '8' }).session_ttl_s, 14);
  });

  it('a bad value is reported under the name the user gave', () => {
    assert.deepEqual(
      problemsOf({}, { TRL_MAX_IDLE_SEC: '-1' }).map((p) => p.split(':')[0]),
      ['TRL_MAX_IDLE_SEC'],
    );
    assert.deepEqual(
      problemsOf({}, { TRL_MAX_IDLE_S: 'soon' }).map((p) => p.split(':')[0]),
      ['TRL_MAX_IDLE_S'],
    );
    assert.deepEqual(
      problemsOf(serveFlags(['--session-ttl-sec', 'x']), {}).map((p) => p.split(':')[0]),
      ['--session-ttl-sec'],
    );
    assert.deepEqual(
      problemsOf(serveFlags(['--session-ttl-s', 'x']), {}).map((p) => p.split(':')[0]),
      ['--session-ttl-s'],
    );
  });

  it('--help lists the new flags and hides the old ones', () => {
    const cmd = new Command('serve');
    addConfigFlags(cmd);
    const help = cmd.helpInformation();
    assert.match(help, /--max-idle-s <seconds>/);
    assert.match(help, /--session-ttl-s <seconds>/);
    assert.doesNotMatch(help, /--max-idle-sec|--session-ttl-sec/);
  });

  it('system.info limits carry the new names and, deprecated, the old ones', () => {
    const limits = limitsInForce(loadConfig({}, { TRL_MAX_IDLE_S: '5', TRL_SESSION_TTL_S: '6' }));
    assert.equal(limits.max_idle_s, 5);
    assert.equal(limits.session_ttl_s, 6);
    assert.equal(limits.max_idle_sec, 5);
    assert.equal(limits.session_ttl_sec, 6);
  });
});

describe('defaults as people read them', () => {
  it('sizes in binary units, durations in seconds with what they amount to', () => {
    assert.equal(humanBytes(4 * 1024 * 1024), '4 MiB');
    assert.equal(humanBytes(1024 ** 3), '1 GiB');
    assert.equal(humanBytes(1500), '1500 bytes');
    assert.equal(humanSeconds(3600), '3600 s (1 h)');
    assert.equal(humanSeconds(86400 * 2), '172800 s (2 days)');
    assert.equal(humanSeconds(5), '5 s');
  });

  it('each setting: from the schema default, or the stated text of a computed one', () => {
    const shape: Record<ConfigKey, z.ZodType> = configSchema().shape;
    const defaultOf = (key: ConfigKey) => defaultText(key, shape[key]);
    assert.equal(defaultOf('max_output_bytes'), '4 MiB');
    assert.equal(defaultOf('max_daemon_rss_bytes'), '1 GiB');
    assert.equal(defaultOf('max_idle_s'), '3600 s (1 h)');
    assert.equal(defaultOf('default_working_dir'), "the daemon's cwd");
    assert.equal(defaultOf('tiers'), '`host,sandbox,docker`');
    assert.equal(defaultOf('allow_root'), 'off');
    assert.equal(defaultOf('unix_socket'), 'on');
    assert.equal(defaultOf('tls_cert'), undefined);
    assert.equal(defaultOf('sandbox_hide'), undefined);
  });
});
