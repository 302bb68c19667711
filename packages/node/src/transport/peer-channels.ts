/**
 * One long-lived, multiplexed stream per peer pair (`RPC_PROTOCOL`, `/chorus/rpc/1.0.0`),
 * carrying id-tagged request/response and one-way frames. Opening a libp2p stream costs
 * about half a millisecond; a frame on a reused stream about a tenth of that.
 *
 * A garbage or oversized frame closes that stream with an error (its pending requests
 * fail with `protocol-error`); the peer and its other channels carry on. A well-formed
 * request this peer cannot serve is answered on the same stream, which stays open: an
 * unknown method with `unknown-method`, a known one at another version with
 * `unsupported-version`, a body its handler refuses with that handler's error.
 */
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Uint8ArrayList } from 'uint8arraylist'
import { z } from 'zod'
import { background } from '../background.js'
import { ChorusError, asChorusError, type ChorusErrorCode } from '../errors.js'
import { silentLogger, type Logger } from '../observability/logger.js'
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, FrameError, encodeFrame } from './frame-codec.js'
import { RPC_PROTOCOL, parseMethod } from './protocols.js'

/** Answers a request (or takes a one-way message, whose answer is dropped). */
export type RpcHandler = (body: unknown, from: string) => unknown

export interface PeerChannelsInit {
  maxFrameBytes?: number
  /** Default deadline of a request. */
  requestTimeoutMs?: number
  log?: Logger
}

/** The frames of the peer channel; anything else closes the stream. */
const frameSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('req'), id: z.number(), m: z.string(), b: z.unknown().optional() }),
  z.object({ t: z.literal('msg'), m: z.string(), b: z.unknown().optional() }),
  z.discriminatedUnion('ok', [
    z.object({
      t: z.literal('res'),
      id: z.number(),
      ok: z.literal(true),
      b: z.unknown().optional(),
    }),
    z.object({
      t: z.literal('res'),
      id: z.number(),
      ok: z.literal(false),
      e: z.object({ code: z.string(), message: z.string() }),
    }),
  ]),
])

type Frame =
  | { t: 'req'; id: number; m: string; b?: unknown }
  | { t: 'res'; id: number; ok: true; b?: unknown }
  | { t: 'res'; id: number; ok: false; e: { code: ChorusErrorCode; message: string } }
  | { t: 'msg'; m: string; b?: unknown }

interface Pending {
  resolve: (value: unknown) => void
  reject: (err: ChorusError) => void
  timer: ReturnType<typeof setTimeout>
}

class Channel {
  readonly #decoder: FrameDecoder
  readonly #pending = new Map<number, Pending>()
  #outbox: Uint8Array[] = []
  #outboxBytes = 0
  #nextId = 1
  closed = false

  readonly #log: Logger

