/**
 * The model for the scenarios that need one: precis's own OpenAI-compatible test server (test/support), answering
 * every request after a fixed delay with its default grounded summary, and recording for each answered request
 * which dashboard it was about and how long the model took (receipt → answer), so precis's own time can be told
 * apart from the model's.
 */
import { defaultResponder, type OpenAiTestServer, startOpenAiServer } from '../test/support/openai-server';

export interface ModelCall {
  dashboardId: string | null;
  receivedAtMs: number;
  answeredAtMs: number;
}

export interface BenchModel {
  server: OpenAiTestServer;
  calls: ModelCall[];
  /** Every request from now on is answered after `ms`. */
  setDelay(ms: number): void;
  /** Model time (ms) spent on `dashboardId` by calls answered within [fromMs, toMs]. */
  modelTimeMs(dashboardId: string, fromMs: number, toMs: number): number;
  close(): Promise<void>;
}

export async function startModel(delayMs: number): Promise<BenchModel> {
  const calls: ModelCall[] = [];
  let server: OpenAiTestServer | null = null;
  const started = await startOpenAiServer({
    // The responder runs when the delay is over, i.e. when the answer is sent.
    responder: (request) => {
      const data = request.dashboardData;
      const id =
        typeof data === 'object' &&
        data !== null &&
        'dashboardId' in data &&
        typeof data.dashboardId === 'string'
          ? data.dashboardId
          : null;
      const record = server?.requests[request.index];
      const answeredAtMs = Date.now();
      calls.push({
        dashboardId: id,
        receivedAtMs: record?.receivedAt.getTime() ?? answeredAtMs,
        answeredAtMs,
      });
      return defaultResponder(request);
    },
  });
  server = started;
  started.setDefaultFault({ kind: 'delay', ms: delayMs });
  return {
    server: started,
    calls,
    setDelay: (ms) => started.setDefaultFault({ kind: 'delay', ms }),
    modelTimeMs(dashboardId, fromMs, toMs) {
      return calls
        .filter((c) => c.dashboardId === dashboardId && c.answeredAtMs >= fromMs && c.answeredAtMs <= toMs)
        .reduce((total, c) => total + (c.answeredAtMs - c.receivedAtMs), 0);
    },
    close: () => started.close(),
  };
}
