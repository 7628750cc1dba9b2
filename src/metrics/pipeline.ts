import { Counter, Histogram, type Registry } from 'prom-client';

/** The stages of a summary, as an operator names them (prepare = clean + enrich; deliver = summarize + store). */
export type Stage = 'collect' | 'clean' | 'enrich' | 'summarize' | 'store';

/** Seconds: a local stage takes milliseconds, a model call seconds, a slow source up to its timeout. */
const STAGE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Seconds from an event to the summary that covers it: the quiet period and max delay (30 s) set the scale. */
const FRESHNESS_BUCKETS = [0.5, 1, 2, 5, 10, 15, 30, 45, 60, 120, 300, 600, 1800, 3600];

/**
 * What the pipeline's activities report: per-stage latency, end-to-end freshness, and the summaries stored. No
 * dashboard id in any label: the number of series must not grow with the configuration (a few hundred dashboards
 * times 15 buckets would), and a dashboard's own history is in the API and the Temporal UI.
 */
export class PipelineMetrics {
  private readonly stageSeconds: Histogram<'stage' | 'result'>;
  private readonly freshnessSeconds: Histogram<'delivery'>;
  private readonly stored: Counter<'model' | 'degraded'>;
  private readonly upgraded: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.stageSeconds = new Histogram({
      name: 'precis_stage_duration_seconds',
      help: 'Duration of one pipeline stage (collect is per widget; summarize includes waits for the model).',
      labelNames: ['stage', 'result'],
      buckets: STAGE_BUCKETS,
      registers,
    });
    this.freshnessSeconds = new Histogram({
      name: 'precis_summary_freshness_seconds',
      help:
        'From the oldest event a summary covers (its occurredAt) to the summary stored (delivery="stored") or ' +
        'the latest summary confirmed as still holding (delivery="reused").',
      labelNames: ['delivery'],
      buckets: FRESHNESS_BUCKETS,
      registers,
    });
    this.stored = new Counter({
      name: 'precis_summaries_stored_total',
      help: 'Summary versions stored, by the model that wrote them and whether they are degraded.',
      labelNames: ['model', 'degraded'],
      registers,
    });
    this.upgraded = new Counter({
      name: 'precis_summaries_upgraded_total',
      help: 'Degraded summaries replaced by a model-written one once the model was back.',
      registers,
    });
  }

  /** Runs one stage and records how long it took, and whether it failed. */
  async time<T>(stage: Stage, work: () => Promise<T> | T): Promise<T> {
    const end = this.stageSeconds.startTimer({ stage });
    try {
      const value = await work();
      end({ result: 'ok' });
      return value;
    } catch (error) {
      end({ result: 'error' });
      throw error;
    }
  }

  /** A summary stored (or the latest one confirmed) for events the oldest of which happened at `oldestOccurredAt`. */
  delivered(
    delivery: { kind: 'stored'; model: string; degraded: boolean; upgrade: boolean } | { kind: 'reused' },
    oldestOccurredAt: string | undefined,
    now = Date.now(),
  ): void {
    if (delivery.kind === 'stored') {
      this.stored.inc({ model: delivery.model, degraded: String(delivery.degraded) });
      // An upgrade is the same events summarized again, later: not news about how fresh summaries are.
      if (delivery.upgrade) {
        this.upgraded.inc();
        return;
      }
    }
    const occurred = oldestOccurredAt === undefined ? Number.NaN : Date.parse(oldestOccurredAt);
    if (Number.isNaN(occurred)) return;
    this.freshnessSeconds.observe({ delivery: delivery.kind }, Math.max(0, (now - occurred) / 1000));
  }
}
