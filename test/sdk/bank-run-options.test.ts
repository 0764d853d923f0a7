// examples/bank/run.ts options: --base-port moves the whole cluster, validated with a message naming value and limit.
import { describe, expect, it } from 'vitest';
import { clusterPlan, parseRunOptions } from '../../examples/bank/run-options.js';

describe('bank example run options', () => {
  it('defaults to 7001 and a temp dir', () => {
    expect(parseRunOptions([])).toEqual({ dataDir: undefined, basePort: 7001 });
  });

  it('--base-port and --data are taken as given', () => {
    expect(parseRunOptions(['--base-port', '17101', '--data', './d'])).toEqual({ dataDir: './d', basePort: 17101 });
    expect(parseRunOptions(['--base-port=9000']).basePort).toBe(9000);
  });

  it.each(['0', '65534', '-1', '70.5', 'abc', '', '1e3'])('refuses --base-port %j naming the value and the limit', (raw) => {
    // the --flag=value form, so values that start with '-' reach our check
    expect(() => parseRunOptions([`--base-port=${raw}`])).toThrow(`--base-port (${raw}) must be an integer between 1 and 65533`);
  });

  it('refuses unknown flags', () => {
    expect(() => parseRunOptions(['--port', '1'])).toThrow();
  });

  it('the cluster listens on consecutive ports from the base port, and `ratify cluster` is told so', () => {
    const { urls, args } = clusterPlan(17101, '/tmp/x');
    expect(urls).toEqual(['http://127.0.0.1:17101', 'http://127.0.0.1:17102', 'http://127.0.0.1:17103']);
    expect(args).toEqual(['cluster', '--nodes', '3', '--base-port', '17101', '--data', '/tmp/x']);
  });
});
