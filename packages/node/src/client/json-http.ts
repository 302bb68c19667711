/**
 * JSON over `fetch` to one peer's HTTP API: every request bounded in time, every failure a
 * `ChorusClientError` (the peer's `{ error: { code, message, details } }`, or what went wrong
 * on the way). Needs nothing but a `fetch`.
 */
import { ChorusClientError } from './client-error.js'

/** What the client needs of `fetch`; the global one fits, and so does a fake. */
export type ClientFetch = (url: string, init: ClientRequestInit) => Promise<ClientResponse>

export interface ClientRequestInit {
  readonly method: string
  readonly headers: Record<string, string>
  readonly body?: string
  readonly signal: AbortSignal
}

export interface ClientResponse {
  readonly status: number
  /** Read for the `content-type` of an answer that is not the API's; a fake may leave it out. */
  readonly headers?: { get(name: string): string | null }
  text(): Promise<string>
}

export interface JsonAnswer<T> {
  readonly status: number
  readonly body: T
}

export interface JsonRequestOptions {
  readonly body?: unknown
  /** Aborts the request: the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal
  /** Bounds this request further, in ms: the smaller of this and the client's bound applies. */
  readonly timeoutMs?: number
}

/** Codes of answers (or their absence) worth asking again for: the peer may do better soon. */
const TRANSIENT = new Set(['peer-unreachable', 'overloaded', 'shutting-down', 'timeout'])

export function isTransient(err: unknown): boolean {
  return err instanceof ChorusClientError && TRANSIENT.has(err.code)
}

export class JsonHttp {
  readonly #baseUrl: string
  readonly #fetch: ClientFetch
  readonly #timeoutMs: number

  constructor(baseUrl: string, fetch: ClientFetch, timeoutMs: number) {
    this.#baseUrl = baseUrl
    this.#fetch = fetch
    this.#timeoutMs = timeoutMs
  }

  /** Sends one request; resolves with a 2xx answer's JSON, rejects with a ChorusClientError. */
  async request<T>(
    method: string,
    path: string,
    options: JsonRequestOptions = {},
  ): Promise<JsonAnswer<T>> {
    const url = `${this.#baseUrl}${path}`
    const timeoutMs = Math.min(options.timeoutMs ?? Infinity, this.#timeoutMs)
    const timeout = AbortSignal.timeout(timeoutMs)
    const signal =
      options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout])
    const headers: Record<string, string> = { accept: 'application/json' }
    let body: string | undefined
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(options.body)
    }
    let status: number
    let text: string
    let contentType: string | undefined
    try {
      const response = await this.#fetch(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        signal,
      })
      status = response.status
      contentType = response.headers?.get('content-type') ?? undefined
      text = await response.text()
    } catch (err) {
      if (options.signal?.aborted === true) throw options.signal.reason
      if (timeout.aborted) {
        throw new ChorusClientError('timeout', `no answer from ${url} within ${timeoutMs} ms`, {
          cause: err,
        })
      }
      throw new ChorusClientError('peer-unreachable', `cannot reach ${url}: ${reasonOf(err)}`, {
        cause: err,
      })
    }
    const parsed = parseJson(text)
    const answer = { contentType, json: parsed.ok ? parsed.value : undefined }
    if (status >= 200 && status < 300) {
      // Every route answers JSON: an empty body is no answer of the API's either.
      if (!parsed.ok) {
        throw new ChorusClientError(
          'protocol-error',
          `${method} ${url} answered HTTP ${status} with ${text === '' ? 'no body' : `something that is not JSON: ${snippet(text)}`}`,
          { status, answer },
        )
      }
      return { status, body: parsed.value as T }
    }
    const error = parsed.ok ? errorOf(parsed.value) : undefined
    if (error === undefined) {
      throw new ChorusClientError(
        'protocol-error',
        `${method} ${url} answered HTTP ${status}: ${snippet(text) || '(no body)'}`,
        { status, answer },
      )
    }
    throw new ChorusClientError(error.code, error.message, {
      status,
      ...(error.details === undefined ? {} : { details: error.details }),
    })
  }
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  if (text === '') return { ok: false }
  try {
    return { ok: true, value: JSON.parse(text) as unknown }
  } catch {
    return { ok: false }
  }
}

/** `{ error: { code, message, details? } }`, the API's error body, or undefined. */
function errorOf(
  body: unknown,
): { code: string; message: string; details?: Record<string, unknown> } | undefined {
  if (typeof body !== 'object' || body === null) return undefined
  const error = (body as { error?: unknown }).error
  if (typeof error !== 'object' || error === null) return undefined
  const { code, message, details } = error as Record<string, unknown>
  if (typeof code !== 'string' || typeof message !== 'string') return undefined
  const isRecord = typeof details === 'object' && details !== null && !Array.isArray(details)
  return { code, message, ...(isRecord ? { details: details as Record<string, unknown> } : {}) }
}

/** Why a fetch failed: undici hides the cause (`ECONNREFUSED …`) behind "fetch failed". */
function reasonOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const cause = err.cause
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code
    return typeof code === 'string' && !cause.message.includes(code)
      ? `${code} ${cause.message}`
      : cause.message
  }
  return err.message
}

function snippet(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length <= max ? flat : `${flat.slice(0, max)}…`
}
