import { type DashboardEvent, dashboardEventSchema } from '../domain/event';
import type { DashboardRegistry } from '../domain/registry';

export type ParseOutcome = { ok: true; event: DashboardEvent } | { ok: false; reason: string };

/**
 * Validates one Kafka message from the events topic. Every way a message can be unusable gets its own reason,
 * which travels with the message to the dead-letter topic.
 */
export function parseEventMessage(
  key: Buffer | null,
  value: Buffer | null,
  registry: DashboardRegistry,
  maxBytes: number,
): ParseOutcome {
  if (value === null || value.length === 0) return { ok: false, reason: 'empty message value' };
  if (value.length > maxBytes)
    return { ok: false, reason: `message of ${value.length} bytes exceeds the limit of ${maxBytes}` };
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch (error) {
    return { ok: false, reason: `invalid JSON: ${(error as Error).message}` };
  }
  const parsed = dashboardEventSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    return { ok: false, reason: `schema violation: ${issues.join('; ')}` };
  }
  const event = parsed.data;
  const keyText = key?.toString('utf8');
  if (keyText !== undefined && keyText !== event.dashboardId) {
    return { ok: false, reason: `message key "${keyText}" differs from dashboardId "${event.dashboardId}"` };
  }
  if (!registry.get(event.dashboardId))
    return { ok: false, reason: `unknown dashboard "${event.dashboardId}"` };
  return { ok: true, event };
}