  constructor(
    readonly peerId: string,
    readonly stream: Stream,
    private readonly owner: PeerChannels,
    private readonly maxFrameBytes: number,
    log: Logger,
  ) {
    this.#log = log
    this.#decoder = new FrameDecoder(maxFrameBytes)
    stream.addEventListener('message', (evt) => this.#onBytes(evt.data))
    stream.addEventListener('close', (evt) => {
      const reason = evt.error ? `: ${evt.error.message}` : ''
      this.#fail(new ChorusError('peer-unreachable', `channel to ${peerId} closed${reason}`))
    })
  }

  request(method: string, body: unknown, timeoutMs: number): Promise<unknown> {
    const id = this.#nextId++
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(
          new ChorusError(
            'timeout',
            `${method} to ${this.peerId} got no answer in ${timeoutMs} ms`,
          ),
        )
      }, timeoutMs)
      this.#pending.set(id, { resolve, reject, timer })
      try {
        this.write({ t: 'req', id, m: method, b: body })
      } catch (err) {
        clearTimeout(timer)
        this.#pending.delete(id)
        reject(asChorusError(err))
      }
    })
  }

  write(frame: Frame): void {
    if (this.closed) {
      throw new ChorusError('peer-unreachable', `channel to ${this.peerId} is closed`, NOT_SENT)
    }
    // Frames written during one turn of the event loop leave in one send: under load this
    // saves a yamux frame, a Noise message and a syscall per frame.
    this.#outbox.push(encodeFrame(frame, this.maxFrameBytes))
    this.#outboxBytes += (this.#outbox.at(-1) as Uint8Array).byteLength
    if (this.#outbox.length === 1) setImmediate(() => this.#flush())
    else if (this.#outboxBytes >= FLUSH_AT_BYTES) this.#flush()
  }

  #flush(): void {
    if (this.#outbox.length === 0) return
    const frames = this.#outbox
    this.#outbox = []
    this.#outboxBytes = 0
    if (this.closed) return
    try {
      this.stream.send(frames.length === 1 ? (frames[0] as Uint8Array) : concat(frames))
    } catch (err) {
      this.close(err instanceof Error ? err : new Error(String(err)))
    }
  }

  close(err?: Error): void {
    if (this.closed) return
    if (err) this.stream.abort(err)
    else background(this.stream.close(), () => this.stream.abort(new Error('close failed')))
    this.#fail(new ChorusError('peer-unreachable', `channel to ${this.peerId} closed`))
  }

  #onBytes(data: Uint8Array | Uint8ArrayList): void {
    if (this.closed) return
    let frames: Record<string, unknown>[]
    try {
      frames = this.#decoder.push(data instanceof Uint8Array ? data : data.subarray())
    } catch (err) {
      this.#protocolError(err instanceof FrameError ? err.message : String(err))
      return
    }
    for (const raw of frames) {
      const frame = frameSchema.safeParse(raw)
      if (!frame.success) {
        this.#protocolError(`malformed frame ${JSON.stringify(raw).slice(0, 80)}`)
        return
      }
      this.#onFrame(frame.data as Frame)
    }
  }

  #onFrame(frame: Frame): void {
    if (frame.t === 'res') {
      const pending = this.#pending.get(frame.id)
      if (!pending) return // answered after its deadline
      this.#pending.delete(frame.id)
      clearTimeout(pending.timer)
      if (frame.ok) pending.resolve(frame.b)
      else pending.reject(new ChorusError(frame.e.code, frame.e.message))
      return
    }
    const answering = this.owner.dispatch(frame.m, frame.b, this.peerId)
    if (frame.t === 'msg') {
      // Nobody waits for a one-way message's outcome: a failure is only worth a line.
      background(answering, (err) =>
        this.#log.warn(
          { method: truncate(frame.m), err: asChorusError(err) },
          'a one-way message was refused',
        ),
      )
      return
    }
    const id = frame.id
    background(
      async () => {
        let answer: Frame
        try {
          answer = { t: 'res', id, ok: true, b: await answering }
        } catch (err) {
          answer = { t: 'res', id, ok: false, e: asChorusError(err).toJSON() }
        }
        if (!this.closed) this.#answer(answer)
      },
      (err) =>
        this.#log.error({ method: truncate(frame.m), err }, 'bug: answering a request threw'),
    )
  }

  #answer(frame: Frame): void {
    try {
      this.write(frame)
    } catch (err) {
      // An answer too big for a frame becomes an error answer; a closed channel drops it.
      if (err instanceof FrameError && frame.t === 'res' && !this.closed) {
        this.write({
          t: 'res',
          id: frame.id,
          ok: false,
          e: { code: 'protocol-error', message: err.message },
        })
      }
    }
  }

  #protocolError(message: string): void {
    this.#log.warn({ reason: message }, 'closing a channel that broke the protocol')
    this.closed = true
    this.stream.abort(new Error(`protocol error: ${message}`))
    this.#fail(new ChorusError('protocol-error', `channel to ${this.peerId} closed: ${message}`))
  }

  #fail(err: ChorusError): void {
    this.closed = true
    this.owner.forget(this)
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer)
      pending.reject(err)
    }
    this.#pending.clear()
  }
}

