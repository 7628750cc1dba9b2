/**
 * The chaos suite's judges on hand-made observations, so that a green scenario means something: each invariant
 * must fail on the situation it exists to catch, and hold on the one it must accept.
 */
import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type { Kafka, Producer } from 'kafkajs';
import type { Summary } from '../../src/domain/summary';
import type { RecordedRequest } from '../support/openai-server';
import { summaryDraft } from '../support/summaries';
import {
  everyVersionPublished,
  type JudgeContext,
  modelCallsPaidOnce,
  nothingLost,
  type Observed,
  publishedOnce,
  storedOnce,
} from './support/invariants';
import { Recorder } from './support/recorder';

const DASHBOARD = 'chaos-judge-00';

function summary(version: number, eventIds: string[], overrides: Partial<Summary> = {}): Summary {
  return {
    ...summaryDraft(DASHBOARD, {
      insights: [],
      model: 'gpt-4o',
      usage: { promptTokens: 1, completionTokens: 1, costUsd: 0 },
      cacheOutcome: 'miss',
      inputHash: `hash-${version}`,
      eventIds,
      eventCount: eventIds.length,
    }),
    version,
    ...overrides,
  };
}

function request(status: number | 'aborted'): RecordedRequest {
  return {
    index: 0,
    requestId: 'req',
    method: 'POST',
    path: '/v1/chat/completions',
    headers: {},
    rawBody: `{"messages":[{"content":"dashboard ${DASHBOARD}"}]}`,
    body: undefined,
    receivedAt: new Date(),
    fault: null,
    faultSource: null,
    outcome:
      status === 'aborted'
        ? { type: 'client-aborted' }
        : { type: 'response', status, body: {}, content: null },
  };
}

function setting(requests: RecordedRequest[] = []): { context: JudgeContext; recorder: Recorder } {
  const recorder = new Recorder(
    {} as Kafka,
    {} as Producer,
    { events: 'e', deadLetters: 'd', summaries: 's' },
    'g',
  );
  const context: JudgeContext = {
    redis: {} as Redis,
    keyPrefix: 'p:',
    temporal: {} as Client,
    pipelineTaskQueue: 'q',
    workflowIdPrefix: 'w-',
    recorder,
    announced: () => [],
    modelRequests: () => requests,
  };
  return { context, recorder };
}

function observed(summaries: Summary[], extraCovered: string[] = []): Observed {
  return {
    summaries: new Map([[DASHBOARD, summaries]]),
    coveredIds: new Map([[DASHBOARD, new Set([...summaries.flatMap((s) => s.eventIds), ...extraCovered])]]),
  };
}

describe('chaos invariants', () => {
  it('nothingLost: fails on an event no record names, holds when it is dead-lettered with a reason', () => {
    const { context, recorder } = setting();
    recorder.produced.set(DASHBOARD, ['e1', 'e2']);
    expect(nothingLost(context, observed([summary(1, ['e1'])]), [DASHBOARD]).holds).toBe(false);
    recorder.deadLetters.push({ eventId: 'e2', reason: null });
    expect(nothingLost(context, observed([summary(1, ['e1'])]), [DASHBOARD]).holds).toBe(false);
    recorder.deadLetters.push({ eventId: 'e2', reason: 'schema violation' });
    expect(nothingLost(context, observed([summary(1, ['e1'])]), [DASHBOARD]).holds).toBe(true);
  });

  it('nothingLost: an invalid event must be dead-lettered, and a scenario that produced nothing proves nothing', () => {
    const { context, recorder } = setting();
    expect(nothingLost(context, observed([]), [DASHBOARD]).holds).toBe(false);
    recorder.invalidProduced.set(DASHBOARD, ['bad']);
    expect(nothingLost(context, observed([], ['bad']), [DASHBOARD]).holds).toBe(false);
  });

  it('publishedOnce and everyVersionPublished: a version twice, or not at all, on the summaries topic', () => {
    const { context, recorder } = setting();
    const stored = observed([summary(2, ['e2']), summary(1, ['e1'])]);
    recorder.published.push({ dashboardId: DASHBOARD, version: '1' });
    expect(everyVersionPublished(context, stored, [DASHBOARD]).holds).toBe(false);
    recorder.published.push({ dashboardId: DASHBOARD, version: '2' });
    expect(everyVersionPublished(context, stored, [DASHBOARD]).holds).toBe(true);
    expect(publishedOnce(context, [DASHBOARD]).holds).toBe(true);
    recorder.published.push({ dashboardId: DASHBOARD, version: '2' });
    expect(publishedOnce(context, [DASHBOARD]).holds).toBe(false);
  });

  it('storedOnce: the same summary under two versions fails; an upgrade of a degraded one does not', () => {
    const degraded = summary(1, ['e1'], {
      inputHash: 'same',
      model: 'precis-local-extractive-v1',
      degraded: true,
    });
    const upgrade = summary(2, ['e1'], { inputHash: 'same' });
    expect(storedOnce(observed([upgrade, degraded])).holds).toBe(true);
    expect(storedOnce(observed([summary(3, ['e1'], { inputHash: 'same' }), upgrade])).holds).toBe(false);
  });

  it('modelCallsPaidOnce: a paid answer without a summary fails; failed attempts before it do not', () => {
    const stored = observed([summary(1, ['e1'])]);
    expect(
      modelCallsPaidOnce(setting([request(500), request('aborted'), request(200)]).context, stored, [
        DASHBOARD,
      ]).holds,
    ).toBe(true);
    expect(modelCallsPaidOnce(setting([request(200), request(200)]).context, stored, [DASHBOARD]).holds).toBe(
      false,
    );
  });
});
