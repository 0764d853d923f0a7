import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isRatifyError } from '../../src/errors.js';
import { nodeConfigErrors, parsePeers, resolveNodeConfig, type NodeConfig } from '../../src/node/config.js';
import { securityNotes } from '../../src/node/security-warnings.js';
import { effectiveConfig } from '../../src/node/effective-config.js';
import { txConfigDefaults } from '../../src/tx/config.js';

const PEERS = 'n1=http://127.0.0.1:7001,n2=http://127.0.0.1:7002,n3=http://127.0.0.1:7003';
const base = { id: 'n1', peers: PEERS, dataDir: '/tmp/ratify-n1' };
const httpsPeers = parsePeers(PEERS.replaceAll('http:', 'https:'));

const tmp = mkdtempSync(join(tmpdir(), 'ratify-config-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function errorsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (isRatifyError(err, 'CONFIG_INVALID')) return err.details?.['errors'] as string[];
    throw err;
  }
  throw new Error('expected CONFIG_INVALID');
}

function valid(): NodeConfig {
  return resolveNodeConfig({ flags: base });
}

describe('resolveNodeConfig', () => {
  it('fills defaults and derives listen from the own peer URL', () => {
    const c = valid();
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 7001 });
    expect(c.clusterId).toBe('ratify');
    expect(c.clusterSecret).toBeNull();
    expect(c.peers).toEqual([
      { id: 'n1', url: 'http://127.0.0.1:7001', voter: true },
      { id: 'n2', url: 'http://127.0.0.1:7002', voter: true },
      { id: 'n3', url: 'http://127.0.0.1:7003', voter: true },
    ]);
    expect(c.heartbeatTicks).toBeLessThan(c.electionTicks);
    expect(c.tx).toEqual(txConfigDefaults);
  });

  it('layers flags over env over file over defaults', () => {
    const file = join(tmp, 'layers.json');
    writeFileSync(file, JSON.stringify({ ...base, tickMs: 30, electionTicks: 40, heartbeatTicks: 4, clusterId: 'from-file' }));
    const c = resolveNodeConfig({
      file,
      env: { RATIFY_TICK_MS: '25', RATIFY_ELECTION_TICKS: '30', RATIFY_CLUSTER_SECRET: 'env-secret-1234567' },
      flags: { tickMs: '10' },
    });
    expect(c.tickMs).toBe(10); // flag
    expect(c.electionTicks).toBe(30); // env
    expect(c.heartbeatTicks).toBe(4); // file
    expect(c.clusterId).toBe('from-file');
    expect(c.clusterSecret).toBe('env-secret-1234567');
    expect(c.snapshotThresholdEntries).toBe(10_000); // default
    expect(c.snapshotCatchUpEntries).toBe(5_000); // default
    // Default; a multiple of the threshold, so the phase-0 node's snapshots fall on digests (node-snapshots.ts).
    expect(c.consistencyIntervalEntries).toBe(50_000);
    expect(c.consistencyIntervalEntries % c.snapshotThresholdEntries).toBe(0);
  });

  it('reads peers from a file as an array or an object, and tx settings from file, env and flags', () => {
    const file = join(tmp, 'peers.json');
    writeFileSync(
      file,
      JSON.stringify({
        id: 'a',
        dataDir: '/d',
        peers: { a: 'http://10.0.0.1:1/', b: 'http://10.0.0.2:1' },
        clusterSecret: 'a-secret-of-16-chars',
        tx: { maxParticipants: 8, prepareMaxAttempts: 5 },
      }),
    );
    const c = resolveNodeConfig({ file, env: { RATIFY_TX_PREPARE_MAX_ATTEMPTS: '7' }, txFlags: ['listLimitDefault=50'] });
    expect(c.peers.map((p) => p.url)).toEqual(['http://10.0.0.1:1', 'http://10.0.0.2:1']);
    expect(c.tx.maxParticipants).toBe(8);
    expect(c.tx.prepareMaxAttempts).toBe(7);
    expect(c.tx.listLimitDefault).toBe(50);
    expect(parsePeers([{ id: 'x', url: 'http://h:1' }])).toEqual([{ id: 'x', url: 'http://h:1', voter: true }]);
  });

  it('reads the cluster secrets from a file, one per line, and refuses a secret given twice', () => {
    const file = join(tmp, 'secret');
    writeFileSync(file, '# rotated in 2026-11\nthe-new-secret-value-1\n\nthe-old-secret-value-2\n');
    const c = resolveNodeConfig({ flags: { ...base, clusterSecretFile: file } });
    expect(c.clusterSecret).toBe('the-new-secret-value-1,the-old-secret-value-2');
    const fromEnv = resolveNodeConfig({ flags: base, env: { RATIFY_CLUSTER_SECRET_FILE: file } });
    expect(fromEnv.clusterSecret).toBe(c.clusterSecret);
    expect(errorsOf(() => resolveNodeConfig({ flags: { ...base, clusterSecretFile: file, clusterSecret: 'x'.repeat(16) } }))).toEqual([
      'clusterSecret and clusterSecretFile are both set: give one (--cluster-secret-file is the one ps cannot show)',
    ]);
    writeFileSync(file, '\n# nothing\n');
    expect(errorsOf(() => resolveNodeConfig({ flags: { ...base, clusterSecretFile: file } }))).toEqual([
      `clusterSecretFile ${file} holds no secret (one per line)`,
    ]);
    expect(errorsOf(() => resolveNodeConfig({ flags: { ...base, clusterSecretFile: join(tmp, 'missing') } }))[0]).toMatch(
      /clusterSecretFile .*missing cannot be read/,
    );
  });

  it('names every missing required setting with its flag and env var', () => {
    const errors = errorsOf(() => resolveNodeConfig({}));
    expect(errors).toContain('id is required (--id or RATIFY_ID)');
    expect(errors).toContain('peers is required (--peers or RATIFY_PEERS)');
    expect(errors).toContain('dataDir is required (--data or RATIFY_DATA)');
  });

  it('reports unparseable values and unknown settings', () => {
    const file = join(tmp, 'bad.json');
    writeFileSync(file, JSON.stringify({ ...base, tikMs: 5, tx: { nope: 1 } }));
    const errors = errorsOf(() => resolveNodeConfig({ file, flags: { tickMs: 'fast', preVote: 'maybe', logLevel: 'loud' } }));
    expect(errors).toContain('tickMs ("fast") must be an integer');
    expect(errors).toContain('preVote ("maybe") must be true or false');
    expect(errors).toContain('logLevel ("loud") must be one of fatal, error, warn, info, debug, trace, silent');
    expect(errors.find((e) => e.startsWith('config file: unknown setting "tikMs"'))).toMatch(/\(valid: id, listen, .*tickMs.*, tx\)$/);
    expect(errors.find((e) => e.startsWith('config file: unknown tx setting "nope"'))).toMatch(/\(valid: maxParticipants, .*\)$/);
  });

  it('refuses unknown tx settings from every source, naming the key and listing the valid ones', () => {
    const errors = errorsOf(() =>
      resolveNodeConfig({
        flags: base,
        env: { RATIFY_TX_MAX_PARTICIPENTS: '4', RATIFY_TX_MAX_PARTICIPANTS: '8', RATIFY_TEST_LOGS: '1' },
        txFlags: ['maxParticpants=4'],
      }),
    );
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(
      /^environment: unknown tx setting RATIFY_TX_MAX_PARTICIPENTS \(valid: RATIFY_TX_MAX_PARTICIPANTS, RATIFY_TX_MAX_ACTIVE_TRANSACTIONS, .*\)$/,
    );
    expect(errors[1]).toMatch(/^--tx: unknown tx setting "maxParticpants" \(valid: maxParticipants, maxActiveTransactions, .*\)$/);
    // Known RATIFY_TX_* variables still apply; other RATIFY_* variables belong to other tools.
    const ok = resolveNodeConfig({ flags: base, env: { RATIFY_TX_MAX_PARTICIPANTS: '8', RATIFY_TEST_LOGS: '1' } });
    expect(ok.tx.maxParticipants).toBe(8);
  });

  it('reports an unreadable or non-JSON config file', () => {
    const file = join(tmp, 'broken.json');
    writeFileSync(file, '{ not json');
    expect(() => resolveNodeConfig({ file })).toThrow(/is not valid JSON/);
    expect(() => resolveNodeConfig({ file: join(tmp, 'missing.json') })).toThrow(/cannot be read/);
  });
});

