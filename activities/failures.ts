import { ApplicationFailure } from '@temporalio/common';
import { SourceError } from '../src/sources/types';
import { BlobMissingError } from '../src/store/blobs';

/** Turns what went wrong into a Temporal failure whose retryability was decided where the error was known. */
export function toFailure(error: unknown): never {
  if (error instanceof SourceError) {
    throw ApplicationFailure.create({
      message: error.message,
      type: 'SourceError',
      nonRetryable: !error.retryable,
    });
  }
  if (error instanceof BlobMissingError) {
    // The data expired between stages; retrying this stage cannot bring it back.
    throw ApplicationFailure.nonRetryable(error.message, 'BlobMissing');
  }
  throw error;
}
