// `vitesse bench tcp`: its options are checked before anything is built (the
// benchmark itself needs root, iperf3 and, with --vita, a Vita build: it is
// never run by the tests).
import { describe, expect, it } from 'vitest';
import { run } from '../bench/tcp.js';
import { UsageError } from '../controlplane/cli/args.js';

describe('vitesse bench tcp options', () => {
  it('refuses a --vita that is not an executable, an unknown driver and bad counts, by name', async () => {
    await expect(run(['--vita', 'test/vectors/does-not-exist'])).rejects.toThrow(/--vita: "test\/vectors\/does-not-exist" is not an executable/);
    await expect(run(['--driver', 'dpdk'])).rejects.toThrow(UsageError);
    await expect(run(['--rounds', '0'])).rejects.toThrow(/--rounds/);
    await expect(run(['--seconds', '0'])).rejects.toThrow(/--seconds/);
    await expect(run(['--host-offloads', 'yes'])).rejects.toThrow(/--host-offloads: "yes" is not on, off or vethtest/);
    await expect(run(['--host-offloads', 'on', '--tx-gso', 'maybe'])).rejects.toThrow(/--tx-gso: "maybe" is not on, off or both/);
    await expect(run(['--nat-t', 'force'])).rejects.toThrow(/--nat-t: "force" is not on, off or both/);
    await expect(run(['--nat-t', 'on', '--host-offloads', 'vethtest'])).rejects.toThrow(/--nat-t: not with --host-offloads vethtest/);
  });
});
