/**
 * How a client command (all but `start`) reaches its peer: the flags every one takes
 * (`--peer`, `--json`, `--help`), the SDK's `MeshClient` for that peer, and the CLI's one
 * sentence for each way a request can fail. The SDK is the only HTTP client; this file
 * only words its errors.
 */
import { ChorusClientError, connect, type MeshClient } from '../client/index.js'
import { noPositionals } from './arguments.js'
import type { Command } from './command.js'
import { HELP_FLAG, parseFlags, type FlagValues, type ParseArgsOptionsConfig } from './flags.js'
import { messageOf, UsageError, type CliIo } from './io.js'

export const DEFAULT_PEER_URL = 'http://127.0.0.1:7070'

/** The flags of every client command. */
export const CLIENT_FLAGS = {
  peer: { type: 'string' },
  json: { type: 'boolean' },
  ...HELP_FLAG,
} as const

export const CLIENT_FLAGS_HELP = `  --peer URL   the peer to ask (env CHORUS_PEER, default ${DEFAULT_PEER_URL})
  --json       print the peer's JSON answer instead of a table
  -h, --help   show this help
`

/** A client command's arguments, parsed, and the peer it asks. */
export interface ClientArgs<O extends ParseArgsOptionsConfig> {
  readonly peer: PeerSession
  /** `--json`: print the peer's answer as it is. */
  readonly json: boolean
  readonly values: FlagValues<O>
  readonly positionals: string[]
}

/** What `parseClientArgs` needs to know of a command. */
export interface ClientCommandSpec<O extends ParseArgsOptionsConfig> {
  /** `invoke`, `choreography deploy`: named in messages. */
  readonly name: string
  readonly help: Command['help']
  /** Its own flags, besides `CLIENT_FLAGS`. */
  readonly flags: O
  /** Whether it takes positional arguments. Default false: any is a usage error. */
  readonly takesArguments?: boolean
}

/**
 * Parses a client command's flags (its own and `CLIENT_FLAGS`). With `--help` it prints the
 * command's help and gives undefined: the command has nothing more to do.
 */
export function parseClientArgs<O extends ParseArgsOptionsConfig>(
  args: readonly string[],
  io: CliIo,
  spec: ClientCommandSpec<O>,
): ClientArgs<O> | undefined {
  const { values, positionals } = parseFlags(
    args,
    { ...spec.flags, ...CLIENT_FLAGS },
    `chorus ${spec.name}`,
  )
  const common = values as FlagValues<typeof CLIENT_FLAGS>
  if (common.help === true) {
    io.stdout(spec.help())
    return undefined
  }
  if (spec.takesArguments !== true) noPositionals(positionals)
  const url = peerUrl(common.peer ?? (io.env.CHORUS_PEER || DEFAULT_PEER_URL))
  return {
    peer: new PeerSession(url, connect(url)),
    json: common.json === true,
    values,
    positionals,
  }
}

/** One peer, asked through the SDK; what goes wrong comes back as the CLI says it. */
export class PeerSession {
  readonly url: string
  readonly #client: MeshClient

  constructor(url: string, client: MeshClient) {
    this.url = url
    this.#client = client
  }

  /**
   * Runs `call` against the peer. A `ChorusClientError` becomes `explain`'s error when it
   * has one for it, else `peerFailure`'s.
   */
  async ask<T>(
    call: (client: MeshClient) => Promise<T>,
    explain?: (err: ChorusClientError) => Error | undefined,
  ): Promise<T> {
    try {
      return await call(this.#client)
    } catch (err) {
      const explained = err instanceof ChorusClientError ? explain?.(err) : undefined
      throw explained ?? peerFailure(err, this.url)
    }
  }
}

/**
 * The CLI's error for a failed request to the peer at `url`: a `UsageError` for what the
 * SDK refused before sending (a bad argument, an unreadable source), else one sentence that
 * names the URL. Anything but a `ChorusClientError` is given back as it is.
 */
export function peerFailure(err: unknown, url: string): unknown {
  if (!(err instanceof ChorusClientError)) return err
  if (err.code === 'bad-request' && err.status === undefined) {
    return new UsageError(err.message, { cause: err })
  }
  if (err.code === 'peer-unreachable') {
    return new Error(
      `cannot reach the peer at ${url}: ${networkReason(err.cause)} ` +
        `(is a peer running there? start one with 'chorus start', or point --peer or CHORUS_PEER at one)`,
      { cause: err },
    )
  }
  if (err.answer !== undefined && err.status !== undefined) {
    if (err.answer.json === undefined) {
      const type = err.answer.contentType ?? 'no content type'
      return new Error(`${url} did not answer like a Chorus peer (HTTP ${err.status}, ${type})`, {
        cause: err,
      })
    }
    // JSON, but no error of the API's: say what it held of one.
    const error = errorField(err.answer.json)
    const message = typeof error?.message === 'string' ? error.message : 'no message'
    const code = typeof error?.code === 'string' ? `${error.code}, ` : ''
    return new Error(`${message} (${code}HTTP ${err.status} from ${url})`, { cause: err })
  }
  if (err.status !== undefined) {
    return new Error(`${err.message} (${err.code}, HTTP ${err.status} from ${url})`, {
      cause: err,
    })
  }
  return new Error(err.message, { cause: err })
}

/** The `error` object of a JSON body, if it has one. */
function errorField(json: unknown): { code?: unknown; message?: unknown } | undefined {
  if (typeof json !== 'object' || json === null || !('error' in json)) return undefined
  const { error } = json
  return typeof error === 'object' && error !== null ? error : undefined
}

/** `--peer`'s URL, checked, without a trailing `/`. */
function peerUrl(text: string): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new UsageError(
      `--peer must be a URL like ${DEFAULT_PEER_URL}, got ${JSON.stringify(text)}`,
    )
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--peer must be an http:// or https:// URL, got ${JSON.stringify(text)}`)
  }
  return url.href.replace(/\/+$/, '')
}

/** Why a fetch got no answer, in words: undici hides the cause behind "fetch failed". */
function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause
  switch (cause?.code) {
    case 'ECONNREFUSED':
      return 'connection refused'
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found'
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connection timed out'
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection closed before an answer'
    default:
      return typeof cause?.message === 'string' ? cause.message : messageOf(err)
  }
}