describe('validateNodeConfig messages name the value and the limit', () => {
  const c = (patch: Partial<NodeConfig>): string[] => nodeConfigErrors({ ...valid(), ...patch });

  it('accepts the defaults', () => {
    expect(c({})).toEqual([]);
  });

  it('checks ranges', () => {
    expect(c({ maxInflightAppends: 0 })).toEqual(['maxInflightAppends (0) must be between 1 and 1024']);
    expect(c({ tickMs: 0 })).toContain('tickMs (0) must be between 1 and 1000');
    expect(c({ snapshotThresholdEntries: 0 })).toEqual(['snapshotThresholdEntries (0) must be between 1 and 10000000']);
    expect(c({ listen: { host: '127.0.0.1', port: 70000 } })).toEqual(['listen port (70000) must be between 1 and 65535']);
    expect(c({ shutdownTimeoutMs: 50 })).toEqual(['shutdownTimeoutMs (50) must be between 100 and 600000']);
    expect(c({ promoteLagEntriesMax: -1 })).toEqual(['promoteLagEntriesMax (-1) must be between 0 and 1000000']);
  });

  it('checks relations between settings', () => {
    expect(c({ heartbeatTicks: 20, electionTicks: 10 })).toEqual(['heartbeatTicks (20) must be less than electionTicks (10)']);
    expect(c({ maxPendingProposals: 9000, maxUncommittedEntries: 8000 })).toEqual([
      'maxPendingProposals (9000) must not exceed maxUncommittedEntries (8000)',
    ]);
    expect(c({ tickMs: 1000, electionTicks: 100, heartbeatTicks: 10 })).toEqual([
      'electionTicks * tickMs (100000 ms) must be at most 60000 ms',
    ]);
    expect(c({ raftBodyLimitBytes: 1024 * 1024 })).toContain(
      'raftBodyLimitBytes (1048576) must be at least maxAppendBytes + max(bodyLimitBytes, tx.maxBodyBytes) (2097152)',
    );
  });

  it('checks peers, ids and the secret', () => {
    expect(c({ id: 'n9' })).toEqual(['peers (n1, n2, n3) must include this node\'s id ("n9")']);
    expect(c({ id: 'bad id' })).toContain('id ("bad id") must match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$');
    expect(
      c({
        peers: [
          { id: 'n1', url: 'ftp://x', voter: true },
          { id: 'n1', url: 'http://y:1', voter: true },
        ],
      }),
    ).toEqual(['peer n1 url ("ftp://x") must be an http(s) URL', 'peer id ("n1") appears more than once']);
    expect(c({ clusterSecret: 'short' })).toEqual(['clusterSecret (5 characters) must be at least 16 characters']);
    expect(c({ clusterSecret: 'a-long-enough-secret,short' })).toEqual(['clusterSecret #2 (5 characters) must be at least 16 characters']);
  });

  it('refuses to listen beyond loopback unless peers authenticate, saying how to set it up', () => {
    const listen = (host: string): Partial<NodeConfig> => ({ listen: { host, port: 7001 } });
    for (const host of ['127.0.0.1', '127.9.8.7', '::1', 'localhost', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'])
      expect(c(listen(host)), host).toEqual([]);
    for (const host of ['0.0.0.0', '::', '10.1.2.3', 'n1.example', '::ffff:10.0.0.1', '128.0.0.1']) {
      const errors = c(listen(host));
      expect(errors, host).toHaveLength(1);
      expect(errors[0]).toMatch(
        /is not loopback, so peers must authenticate: set a cluster secret \(--cluster-secret-file FILE.*RATIFY_CLUSTER_SECRET.*or mutual TLS \(--tls-cert, --tls-key, --tls-ca and --tls-mutual true\)/,
      );
      expect(c({ ...listen(host), clusterSecret: 'sixteen-chars-ok' }), host).toEqual([]);
      expect(c({ ...listen(host), tlsCert: 'c.pem', tlsKey: 'k.pem', tlsCa: 'ca.pem', tlsMutual: true, peers: httpsPeers }), host).toEqual(
        [],
      );
    }
  });

  it('checks the TLS settings together', () => {
    expect(c({ tlsCert: 'c.pem' })).toContain('tlsCert and tlsKey go together: set both (--tls-cert, --tls-key) or neither');
    expect(c({ tlsCert: 'c.pem', tlsKey: 'k.pem', tlsMutual: true, peers: httpsPeers })).toEqual([
      'tlsMutual needs tlsCert, tlsKey and tlsCa (--tls-cert, --tls-key, --tls-ca)',
    ]);
    expect(c({ tlsCert: 'c.pem', tlsKey: 'k.pem' })).toEqual([
      'this node\'s peer url ("http://127.0.0.1:7001") must be https:// with --tls-cert',
    ]);
    expect(c({ peers: httpsPeers })).toEqual(['this node\'s peer url ("https://127.0.0.1:7001") must be http:// without --tls-cert']);
  });

  it('bounds the snapshot a follower gathers', () => {
    expect(c({ snapshotBytesMax: 1024 })).toEqual([
      'snapshotBytesMax (1024) must be between 1048576 and 2147483648',
      'snapshotBytesMax (1024) must be at least snapshotChunkBytes (1048576)',
    ]);
    expect(c({ snapshotBytesMax: 2 * 1024 * 1024, snapshotChunkBytes: 4 * 1024 * 1024, raftBodyLimitBytes: 16 * 1024 * 1024 })).toEqual([
      'snapshotBytesMax (2097152) must be at least snapshotChunkBytes (4194304)',
    ]);
  });

  it('includes the tx layer validation', () => {
    expect(c({ tx: { ...txConfigDefaults, maxParticipants: 0 } })).toEqual([
      'tx: maxParticipants (0) must be an integer between 1 and 1024',
    ]);
  });

  it('resolveNodeConfig throws all of them at once as CONFIG_INVALID', () => {
    const errors = errorsOf(() => resolveNodeConfig({ flags: { ...base, heartbeatTicks: '50', maxInflightAppends: '0' } }));
    expect(errors).toEqual([
      'heartbeatTicks (50) must be less than electionTicks (15)',
      'maxInflightAppends (0) must be between 1 and 1024',
    ]);
  });
});

describe('client API security settings', () => {
  const TOKEN = 'a-client-token-0123456789';

  it('loads tokens from --tokens-file or RATIFY_TOKENS (digests only), never both', () => {
    const file = join(tmp, 'tokens');
    writeFileSync(file, `payments client ${TOKEN}\n`);
    const fromFile = resolveNodeConfig({ flags: { ...base, tokensFile: file } });
    expect(fromFile.clientTokens.verify(TOKEN)).toEqual({ name: 'payments', role: 'client' });
    expect(JSON.stringify(fromFile)).not.toContain(TOKEN);
    const fromEnv = resolveNodeConfig({ flags: base, env: { RATIFY_TOKENS: `ops admin ${TOKEN}` } });
    expect(fromEnv.clientTokens.verify(TOKEN)).toEqual({ name: 'ops', role: 'admin' });
    expect(resolveNodeConfig({ flags: base, env: { RATIFY_TOKENS_FILE: file } }).clientTokens.size).toBe(1);
    expect(valid().clientTokens.enabled).toBe(false);
    expect(
      errorsOf(() => resolveNodeConfig({ flags: { ...base, tokensFile: file }, env: { RATIFY_TOKENS: `ops admin ${TOKEN}` } })).join(),
    ).toMatch(/not both/);
  });

  it('reports a bad token file among the other configuration errors, without the token', () => {
    const file = join(tmp, 'bad-tokens');
    writeFileSync(file, 'payments client short\nops superuser a-long-enough-token-0123\n');
    const errors = errorsOf(() => resolveNodeConfig({ flags: { ...base, tokensFile: file, heartbeatTicks: 'x' } }));
    expect(errors.some((e) => e.includes('entry 1') && e.includes('16 to 512 characters'))).toBe(true);
    expect(errors.some((e) => e.includes('entry 2') && e.includes('role "superuser"'))).toBe(true);
    expect(errors.some((e) => e.startsWith('heartbeatTicks'))).toBe(true);
    expect(errors.join()).not.toMatch(/short|a-long-enough-token/);
  });

  it('parses ownTransactionsOnly (null: on with tokens) and bounds jsonDepthMax', () => {
    expect(valid().ownTransactionsOnly).toBeNull();
    expect(resolveNodeConfig({ flags: base, env: { RATIFY_OWN_TRANSACTIONS_ONLY: 'false' } }).ownTransactionsOnly).toBe(false);
    expect(valid().jsonDepthMax).toBe(64);
    expect(nodeConfigErrors({ ...valid(), jsonDepthMax: 2000 })).toContain('jsonDepthMax (2000) must be between 4 and 256');
  });

  it('warns at start-up about an open client API and, beyond loopback, about an empty participant allowlist', () => {
    const loopback = securityNotes(valid());
    expect(loopback.warnings).toHaveLength(1);
    expect(loopback.warnings[0]).toMatch(/client API authentication is disabled/);
    const file = join(tmp, 'tokens-2');
    writeFileSync(file, `payments client ${TOKEN}\n`);
    // Beyond loopback a node needs peer authentication too (src/node/loopback.ts).
    const exposedFlags = { ...base, tokensFile: file, listen: '0.0.0.0:7001', clusterSecret: 'peer-secret-0123456789' };
    const exposed = resolveNodeConfig({ flags: exposedFlags });
    const notes = securityNotes(exposed);
    expect(notes.warnings).toEqual([
      expect.stringMatching(/participantHostAllowlist is empty and this node listens on 0\.0\.0\.0/),
      expect.stringMatching(/participant calls are unsigned/),
    ]);
    expect(notes.info).toEqual({ tokens: 1, principals: ['payments'], ownTransactionsOnly: true });
    const keysFile = join(tmp, 'participant-keys');
    writeFileSync(keysFile, `bank-a ${'k'.repeat(32)}\n* ${'d'.repeat(40)}\n`);
    const allowlisted = resolveNodeConfig({
      flags: { ...exposedFlags, participantKeysFile: keysFile },
      txFlags: ['participantHostAllowlist=10.0.0.0/8'],
    });
    expect(securityNotes(allowlisted).warnings).toEqual([]);
    expect(securityNotes(allowlisted).info).toMatchObject({ participantKeys: { participants: ['bank-a'], defaultKey: true } });
    expect(JSON.stringify(effectiveConfig(allowlisted))).not.toMatch(/kkkkkkkk|dddddddd/);
  });

  it('refuses a participant keys file with a short key, a repeated name or a missing key, naming the line and never the key', () => {
    const file = join(tmp, 'bad-participant-keys');
    writeFileSync(file, `bank-a short-key-0123\nbank-b ${'b'.repeat(32)}\nbank-b ${'c'.repeat(32)}\nbank-c\n`);
    const errors = errorsOf(() => resolveNodeConfig({ flags: { ...base, participantKeysFile: file } }));
    expect(errors.some((e) => e.includes('line 1') && e.includes('32 to 512 characters'))).toBe(true);
    expect(errors.some((e) => e.includes('line 3') && e.includes('already has a key'))).toBe(true);
    expect(errors.some((e) => e.includes('line 4') && e.includes('"participant key"'))).toBe(true);
    expect(errors.join()).not.toMatch(/short-key-0123|bbbbbbbb|cccccccc/);
  });
});
