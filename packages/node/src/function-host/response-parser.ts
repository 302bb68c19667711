/**
 * Reads one HTTP/1.x response from the bytes of a connection, as they arrive: the status,
 * whether the connection may carry another request, and the body, framed by Content-Length,
 * chunked transfer coding, or the connection's end. Bodies over `maxBytes` are refused as
 * soon as that is known (from Content-Length, before any of the body is read). 1xx interim
 * responses are skipped. Pure: bytes in, a result out.
 */

export interface ParsedResponse {
  readonly status: number
  readonly body: Buffer
  /** Whether the connection may carry another request. */
  readonly keepAlive: boolean
}

export type ParseResult =
  | { readonly type: 'more' }
  | { readonly type: 'done'; readonly response: ParsedResponse }
  | { readonly type: 'too-large'; readonly bytes: number | undefined }
  | { readonly type: 'malformed'; readonly message: string }

/** A status line and headers larger than this are not a function host's answer. */
const MAX_HEAD_BYTES = 64 * 1024
const MAX_CHUNK_LINE = 1024
const MORE: ParseResult = { type: 'more' }
const WAITING_FOR_TRAILERS = -2

type Framing =
  | { readonly kind: 'length'; readonly remaining: number }
  | { readonly kind: 'chunked' }
  | { readonly kind: 'until-end' }

