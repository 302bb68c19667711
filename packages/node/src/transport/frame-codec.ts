/**
 * Length-prefixed JSON frames for the peer-to-peer channel: a 4-byte big-endian length,
 * then that many bytes of UTF-8 JSON (an object). Decoding is incremental and bounded:
 * a length over the limit, or a body that is not a JSON object, is a FrameError.
 */

export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024

export class FrameError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'FrameError'
  }
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeFrame(value: object, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Uint8Array {
  const body = encoder.encode(JSON.stringify(value))
  if (body.byteLength > maxFrameBytes) {
    throw new FrameError(`frame of ${body.byteLength} bytes exceeds the limit of ${maxFrameBytes}`)
  }
  const frame = new Uint8Array(4 + body.byteLength)
  new DataView(frame.buffer).setUint32(0, body.byteLength)
  frame.set(body, 4)
  return frame
}

/** Accumulates bytes and yields whole frames. After an error it stays broken. */
export class FrameDecoder {
  readonly #max: number
  #chunks: Uint8Array[] = []
  #buffered = 0

  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.#max = maxFrameBytes
  }

  /** Adds bytes; returns the frames they complete, in order. Throws FrameError on garbage. */
  push(chunk: Uint8Array): Record<string, unknown>[] {
    if (chunk.byteLength > 0) {
      this.#chunks.push(chunk)
      this.#buffered += chunk.byteLength
    }
    const frames: Record<string, unknown>[] = []
    for (;;) {
      if (this.#buffered < 4) return frames
      const header = this.#peek(4)
      const length = new DataView(header.buffer, header.byteOffset, 4).getUint32(0)
      if (length > this.#max) {
        throw new FrameError(`frame of ${length} bytes exceeds the limit of ${this.#max}`)
      }
      if (this.#buffered < 4 + length) return frames
      this.#take(4)
      frames.push(parseFrame(this.#take(length)))
    }
  }

  #peek(n: number): Uint8Array {
    const first = this.#chunks[0] as Uint8Array
    if (first.byteLength >= n) return first.subarray(0, n)
    const out = new Uint8Array(n)
    let at = 0
    for (const chunk of this.#chunks) {
      const part = chunk.subarray(0, n - at)
      out.set(part, at)
      at += part.byteLength
      if (at === n) break
    }
    return out
  }

  #take(n: number): Uint8Array {
    const out = this.#peek(n)
    let left = n
    while (left > 0) {
      const first = this.#chunks[0] as Uint8Array
      if (first.byteLength <= left) {
        this.#chunks.shift()
        left -= first.byteLength
      } else {
        this.#chunks[0] = first.subarray(left)
        left = 0
      }
    }
    this.#buffered -= n
    // Received chunks are never written to, so a view into one stays valid.
    return out
  }
}

function parseFrame(body: Uint8Array): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(body))
  } catch {
    throw new FrameError('frame is not valid UTF-8 JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FrameError('frame is not a JSON object')
  }
  return value as Record<string, unknown>
}
