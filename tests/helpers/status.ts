// The HTTP status a function's outcome would answer: 200 when it returns, the status the edge
// gives what it throws (an HttpError's own, a domain error's through http/domainErrors.ts).
import { answerFor } from '../../src/http/domainErrors.js';

export function statusOf(fn: () => unknown): number {
  try {
    fn();
    return 200;
  } catch (error) {
    const answer = answerFor(error);
    if (answer !== undefined) return answer.status;
    throw error;
  }
}
