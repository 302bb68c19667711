/**
 * The answers handlers give: a JSON or text `Response` with the headers every answer of the
 * API carries. Headers are a plain object, which `@hono/node-server` writes without copying.
 */

/** The headers of every answer but the event stream. */
const COMMON_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8'

/**
 * The headers of most answers, made once. Shared safely: nothing mutates a response's init
 * headers (`@hono/node-server` copies them before adding a Content-Length, and a `Headers`
 * made from them is a copy).
 */
const JSON_HEADERS: Readonly<Record<string, string>> = {
  ...COMMON_HEADERS,
  'content-type': JSON_CONTENT_TYPE,
}

/** `value` as JSON; throws (a 500, through the error mapping) when it cannot be serialised. */
export function json(status: number, value: unknown, headers?: Record<string, string>): Response {
  const body = JSON.stringify(value) as string | undefined
  if (body === undefined) throw new TypeError(`cannot answer ${typeof value} as JSON`)
  return text(status, JSON_CONTENT_TYPE, body, headers)
}

export function text(
  status: number,
  contentType: string,
  body: string,
  headers?: Record<string, string>,
): Response {
  const all =
    headers === undefined && contentType === JSON_CONTENT_TYPE
      ? JSON_HEADERS
      : { ...COMMON_HEADERS, 'content-type': contentType, ...headers }
  return new Response(body, { status, headers: all })
}

/** `text`, cut to `max` characters for a message (names and targets come from callers). */
export function truncate(text: string, max = 200): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`
}
