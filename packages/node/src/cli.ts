#!/usr/bin/env node
/**
 * The `chorus` command: `start` runs a peer; `peers`, `schedulers`, `invoke` and `status`
 * ask a running peer over its HTTP API. `main(argv, io)` is the whole CLI, so tests call it
 * in process; the bottom of this file runs it when this file is the program.
 *
 * Exit codes: 0 done, 1 failed (peer unreachable, an error answer, a failed invocation),
 * 2 usage error (unknown command or flag, bad value).
 */
import './polyfill.js'
import { realpathSync } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { flagError, parsePeerConfig, PEER_CONFIG_OPTIONS } from './config.js'
import { ChorusError } from './errors.js'
import { formatPairs, formatTable } from './format-table.js'
import { functionNameProblem, ownerNameProblem } from './names.js'
import type { InvocationView, PeerInfo, SchedulerInfo } from './peer-api.js'
import type { startPeer } from './peer.js'
import { VERSION } from './version.js'

export interface CliIo {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly env: Readonly<Record<string, string | undefined>>
  /** Default: `startPeer` from `./peer.js`, loaded only by `chorus start`. */
  readonly startPeer?: typeof startPeer
  /** Calls `listener` on SIGINT and SIGTERM; returns the function that stops it. Default: the process's signals. */
  readonly onSignal?: (listener: (signal: 'SIGINT' | 'SIGTERM') => void) => () => void
  /** Ends the process (`chorus start` only). Default: `process.exit`. */
  readonly exit?: (code: number) => void
}

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const

export const DEFAULT_PEER_URL = 'http://127.0.0.1:7070'

/** Runs the CLI on `argv` (the arguments after `chorus`) and resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv
  if (name === undefined) {
    io.stderr(TOP_HELP)
    return EXIT.usage
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = args[0] === undefined ? undefined : COMMANDS[args[0]]
    io.stdout(topic?.help() ?? TOP_HELP)
    return EXIT.ok
  }
  if (name === '--version' || name === '-v') {
    io.stdout(`chorus ${VERSION}\n`)
    return EXIT.ok
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
  if (command === undefined) {
    const known = Object.keys(COMMANDS).join(', ')
    io.stderr(
      `chorus: unknown command ${JSON.stringify(name)} (commands: ${known}; see chorus --help)\n`,
    )
    return EXIT.usage
  }
  try {
    return await command.run(args, io)
  } catch (err) {
    const usage = err instanceof UsageError
    io.stderr(`chorus ${name}: ${err instanceof Error ? err.message : String(err)}\n`)
    return usage ? EXIT.usage : EXIT.failed
  }
}

/** A mistake in how the command was called: exit code 2. */
class UsageError extends Error {}

interface Command {
  help(): string
  run(args: readonly string[], io: CliIo): Promise<number>
}

const CLIENT_FLAGS = `  --peer URL   the peer to ask (env CHORUS_PEER, default ${DEFAULT_PEER_URL})
  --json       print the peer's JSON answer instead of a table
  -h, --help   show this help
`

const TOP_HELP = `chorus: run and use a peer of the Chorus scheduler mesh

Usage: chorus <command> [flags]

Commands:
  start        start a peer on this machine, joining a mesh or beginning one
  peers        list the peers a peer knows, and their state
  schedulers   list where the schedulers of the mesh live (--local: one peer's)
  deploy       deploy a function (a .js module or a .tgz bundle) to the mesh
  invoke       invoke a function, and wait for its result
  status       show an invocation's status and result

The client commands (peers, schedulers, deploy, invoke, status) ask a running peer over HTTP:
${CLIENT_FLAGS}
Examples:
  chorus start
  chorus start --join /ip4/10.0.0.1/tcp/4001/p2p/12D3KooW... --http 0.0.0.0:7070
  chorus peers --peer http://10.0.0.1:7070
  chorus invoke acme/resize --input '{"width": 640}'
  chorus invoke acme/report --no-wait --idempotency-key nightly-2024-06-01
  chorus status 7f3c2a

Run 'chorus <command> --help' for a command's flags.
Exit codes: 0 done; 1 failed (peer unreachable, error answer, failed invocation); 2 usage error.
`

