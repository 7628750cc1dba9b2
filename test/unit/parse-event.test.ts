import { DashboardRegistry, parseDashboard } from '../../src/domain/registry';
import { parseEventMessage } from '../../src/ingest/parse';

const registry = new DashboardRegistry([
  parseDashboard(
    'ops.yaml',
    'id: ops\ntitle: Ops\nwidgets:\n  - { id: w, title: W, source: { type: demo } }\n',
  ),
]);

const valid = {
  schemaVersion: 1,
  eventId: 'e-1',
  type: 'dashboard.data_changed',
  dashboardId: 'ops',
  occurredAt: '2026-11-28T10:00:00Z',
};

const parse = (value: unknown, key: string | null = 'ops', maxBytes = 10_000) =>
  parseEventMessage(
    key === null ? null : Buffer.from(key),
    value === null ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    registry,
    maxBytes,
  );

describe('parseEventMessage', () => {
  it('accepts a valid event, with or without inline data', () => {
    expect(parse(valid)).toEqual({ ok: true, event: valid });
    const withPayload = { ...valid, payload: { widgets: { w: [{ t: '2026-11-28T09:00:00Z', v: 3 }] } } };
    expect(parse(withPayload)).toEqual({ ok: true, event: withPayload });
  });

  it.each([
    ['an empty value', null, /empty message value/],
    ['invalid JSON', '{"schemaVersion":', /invalid JSON/],
    ['a wrong schema version', { ...valid, schemaVersion: 2 }, /schema violation: schemaVersion/],
    ['a missing event id', { ...valid, eventId: undefined }, /schema violation: eventId/],
    ['an unknown type', { ...valid, type: 'dashboard.deleted' }, /schema violation: type/],
    ['a bad timestamp', { ...valid, occurredAt: 'yesterday' }, /schema violation: occurredAt/],
    ['an unexpected field', { ...valid, extra: true }, /schema violation: .*extra/],
    ['a bad dashboard id', { ...valid, dashboardId: '../etc' }, /schema violation: dashboardId/],
    ['an unknown dashboard', { ...valid, dashboardId: 'sales' }, /unknown dashboard "sales"/],
    [
      'non-numeric inline data',
      { ...valid, payload: { widgets: { w: [{ t: '2026-11-28T09:00:00Z', v: 'x' }] } } },
      /payload\.widgets\.w\.0\.v/,
    ],
  ])('rejects %s with a reason', (_name, value, reason) => {
    const outcome = parse(
      value,
      value !== null && typeof value === 'object' && 'dashboardId' in value
        ? String(value.dashboardId)
        : 'ops',
    );
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.reason).toMatch(reason);
  });

  it('rejects a key that disagrees with the dashboard id, and an oversized message', () => {
    expect(parse(valid, 'other')).toEqual({
      ok: false,
      reason: 'message key "other" differs from dashboardId "ops"',
    });
    const outcome = parse(valid, 'ops', 20);
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.reason).toMatch(/exceeds the limit of 20/);
  });
});