/** A batch is sent at once when it reaches this size, without waiting for the loop's turn. */
const FLUSH_AT_BYTES = 64 * 1024

/**
 * The `details` of an error raised before a frame left this peer (no channel could be
 * opened, or it was already closed): the remote saw nothing, so trying elsewhere is safe.
 */
export const NOT_SENT: Readonly<Record<string, unknown>> = Object.freeze({ sent: false })

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  let size = 0
  for (const c of chunks) size += c.byteLength
  const out = new Uint8Array(size)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.byteLength
  }
  return out
}

/** A string from the wire, short enough for a log line or an error message. */
function truncate(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text
}

/** The channels of one peer, and the handlers it answers requests with. */
export class PeerChannels {
  readonly #libp2p: Libp2p
  readonly #handlers = new Map<string, RpcHandler>()
  /** The channel requests to each peer go on. */
  readonly #channels = new Map<string, Channel>()
  /** Every open channel, those only answered on (both sides opened at once) included. */
  readonly #open = new Set<Channel>()
  readonly #opening = new Map<string, Promise<Channel>>()
  readonly #maxFrameBytes: number
  readonly #requestTimeoutMs: number
  readonly #log: Logger
  #started = false

  constructor(libp2p: Libp2p, init: PeerChannelsInit = {}) {
    this.#libp2p = libp2p
    this.#maxFrameBytes = init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.#requestTimeoutMs = init.requestTimeoutMs ?? 30_000
    this.#log = (init.log ?? silentLogger()).child({ component: 'transport:channels' })
  }