const COMMANDS: Readonly<Record<string, Command>> = {
  start: { help: startHelp, run: start },
  peers: {
    help: () => `Usage: chorus peers [flags]

Lists the peers the asked peer knows: their id, membership state (alive, suspect, dead,
left), how long ago it last heard from them, and their libp2p addresses.

Flags:
${CLIENT_FLAGS}
Examples:
  chorus peers
  chorus peers --peer http://10.0.0.1:7070 --json
`,
    run: peers,
  },
  schedulers: {
    help: () => `Usage: chorus schedulers [--local] [flags]

Lists the schedulers the asked peer knows of, mesh-wide: each (owner, provider) shard, the
peer responsible for it and its epoch, its capacity, and its pending and in-flight work.

Flags:
  --local      only the schedulers the asked peer hosts itself
${CLIENT_FLAGS}
Examples:
  chorus schedulers
  chorus schedulers --local --peer http://10.0.0.2:7070
`,
    run: schedulers,
  },
  invoke: {
    help: () => `Usage: chorus invoke <owner>/<function> [--input JSON] [flags]

Invokes a function of an owner through the asked peer (which forwards it to the responsible
peer) and, unless --no-wait, waits for the result. Exits 1 if the invocation failed.

Flags:
  --input JSON             the function's input, as JSON (default: none)
  --priority 0|1           0 runs first and may preempt 1 (default: the scheduler's, 1)
  --qos latency|cost       latency: the nearest scheduler shard; cost: the least loaded
  --no-wait                answer as soon as the invocation is queued, with its id
  --idempotency-key KEY    retrying with the same key gets the same invocation
${CLIENT_FLAGS}
A function name may contain '/': in acme/images/resize the owner is acme, the function
images/resize. Names use letters, digits, '.', '_' and '-', up to 128 characters.

Examples:
  chorus invoke acme/resize --input '{"width": 640}'
  chorus invoke acme/images/resize --input '"cat.png"' --priority 0 --qos latency
  chorus invoke acme/report --no-wait --idempotency-key nightly-2024-06-01 --json
`,
    run: invoke,
  },
  deploy: {
    help: () => `Usage: chorus deploy <owner>/<function> <file> [flags]

Deploys a function to the mesh through the asked peer; every peer learns it. Deploying the
same name again makes a new version. <file> is the function's code:
  a .js or .mjs file   an ES module whose default export is async (input, context) => output
  a .tgz file          a bundle: nodejs loads its package.json main or index.js;
                       process runs --command in it

Flags:
  --runtime nodejs|process   how the code runs (default: nodejs)
  --command CMD              for runtime process: the executable and its arguments, as a JSON
                             array ('["./server"]'); it serves POST /run on $PORT
  --memory MB                memory of one function host (default: the peer's, 128)
  --timeout MS               how long one invocation may run (default 60000)
  --concurrency N            invocations one host runs at once (default 1)
${CLIENT_FLAGS}
Examples:
  chorus deploy acme/resize ./resize.mjs --memory 256 --timeout 10000
  chorus deploy acme/thumbs ./thumbs.tgz --runtime process --command '["./thumbs"]'
`,
    run: deploy,
  },
  status: {
    help: () => `Usage: chorus status <invocation-id> [flags]

Shows an invocation's status (queued, running, succeeded, failed), where it ran, and its
output or error, wherever in the mesh it lives.

Flags:
${CLIENT_FLAGS}
Examples:
  chorus status 7f3c2a
  chorus status 7f3c2a --json | jq .output
`,
    run: status,
  },
}

