/**
 * The event schema under fuzzing: whatever bytes arrive on the events topic, parsing never throws, and a message
 * is accepted only if it is a valid event for a known dashboard under its own key; everything else gets a reason
 * (which travels to the dead-letter topic).
 */
import fc from 'fast-check';
import { dashboardEventSchema } from '../../src/domain/event';
import { DashboardRegistry, parseDashboard } from '../../src/domain/registry';
import { parseEventMessage } from '../../src/ingest/parse';

const registry = new DashboardRegistry([
  parseDashboard(
    'ops.yaml',
    'id: ops\ntitle: Ops\nwidgets:\n  - { id: level, title: Level, source: { type: inline } }\n',
  ),
]);
const MAX_BYTES = 4096;

function check(key: Buffer | null, value: Buffer | null): void {
  const outcome = parseEventMessage(key, value, registry, MAX_BYTES);
  if (outcome.ok) {
    expect(dashboardEventSchema.safeParse(outcome.event).success).toBe(true);
    expect(registry.get(outcome.event.dashboardId)).toBeDefined();
    if (key !== null) expect(key.toString('utf8')).toBe(outcome.event.dashboardId);
    expect(value?.length ?? 0).toBeLessThanOrEqual(MAX_BYTES);
  } else {
    expect(typeof outcome.reason).toBe('string');
    expect(outcome.reason.length).toBeGreaterThan(0);
  }
}

const validEvent = fc.record({
  schemaVersion: fc.constant(1),
  eventId: fc.string({ minLength: 1, maxLength: 200 }),
  type: fc.constantFrom('dashboard.data_changed', 'dashboard.refresh_requested'),
  dashboardId: fc.constant('ops'),
  occurredAt: fc
    .date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
    .map((d) => d.toISOString()),
});

/** A valid event with one field replaced by anything JSON can hold, or an extra field added. */
const mutatedEvent = fc
  .tuple(
    validEvent,
    fc.constantFrom(
      'schemaVersion',
      'eventId',
      'type',
      'dashboardId',
      'occurredAt',
      'payload',
      '__proto__',
      'constructor',
      'extra',
    ),
    fc.jsonValue(),
  )
  .map(([event, field, value]) => {
    const copy: Record<string, unknown> = { ...event };
    Object.defineProperty(copy, field, { value, enumerable: true, configurable: true, writable: true });
    return copy;
  });

const key = fc.option(fc.oneof(fc.constant('ops'), fc.string({ maxLength: 140 })), { nil: null });

describe('event parsing under fuzzing', () => {
  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.option(fc.uint8Array({ maxLength: 6000 }), { nil: null }), key, (bytes, k) => {
        check(k === null ? null : Buffer.from(k), bytes === null ? null : Buffer.from(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on arbitrary JSON, and accepts only schema-valid events', () => {
    fc.assert(
      fc.property(fc.jsonValue(), key, (json, k) => {
        check(k === null ? null : Buffer.from(k), Buffer.from(JSON.stringify(json) ?? 'null'));
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on near-valid events (one field replaced, prototype keys included)', () => {
    fc.assert(
      fc.property(mutatedEvent, key, (event, k) => {
        check(k === null ? null : Buffer.from(k), Buffer.from(JSON.stringify(event)));
      }),
      { numRuns: 1000 },
    );
  });

  it('accepts every valid event under its own key', () => {
    fc.assert(
      fc.property(validEvent, fc.boolean(), (event, withKey) => {
        const outcome = parseEventMessage(
          withKey ? Buffer.from('ops') : null,
          Buffer.from(JSON.stringify(event)),
          registry,
          MAX_BYTES,
        );
        expect(outcome).toEqual({ ok: true, event });
      }),
      { numRuns: 300 },
    );
  });

  it('refuses deeply nested JSON with a reason instead of exhausting the stack', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    check(Buffer.from('ops'), Buffer.from(deep));
    const outcome = parseEventMessage(Buffer.from('ops'), Buffer.from(deep), registry, 1_000_000);
    expect(outcome.ok).toBe(false);
  });
});
