// An error that is an answer: thrown anywhere on the edge with its status, message and hint, and
// turned into `{error, hint}` JSON in one place (the pipeline). Domain errors are mapped to it
// there too (domainErrors.ts); nothing below the edge throws one.
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly hint: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}