export class ResponseParser {
  readonly #maxBytes: number
  #buffer: Buffer = Buffer.alloc(0)
  #status = 0
  #keepAlive = true
  #framing: Framing | undefined
  readonly #chunks: Buffer[] = []
  #size = 0
  /**
   * Chunked: bytes of the current chunk still to read (then its CRLF); -1 before a size line,
   * WAITING_FOR_TRAILERS after the last chunk.
   */
  #chunkLeft = -1
  #finished = false

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes
  }

  /** Takes the next bytes of the connection. */
  push(chunk: Buffer): ParseResult {
    if (this.#finished) return { type: 'malformed', message: 'bytes after the answer' }
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
    return this.#parse()
  }

  /** The connection ended: the answer is complete only if it was framed by the end. */
  end(): ParseResult {
    if (this.#finished) return MORE
    if (this.#framing?.kind === 'until-end') {
      this.#finished = true
      return this.#done(false)
    }
    return { type: 'malformed', message: 'the connection ended before the answer did' }
  }

  #parse(): ParseResult {
    while (this.#framing === undefined) {
      const head = this.#head()
      if (head.type !== 'more' || this.#framing === undefined) return head
    }
    switch (this.#framing.kind) {
      case 'length':
        return this.#readLength(this.#framing.remaining)
      case 'chunked':
        return this.#readChunked()
      case 'until-end':
        return this.#take(this.#buffer.length, () => MORE)
    }
  }

  /** Parses the status line and headers once they are all here. */
  #head(): ParseResult {
    const end = this.#buffer.indexOf('\r\n\r\n')
    if (end < 0) {
      return this.#buffer.length > MAX_HEAD_BYTES
        ? { type: 'malformed', message: 'headers too large' }
        : MORE
    }
    const lines = this.#buffer.subarray(0, end).toString('latin1').split('\r\n')
    this.#buffer = this.#buffer.subarray(end + 4)
    const status = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0] ?? '')
    if (status === null) return { type: 'malformed', message: `bad status line` }
    const code = Number(status[2])
    if (code >= 100 && code < 200) return MORE // interim (100 Continue): the real one follows
    let length: number | undefined
    let chunked = false
    let connection = ''
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':')
      if (colon <= 0) return { type: 'malformed', message: 'bad header line' }
      const name = line.slice(0, colon).trim().toLowerCase()
      const value = line.slice(colon + 1).trim()
      if (name === 'content-length') {
        if (!/^\d+$/.test(value)) return { type: 'malformed', message: 'bad Content-Length' }
        length = Number(value)
      } else if (name === 'transfer-encoding') {
        chunked = value.toLowerCase().split(',').pop()?.trim() === 'chunked'
      } else if (name === 'connection') {
        connection = value.toLowerCase()
      }
    }
    this.#status = code
    this.#keepAlive =
      status[1] === '1' ? !connection.includes('close') : connection.includes('keep-alive')
    if (code === 204 || code === 304) this.#framing = { kind: 'length', remaining: 0 }
    else if (chunked) this.#framing = { kind: 'chunked' }
    else if (length !== undefined) {
      if (length > this.#maxBytes) return { type: 'too-large', bytes: length }
      this.#framing = { kind: 'length', remaining: length }
    } else {
      this.#framing = { kind: 'until-end' }
      this.#keepAlive = false
    }
    return MORE
  }

  #readLength(remaining: number): ParseResult {
    const n = Math.min(remaining, this.#buffer.length)
    return this.#take(n, () => {
      const left = remaining - n
      this.#framing = { kind: 'length', remaining: left }
      if (left > 0) return MORE
      this.#finished = true
      return this.#done(this.#keepAlive)
    })
  }

  #readChunked(): ParseResult {
    if (this.#chunkLeft === WAITING_FOR_TRAILERS) return this.#trailers()
    for (;;) {
      if (this.#chunkLeft < 0) {
        const eol = this.#buffer.indexOf('\r\n')
        if (eol < 0) {
          return this.#buffer.length > MAX_CHUNK_LINE
            ? { type: 'malformed', message: 'bad chunk size' }
            : MORE
        }
        const sizeText = this.#buffer.subarray(0, eol).toString('latin1').split(';')[0]?.trim()
        if (sizeText === undefined || !/^[0-9a-fA-F]{1,8}$/.test(sizeText)) {
          return { type: 'malformed', message: 'bad chunk size' }
        }
        const size = parseInt(sizeText, 16)
        this.#buffer = this.#buffer.subarray(eol + 2)
        if (size === 0) return this.#trailers()
        this.#chunkLeft = size
      }
      if (this.#chunkLeft > 0) {
        const n = Math.min(this.#chunkLeft, this.#buffer.length)
        const taken = this.#take(n, () => MORE)
        if (taken.type !== 'more') return taken
        this.#chunkLeft -= n
        if (this.#chunkLeft > 0) return MORE
      }
      // the CRLF after the chunk's data
      if (this.#buffer.length < 2) return MORE
      if (this.#buffer[0] !== 0x0d || this.#buffer[1] !== 0x0a) {
        return { type: 'malformed', message: 'chunk without its CRLF' }
      }
      this.#buffer = this.#buffer.subarray(2)
      this.#chunkLeft = -1
    }
  }

  /** After the last chunk: trailer lines up to an empty one. */
  #trailers(): ParseResult {
    for (;;) {
      const eol = this.#buffer.indexOf('\r\n')
      if (eol < 0) {
        this.#chunkLeft = WAITING_FOR_TRAILERS
        return this.#buffer.length > MAX_HEAD_BYTES
          ? { type: 'malformed', message: 'trailers too large' }
          : MORE
      }
      const empty = eol === 0
      this.#buffer = this.#buffer.subarray(eol + 2)
      if (empty) {
        this.#finished = true
        return this.#done(this.#keepAlive)
      }
    }
  }

  /** Moves `n` body bytes out of the buffer, minding the limit, then continues. */
  #take(n: number, then: () => ParseResult): ParseResult {
    if (n > 0) {
      this.#size += n
      if (this.#size > this.#maxBytes) return { type: 'too-large', bytes: undefined }
      this.#chunks.push(this.#buffer.subarray(0, n))
      this.#buffer = this.#buffer.subarray(n)
    }
    return then()
  }

  #done(keepAlive: boolean): ParseResult {
    const body =
      this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks)
    // Bytes beyond the answer mean the connection is out of step: do not reuse it.
    const clean = this.#buffer.length === 0
    return { type: 'done', response: { status: this.#status, body, keepAlive: keepAlive && clean } }
  }
}