function startHelp(): string {
  const flags = PEER_CONFIG_OPTIONS.map((o) => {
    const left = `  --${o.flag} ${o.value}`
    const where = `env ${o.env}${o.default === undefined ? '' : `, default ${o.default}`}`
    return `${left.padEnd(30)}${o.description}\n${' '.repeat(30)}${where}\n`
  }).join('')
  return `Usage: chorus start [flags]

Starts a peer: a libp2p host that joins the mesh (or begins one), a scheduler host, a worker
host and the HTTP API. It prints its peer id, libp2p addresses and HTTP URL, and runs until
SIGINT (Ctrl+C) or SIGTERM, then stops cleanly and exits 0; a second signal exits at once.

Flags (each can also be set by its environment variable; a flag wins over its variable, and a
variable set to the empty string counts as unset):
${flags}  -h, --help                  show this help

CHORUS_LISTEN and CHORUS_JOIN take comma-separated lists; so does each --listen and --join.

Examples:
  chorus start
  chorus start --http 0.0.0.0:7070 --listen /ip4/0.0.0.0/tcp/4001
  chorus start --join /ip4/10.0.0.1/tcp/4001/p2p/12D3KooW... --data-dir /var/lib/chorus
  CHORUS_SCHEDULER_IDLE=30s CHORUS_PLACEMENT=openwhisk chorus start
`
}

async function start(args: readonly string[], io: CliIo): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout(startHelp())
    return EXIT.ok
  }
  let config
  try {
    config = parsePeerConfig(args, io.env)
  } catch (err) {
    if (err instanceof ChorusError) throw new UsageError(err.message)
    throw err
  }
  const run = io.startPeer ?? (await import('./peer.js')).startPeer
  const peer = await run(config, { log: (line) => io.stderr(`${line}\n`) })
  io.stdout(
    formatPairs([
      ['peer id', peer.api.peerId],
      ['libp2p', peer.multiaddrs.join('\n') || '(none)'],
      ['http', peer.httpUrl],
      ['data dir', config.dataDir],
    ]) + 'Press Ctrl+C to stop.\n',
  )
  const exit = io.exit ?? ((code: number) => process.exit(code))
  const code = await new Promise<number>((resolve) => {
    let stopping = false
    const stopListening = (io.onSignal ?? processSignals)((signal) => {
      if (stopping) {
        io.stderr(`${signal} again: exiting now\n`)
        exit(signal === 'SIGINT' ? 130 : 143)
        return
      }
      stopping = true
      io.stderr(`${signal}: stopping the peer (send it again to exit at once)\n`)
      peer.stop().then(
        () => {
          stopListening()
          resolve(EXIT.ok)
        },
        (err: unknown) => {
          io.stderr(`chorus start: stopping failed: ${messageOf(err)}\n`)
          stopListening()
          resolve(EXIT.failed)
        },
      )
    })
  })
  exit(code)
  return code
}

function processSignals(listener: (signal: 'SIGINT' | 'SIGTERM') => void): () => void {
  const onInt = (): void => listener('SIGINT')
  const onTerm = (): void => listener('SIGTERM')
  process.on('SIGINT', onInt)
  process.on('SIGTERM', onTerm)
  return () => {
    process.off('SIGINT', onInt)
    process.off('SIGTERM', onTerm)
  }
}

async function peers(args: readonly string[], io: CliIo): Promise<number> {
  const { client, json } = clientArgs('peers', args, io, {})
  if (client === undefined) return EXIT.ok
  const answer = (await client.get('/v1/mesh/peers')) as { self: string; peers: PeerInfo[] }
  if (json) return print(io, answer)
  if (answer.peers.length === 0) {
    io.stdout('no peers\n')
    return EXIT.ok
  }
  const rows = answer.peers.map((p) => [
    p.peerId === answer.self ? `${p.peerId} (self)` : p.peerId,
    p.state,
    formatAge(p.lastSeenMs),
    p.addrs.join(' '),
  ])
  io.stdout(
    formatTable(['PEER', 'STATE', 'LAST SEEN', 'ADDRESSES'], rows, ['left', 'left', 'right']),
  )
  return EXIT.ok
}

