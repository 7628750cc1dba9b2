/**
 * Workflow code may change only in ways that replay what earlier versions wrote: every history recorded from a
 * previous precis version (test/replay/histories, made by test/replay/capture-histories.ts) must replay on today's
 * workflow code without a nondeterminism error, so runs open during an upgrade finish.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { replayWorkerTracing } from '../../src/tracing/temporal';

const dir = join(__dirname, '..', 'replay', 'histories');
const files = readdirSync(dir).filter((file) => file.endsWith('.json'));

describe('replay of recorded histories', () => {
  it('has histories of earlier versions to replay', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)('%s replays on the current workflow code', async (file) => {
    // Recorded as the client's fetchHistory() gives it, serialized with protobufjs's JSON form.
    const history = temporal.api.history.v1.History.fromObject(
      JSON.parse(readFileSync(join(dir, file), 'utf8')),
    );
    await expect(
      Worker.runReplayHistory(
        {
          workflowsPath: require.resolve('../../workflows'),
          // As in production's bundle: the tracing interceptors must not change how untraced runs replay.
          ...replayWorkerTracing(),
          replayName: file,
        },
        history,
        file.replace(/\.json$/, ''),
      ),
    ).resolves.toBeUndefined();
  });
});
