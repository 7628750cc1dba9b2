/**
 * What each Temporal refusal means for a hand-over, decided where it is thrown (src/ingest/starter.ts): an outage or
 * a rate limit is retried, a size refusal splits the hand-over, an invalid argument dead-letters, and a refusal of
 * the namespace or of the credentials stops the process loudly instead of retrying in silence. The errors are
 * shaped as @temporalio/client throws them (a ServiceError whose cause is the gRPC status).
 */
import { ServiceError } from '@temporalio/client';
import { NamespaceNotFoundError } from '@temporalio/common';
import { classifyTemporalRefusal } from '../../src/ingest/starter';

function refused(code: number, details: string): ServiceError {
  const grpc = Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
  return new ServiceError('Failed to signalWithStart Workflow', { cause: grpc });
}

describe('Temporal refusals of a hand-over', () => {
  it.each([
    [14, 'UNAVAILABLE: No connection established', 'transient'],
    [4, 'DEADLINE_EXCEEDED: Deadline exceeded', 'transient'],
    [8, 'RESOURCE_EXHAUSTED: namespace rate limit exceeded', 'transient'],
    [8, 'RESOURCE_EXHAUSTED: Received message larger than max (5242880 vs. 4194304)', 'too-large'],
    [3, 'INVALID_ARGUMENT: Blob data size exceeds limit.', 'too-large'],
    [3, 'INVALID_ARGUMENT: search attribute DashboardId is not defined', 'rejected'],
    [5, 'NOT_FOUND: Namespace missing is not found.', 'fatal'],
    [7, 'PERMISSION_DENIED: Request unauthorized.', 'fatal'],
    [16, 'UNAUTHENTICATED: invalid token', 'fatal'],
    [13, 'INTERNAL: something broke', 'transient'],
  ] as const)('gRPC %i %s → %s', (code, details, expected) => {
    expect(classifyTemporalRefusal(refused(code, details))).toBe(expected);
  });

  it('stops on an unknown namespace as the client reports it, and retries what is not a gRPC status', () => {
    expect(classifyTemporalRefusal(new NamespaceNotFoundError('missing'))).toBe('fatal');
    expect(classifyTemporalRefusal(new Error('socket hang up'))).toBe('transient');
  });
});