async function schedulers(args: readonly string[], io: CliIo): Promise<number> {
  const { client, json, values } = clientArgs('schedulers', args, io, {
    local: { type: 'boolean' },
  })
  if (client === undefined) return EXIT.ok
  const local = values.local === true
  const answer = (await client.get(`/v1/mesh/schedulers${local ? '?local=1' : ''}`)) as {
    schedulers: SchedulerInfo[]
  }
  if (json) return print(io, answer)
  if (answer.schedulers.length === 0) {
    io.stdout(local ? 'no schedulers on this peer\n' : 'no schedulers\n')
    return EXIT.ok
  }
  const sorted = [...answer.schedulers].sort(
    (a, b) => a.owner.localeCompare(b.owner) || a.provider.localeCompare(b.provider),
  )
  const rows = sorted.map((s) => [
    s.owner,
    s.provider,
    s.peerId,
    String(s.epoch),
    String(s.capacity),
    String(s.pending),
    String(s.inflight),
    s.guid,
  ])
  const header = ['OWNER', 'PROVIDER', 'PEER', 'EPOCH', 'CAPACITY', 'PENDING', 'INFLIGHT', 'GUID']
  const align = ['left', 'left', 'left', 'right', 'right', 'right', 'right'] as const
  io.stdout(formatTable(header, rows, align))
  return EXIT.ok
}

async function invoke(args: readonly string[], io: CliIo): Promise<number> {
  const { client, json, values, positionals } = clientArgs('invoke', args, io, {
    input: { type: 'string' },
    priority: { type: 'string' },
    qos: { type: 'string' },
    'no-wait': { type: 'boolean' },
    'idempotency-key': { type: 'string' },
  })
  if (client === undefined) return EXIT.ok
  const target = onePositional(positionals, '<owner>/<function>')
  const slash = target.indexOf('/')
  if (slash < 0) throw new UsageError(`expected <owner>/<function>, got ${JSON.stringify(target)}`)
  const owner = target.slice(0, slash)
  const fn = target.slice(slash + 1)
  const problem = ownerNameProblem(owner) ?? functionNameProblem(fn)
  if (problem !== undefined) throw new UsageError(problem)

  const body: Record<string, unknown> = { wait: values['no-wait'] !== true }
  if (typeof values.input === 'string') {
    try {
      body.input = JSON.parse(values.input) as unknown
    } catch (err) {
      throw new UsageError(`--input is not valid JSON (${messageOf(err)}); quote strings: '"text"'`)
    }
  }
  if (values.priority !== undefined) {
    if (values.priority !== '0' && values.priority !== '1') {
      throw new UsageError(
        `--priority must be 0 (high) or 1 (low), got ${JSON.stringify(values.priority)}`,
      )
    }
    body.priority = Number(values.priority)
  }
  if (values.qos !== undefined) {
    if (values.qos !== 'latency' && values.qos !== 'cost') {
      throw new UsageError(`--qos must be latency or cost, got ${JSON.stringify(values.qos)}`)
    }
    body.qos = values.qos
  }
  if (values['idempotency-key'] !== undefined) body.idempotencyKey = values['idempotency-key']

  const path = `/v1/owners/${encodeURIComponent(owner)}/functions/${fn
    .split('/')
    .map(encodeURIComponent)
    .join('/')}/invocations`
  const view = (await client.post(path, body)) as InvocationView
  if (json) print(io, view)
  else if (body.wait === false) {
    io.stdout(
      formatPairs([
        ['id', view.id],
        ['status', view.status],
      ]),
    )
    io.stdout(`follow it with: chorus status ${view.id}\n`)
  } else io.stdout(formatInvocation(view))
  return view.status === 'failed' ? EXIT.failed : EXIT.ok
}