  async start(): Promise<void> {
    await this.#libp2p.handle(
      RPC_PROTOCOL,
      (stream: Stream, connection: Connection) => {
        this.#adopt(connection.remotePeer.toString(), stream)
      },
      { maxInboundStreams: 8, maxOutboundStreams: 8 },
    )
    this.#started = true
  }

  async stop(): Promise<void> {
    this.#started = false
    await this.#libp2p.unhandle(RPC_PROTOCOL)
    for (const channel of [...this.#open]) channel.close()
    this.#open.clear()
    this.#channels.clear()
  }

  /**
   * Answers `method` (versioned, `<name>/<version>`: see `protocols.ts`) with `handler`,
   * in place of any handler it had. Throws if the method has no version.
   */
  handle(method: string, handler: RpcHandler): void {
    if (parseMethod(method) === undefined) {
      throw new Error(`bug: RPC method ${method} is not <name>/<version>`)
    }
    this.#handlers.set(method, handler)
  }

  /** Stops answering `method` (requests for it get `unknown-method`). */
  unhandle(method: string): void {
    this.#handlers.delete(method)
  }

  /** Sends a request and waits for its answer; rejects with a ChorusError. */
  async request(
    peerId: string,
    method: string,
    body: unknown,
    timeoutMs = this.#requestTimeoutMs,
  ): Promise<unknown> {
    const channel = await this.#channelTo(peerId, timeoutMs)
    return channel.request(method, body, timeoutMs)
  }

  /**
   * Sends a one-way message. A failure (no channel, or one that closed while it opened)
   * is logged, never thrown: nothing waits for a one-way message.
   */
  send(peerId: string, method: string, body: unknown): void {
    background(
      async () => {
        const channel = await this.#channelTo(peerId, this.#requestTimeoutMs)
        channel.write({ t: 'msg', m: method, b: body })
      },
      // Routine while a peer dies (failure detection finds out): worth a debug line.
      (err) => this.#log.debug({ peer: peerId, method, err }, 'sending a one-way message failed'),
    )
  }

  /**
   * Sends a one-way message like `send`, telling `waited` what happened when it could not go
   * out at once because a channel had to be opened first: `sent` once it went, `unsent` if
   * no channel opened. Failure detection times a ping from when it left, not from the dial.
   */
  sendTelling(
    peerId: string,
    method: string,
    body: unknown,
    waited: (outcome: 'connecting' | 'sent' | 'unsent') => void,
  ): void {
    const existing = this.#channels.get(peerId)
    if (existing && !existing.closed) return this.send(peerId, method, body)
    waited('connecting')
    background(
      async () => {
        try {
          const channel = await this.#channelTo(peerId, this.#requestTimeoutMs)
          channel.write({ t: 'msg', m: method, b: body })
        } catch (err) {
          this.#log.debug({ peer: peerId, method, err }, 'sending a one-way message failed')
          waited('unsent')
          return
        }
        waited('sent')
      },
      (err) => this.#log.error({ peer: peerId, method, err }, 'bug: telling a send threw'),
    )
  }

  /** @internal */
  dispatch(method: string, body: unknown, from: string): Promise<unknown> {
    const handler = this.#handlers.get(method)
    if (!handler) return Promise.reject(this.#unserved(method))
    try {
      return Promise.resolve(handler(body, from))
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)))
    }
  }

  /** @internal */
  forget(channel: Channel): void {
    this.#open.delete(channel)
    if (this.#channels.get(channel.peerId) === channel) this.#channels.delete(channel.peerId)
  }

  /** Why `method` has no handler here: another version of it has one, or none does. */
  #unserved(method: string): ChorusError {
    const asked = parseMethod(method)
    const served = [...this.#handlers.keys()]
      .map(parseMethod)
      .filter((m) => m !== undefined && m.name === asked?.name)
      .map((m) => m?.version)
    if (asked !== undefined && served.length > 0) {
      return new ChorusError(
        'unsupported-version',
        `${asked.name} version ${asked.version} is not served here (this peer speaks version ${served.join(', ')})`,
      )
    }
    return new ChorusError('unknown-method', `unknown method ${truncate(method)}`)
  }

  #adopt(peerId: string, stream: Stream): Channel {
    const channel = new Channel(
      peerId,
      stream,
      this,
      this.#maxFrameBytes,
      this.#log.child({ peer: peerId }),
    )
    this.#open.add(channel)
    const existing = this.#channels.get(peerId)
    // Both sides may open at once: keep the first, but answer on either.
    if (!existing || existing.closed) this.#channels.set(peerId, channel)
    return channel
  }

  async #channelTo(peerId: string, timeoutMs: number): Promise<Channel> {
    const existing = this.#channels.get(peerId)
    if (existing && !existing.closed) return existing
    if (!this.#started) throw new ChorusError('shutting-down', 'this peer is stopping')
    let opening = this.#opening.get(peerId)
    if (!opening) {
      opening = this.#dial(peerId, timeoutMs).finally(() => this.#opening.delete(peerId))
      this.#opening.set(peerId, opening)
    }
    return opening
  }

  async #dial(peerId: string, timeoutMs: number): Promise<Channel> {
    let id: PeerId
    try {
      id = peerIdFromString(peerId)
    } catch {
      throw new ChorusError('bad-request', `not a peer id: ${peerId}`)
    }
    let stream: Stream
    try {
      stream = await this.#libp2p.dialProtocol(id, RPC_PROTOCOL, {
        signal: AbortSignal.timeout(Math.min(timeoutMs, 10_000)),
      })
    } catch (err) {
      throw new ChorusError(
        'peer-unreachable',
        `cannot reach ${peerId}: ${(err as Error).message}`,
        NOT_SENT,
      )
    }
    // Stopped while dialling: keep no channel that stop() would not close.
    if (!this.#started) {
      stream.abort(new Error('this peer is stopping'))
      throw new ChorusError('shutting-down', 'this peer is stopping')
    }
    return this.#adopt(peerId, stream)
  }
}
