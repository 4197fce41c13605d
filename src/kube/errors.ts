// The one place that decides what an API error is. client-node 1.x throws ApiException with `code`
// (the HTTP status) and `body` (the response text, usually a JSON metav1.Status); watches fail with
// an Error carrying `statusCode`.

export function apiErrorCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}

/** Is this an API error with HTTP status `code`? */
export function isApiError(err: unknown, code: number): boolean {
  return apiErrorCode(err) === code;
}

/** The API server's own sentence (metav1.Status.message), when the error carries one. */
function statusMessage(err: unknown): string | undefined {
  const body = (err as { body?: unknown }).body;
  const parsed = typeof body === 'string' ? safeJson(body) : body;
  if (typeof parsed === 'object' && parsed !== null) {
    const message = (parsed as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  }
  return undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export interface ErrorDescription {
  message: string;
  code?: number;
  cause?: ErrorDescription;
}

/** A loggable summary of an error: one line, the HTTP code when there is one, and its cause. */
export function describeError(err: unknown, depth = 0): ErrorDescription {
  const code = apiErrorCode(err);
  const apiMessage = code !== undefined && typeof err === 'object' && err !== null ? statusMessage(err) : undefined;
  const message =
    apiMessage ??
    (err instanceof Error ? firstLine(err.message) : typeof err === 'string' ? err : JSON.stringify(err) ?? String(err));
  const description: ErrorDescription = { message };
  if (code !== undefined && typeof code === 'number') description.code = code;
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause !== undefined && depth < 3) description.cause = describeError(cause, depth + 1);
  return description;
}

function firstLine(text: string): string {
  // ApiException messages run on with headers and bodies; the first line says what happened.
  return text.split('\n')[0] ?? text;
}