async function deploy(args: readonly string[], io: CliIo): Promise<number> {
  const { client, json, values, positionals } = clientArgs('deploy', args, io, {
    runtime: { type: 'string' },
    command: { type: 'string' },
    memory: { type: 'string' },
    timeout: { type: 'string' },
    concurrency: { type: 'string' },
  })
  if (client === undefined) return EXIT.ok
  if (positionals.length !== 2) {
    throw new UsageError(
      `expected <owner>/<function> <file>, got ${positionals.length} argument(s)`,
    )
  }
  const [target = '', file = ''] = positionals
  const slash = target.indexOf('/')
  if (slash < 0) throw new UsageError(`expected <owner>/<function>, got ${JSON.stringify(target)}`)
  const owner = target.slice(0, slash)
  const name = target.slice(slash + 1)
  const problem = ownerNameProblem(owner) ?? functionNameProblem(name)
  if (problem !== undefined) throw new UsageError(problem)
  const runtime = values.runtime ?? 'nodejs'
  if (runtime !== 'nodejs' && runtime !== 'process') {
    throw new UsageError(`--runtime must be nodejs or process, got ${JSON.stringify(runtime)}`)
  }
  const body: Record<string, unknown> = { name, runtime }
  for (const [flag, field] of [
    ['memory', 'memoryMb'],
    ['timeout', 'timeoutMs'],
    ['concurrency', 'concurrency'],
  ] as const) {
    const raw = values[flag]
    if (raw === undefined) continue
    const n = Number(raw)
    if (typeof raw !== 'string' || !Number.isInteger(n) || n <= 0) {
      throw new UsageError(`--${flag} must be a positive integer, got ${JSON.stringify(raw)}`)
    }
    body[field] = n
  }
  if (typeof values.command === 'string') {
    let command: unknown
    try {
      command = JSON.parse(values.command)
    } catch {
      command = undefined
    }
    if (!Array.isArray(command) || !command.every((c) => typeof c === 'string')) {
      throw new UsageError(`--command must be a JSON array of strings, e.g. '["./server"]'`)
    }
    body.command = command
  }
  let info
  try {
    info = await stat(file)
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${messageOf(err)}`)
  }
  if (info.isDirectory()) {
    throw new UsageError(`${file} is a directory: pack it first (tar czf fn.tgz -C ${file} .)`)
  }
  const bytes = await readFile(file)
  if (/\.(tgz|tar\.gz)$/.test(file)) {
    body.codeBase64 = bytes.toString('base64')
  } else {
    body.code = bytes.toString('utf8')
  }
  const path = `/v1/owners/${encodeURIComponent(owner)}/functions`
  const deployed = (await client.post(path, body)) as {
    name: string
    version: number
    digest?: string
  }
  if (json) print(io, deployed)
  else {
    io.stdout(
      formatPairs([
        ['function', `${owner}/${deployed.name}`],
        ['version', String(deployed.version)],
        ['digest', deployed.digest ?? '(none)'],
      ]),
    )
  }
  return EXIT.ok
}

async function status(args: readonly string[], io: CliIo): Promise<number> {
  const { client, json, positionals } = clientArgs('status', args, io, {})
  if (client === undefined) return EXIT.ok
  const id = onePositional(positionals, '<invocation-id>')
  const view = (await client.get(`/v1/invocations/${encodeURIComponent(id)}`)) as InvocationView
  if (json) return print(io, view)
  io.stdout(formatInvocation(view))
  return EXIT.ok
}

function formatInvocation(view: InvocationView): string {
  const pairs: [string, string][] = [
    ['id', view.id],
    ['status', view.status],
  ]
  if (view.peerId !== undefined) pairs.push(['peer', view.peerId])
  if (view.output !== undefined) pairs.push(['output', formatJson(view.output)])
  if (view.error !== undefined) pairs.push(['error', `${view.error.code}: ${view.error.message}`])
  return formatPairs(pairs)
}

/** Short JSON on one line; longer JSON pretty-printed. */
function formatJson(value: unknown): string {
  const compact = JSON.stringify(value) ?? 'undefined'
  return compact.length <= 80 ? compact : JSON.stringify(value, null, 2)
}

function formatAge(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?'
  if (ms === 0) return 'now'
  if (ms < 1_000) return `${Math.round(ms)}ms`
  const s = Math.floor(ms / 1_000)
  if (s < 60) return `${s}s`
  if (s < 3_600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3_600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`
}

function print(io: CliIo, value: unknown): number {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`)
  return EXIT.ok
}

function onePositional(positionals: readonly string[], what: string): string {
  const [first, ...rest] = positionals
  if (first === undefined) throw new UsageError(`missing ${what}`)
  if (rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`)
  return first
}

