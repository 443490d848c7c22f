// The HTTP status a function's outcome would answer: 200 when it returns, the HttpError's
// status when it throws one. For unit tests of the parts that throw HttpErrors.
import { HttpError } from '../../src/http/respond.js';

export function statusOf(fn: () => unknown): number {
  try {
    fn();
    return 200;
  } catch (error) {
    if (error instanceof HttpError) return error.status;
    throw error;
  }
}
