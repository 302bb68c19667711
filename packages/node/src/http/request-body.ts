/**
 * Reading a request's JSON body: the declared media type first (415), then the bytes up to a
 * limit and not one further (413), then UTF-8 and JSON (400 `invalid-json`). Over a socket the
 * body is read straight from Node's `IncomingMessage`; in process, from the `Request`'s stream.
 */
import type { IncomingMessage } from 'node:http'
import { ChorusError } from '../errors.js'
import { HttpError } from './http-status.js'
import { truncate } from './reply.js'

/** Where a body comes from: the socket's message when there is one, else the `Request`. */
export interface BodySource {
  readonly incoming: IncomingMessage | undefined
  readonly request: Request
  readonly contentType: string | undefined
}

/**
 * The request's JSON body, or undefined when it has none. A body needs
 * `Content-Type: application/json` (415 otherwise); bad UTF-8 or JSON is 400 `invalid-json`.
 */
export async function readJsonBody(source: BodySource, limit: number): Promise<unknown> {
  const { contentType } = source
  if (contentType !== undefined && !isJsonMediaType(contentType)) {
    throw new HttpError(
      'unsupported-media-type',
      `Content-Type must be application/json, not ${truncate(contentType)}`,
    )
  }
  const raw =
    source.incoming === undefined
      ? await readStream(source.request.body, limit)
      : await readIncoming(source.incoming, limit)
  if (raw.length === 0) return undefined
  if (contentType === undefined) {
    throw new HttpError(
      'unsupported-media-type',
      'a request body needs Content-Type: application/json',
    )
  }
  return parseJson(raw)
}

/**
 * Whether a body was left unread in a way Node will not clean up: not all of it arrived,
 * and its declared length (if any) is over `smallBytes`. Node drains a small unread body
 * itself and keeps the connection; anything else must close the connection after answering.
 */
export function leftUnread(incoming: IncomingMessage, smallBytes: number): boolean {
  if (incoming.complete) return false
  const declared = declaredLength(incoming)
  return declared === undefined || declared > smallBytes
}

function tooLarge(max: number): ChorusError {
  return new ChorusError('body-too-large', `the request body is larger than ${max} bytes`)
}

function declaredLength(incoming: IncomingMessage): number | undefined {
  const header = incoming.headers['content-length']
  return header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined
}

/** Reads a message's body up to `max` bytes, and no further. */
function readIncoming(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = declaredLength(req)
  if (declared !== undefined && declared > max) return Promise.reject(tooLarge(max))
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const stop = (): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('close', onClose)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size <= max) {
        chunks.push(chunk)
        return
      }
      stop()
      req.pause()
      reject(tooLarge(max))
    }
    const onEnd = (): void => {
      stop()
      resolve(Buffer.concat(chunks, size))
    }
    const onError = (): void => {
      stop()
      reject(new ChorusError('bad-request', 'the request body could not be read'))
    }
    const onClose = (): void => {
      if (req.complete) return
      stop()
      reject(new ChorusError('bad-request', 'the client went away before sending the whole body'))
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  })
}

/** Reads a web stream up to `max` bytes, cancelling it beyond. */
async function readStream(stream: ReadableStream<Uint8Array> | null, max: number): Promise<Buffer> {
  if (stream === null) return Buffer.alloc(0)
  const reader = stream.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return Buffer.concat(chunks, size)
    size += value.byteLength
    if (size > max) {
      await reader.cancel()
      throw tooLarge(max)
    }
    chunks.push(value)
  }
}

function isJsonMediaType(contentType: string): boolean {
  const [type = '', ...parameters] = contentType.split(';').map((p) => p.trim().toLowerCase())
  if (type !== 'application/json') return false
  return parameters.every((p) => !p.startsWith('charset=') || /^charset="?utf-8"?$/.test(p))
}

const UTF8 = new TextDecoder('utf-8', { fatal: true })

function parseJson(raw: Buffer): unknown {
  let text: string
  try {
    text = UTF8.decode(raw)
  } catch {
    throw new ChorusError('invalid-json', 'the request body is not valid UTF-8')
  }
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    throw new ChorusError('invalid-json', `the request body is not valid JSON: ${message}`)
  }
}