type FlagSpec = Record<string, { type: 'string' | 'boolean' }>

/**
 * Parses a client command's flags. Prints the command's help and gives no client when
 * `--help` is among them.
 */
function clientArgs(
  name: string,
  args: readonly string[],
  io: CliIo,
  flags: FlagSpec,
): {
  client: PeerClient | undefined
  json: boolean
  values: Record<string, string | boolean | undefined>
  positionals: string[]
} {
  let parsed
  try {
    parsed = parseArgs({
      args: [...args],
      options: {
        ...flags,
        peer: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    })
  } catch (err) {
    throw new UsageError(flagError(err, `chorus ${name} --help`))
  }
  const values = parsed.values as Record<string, string | boolean | undefined>
  const json = values.json === true
  if (values.help === true) {
    io.stdout(COMMANDS[name]?.help() ?? TOP_HELP)
    return { client: undefined, json, values, positionals: parsed.positionals }
  }
  if (
    !(name === 'invoke' || name === 'status' || name === 'deploy') &&
    parsed.positionals.length > 0
  ) {
    throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[0])}`)
  }
  const peer =
    typeof values.peer === 'string' ? values.peer : io.env.CHORUS_PEER || DEFAULT_PEER_URL
  return { client: new PeerClient(peerUrl(peer)), json, values, positionals: parsed.positionals }
}

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

/** Talks to one peer's HTTP API; every failure becomes one clear sentence. */
class PeerClient {
  constructor(readonly url: string) {}

  get(path: string): Promise<unknown> {
    return this.#call('GET', path)
  }

  post(path: string, body: unknown): Promise<unknown> {
    return this.#call('POST', path, body)
  }

  async #call(method: string, path: string, body?: unknown): Promise<unknown> {
    let response: Response
    let text: string
    try {
      response = await fetch(this.url + path, {
        method,
        ...(body === undefined
          ? {}
          : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      })
      text = await response.text()
    } catch (err) {
      throw new Error(
        `cannot reach the peer at ${this.url}: ${networkReason(err)} ` +
          `(is a peer running there? start one with 'chorus start', or point --peer or CHORUS_PEER at one)`,
        { cause: err },
      )
    }
    let answer: unknown
    try {
      answer = JSON.parse(text)
    } catch {
      const type = response.headers.get('content-type') ?? 'no content type'
      throw new Error(
        `${this.url} did not answer like a Chorus peer (HTTP ${response.status}, ${type})`,
      )
    }
    if (!response.ok) {
      const error = (answer as { error?: { code?: unknown; message?: unknown } } | null)?.error
      const message = typeof error?.message === 'string' ? error.message : 'no message'
      const code = typeof error?.code === 'string' ? `${error.code}, ` : ''
      throw new Error(`${message} (${code}HTTP ${response.status} from ${this.url})`)
    }
    return answer
  }
}

function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause
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

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

function isEntryPoint(): boolean {
  const script = process.argv[1]
  if (script === undefined) return false
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url)
  } catch {
    return false
  }
}

if (isEntryPoint()) {
  // Piping into `head` closes stdout early; that is no error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
  })
  main(process.argv.slice(2), {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    env: process.env,
  }).then(
    (code) => {
      process.exitCode = code
    },
    (err: unknown) => {
      process.stderr.write(`chorus: ${messageOf(err)}\n`)
      process.exitCode = EXIT.failed
    },
  )
}
