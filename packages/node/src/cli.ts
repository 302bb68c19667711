#!/usr/bin/env node
/**
 * The `chorus` command: `start` runs a peer; `peers`, `schedulers`, `deploy`, `invoke`,
 * `status` and `choreography` ask a running peer over its HTTP API. `main(argv, io)` is the
 * whole CLI, so tests call it in process; the bottom of this file runs it when this file is
 * the program.
 *
 * Exit codes: 0 done, 1 failed (peer unreachable, an error answer, a failed invocation),
 * 2 usage error (unknown command or flag, bad value).
 */
import './polyfill.js'
import { realpathSync } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { stringify as stringifyYaml } from 'yaml'
import { background } from './background.js'
import {
  MAX_CHOREOGRAPHY_TEXT,
  parseChoreographyText,
  type RunTrace,
  type StepTrace,
} from './choreography/index.js'
import { flagError, parsePeerConfig, PEER_CONFIG_OPTIONS } from './config.js'
import { choreographyNameProblem } from './definitions/definition-op.js'
import { ChorusError } from './errors.js'
import { formatPairs, formatTable } from './cli/format-table.js'
import { functionNameProblem, ownerNameProblem } from './names.js'
import { createLogger } from './observability/logger.js'
import { PackDirectoryError, packDirectory } from './client/pack-directory.js'
import type {
  ChoreographyView,
  DeployedChoreography,
  InvocationView,
  PeerInfo,
  SchedulerInfo,
} from './peer-api.js'
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

/** How the process reports a rejection nobody handled (a bug): tests look for it. */
export const UNHANDLED_REJECTION_MARK = 'chorus: bug: unhandled rejection:'

export const DEFAULT_PEER_URL = 'http://127.0.0.1:7070'

/** Runs the CLI on `argv` (the arguments after `chorus`) and resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv
  if (name === undefined) {
    io.stderr(TOP_HELP)
    return EXIT.usage
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic =
      args[0] !== undefined && Object.hasOwn(COMMANDS, args[0]) ? COMMANDS[args[0]] : undefined
    const sub = args[1] === undefined ? undefined : topic?.subcommandHelp?.(args[1])
    io.stdout(sub ?? topic?.help() ?? TOP_HELP)
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
    return report(io, `chorus ${name}`, err)
  }
}

/** Writes a failure on stderr after `prefix`; its exit code. */
function report(io: CliIo, prefix: string, err: unknown): number {
  io.stderr(`${prefix}: ${err instanceof Error ? err.message : String(err)}\n`)
  return err instanceof UsageError ? EXIT.usage : EXIT.failed
}

/** A mistake in how the command was called: exit code 2. */
class UsageError extends Error {}

interface Command {
  help(): string
  /** The help of a subcommand (`chorus help choreography deploy`), if it has one by that name. */
  subcommandHelp?(name: string): string | undefined
  run(args: readonly string[], io: CliIo): Promise<number>
}

const CLIENT_FLAGS = `  --peer URL   the peer to ask (env CHORUS_PEER, default ${DEFAULT_PEER_URL})
  --json       print the peer's JSON answer instead of a table
  -h, --help   show this help
`

const INVOKE_FLAG_HELP = `  --input JSON             the input, as JSON (default: none)
  --priority 0|1           0 runs first and may preempt 1 (default: the scheduler's, 1)
  --qos latency|cost       latency: the nearest scheduler shard; cost: the least loaded
  --no-wait                answer as soon as the invocation is queued, with its id
  --idempotency-key KEY    retrying with the same key gets the same invocation
`

const INVOKE_FLAGS: FlagSpec = {
  input: { type: 'string' },
  priority: { type: 'string' },
  qos: { type: 'string' },
  'no-wait': { type: 'boolean' },
  'idempotency-key': { type: 'string' },
}

const TOP_HELP = `chorus: run and use a peer of the Chorus scheduler mesh

Usage: chorus <command> [flags]

Commands:
  start         start a peer on this machine, joining a mesh or beginning one
  peers         list the peers a peer knows, and their state
  schedulers    list where the schedulers of the mesh live (--local: one peer's)
  deploy        deploy a function (a .js module or a .tgz bundle) to the mesh
  invoke        invoke a function, and wait for its result
  status        show an invocation's status and result (and a choreography's trace)
  choreography  deploy, list, show, invoke or delete choreographies: functions composed
                in sequence, in parallel, over arrays and on conditions

The client commands (all but start) ask a running peer over HTTP:
${CLIENT_FLAGS}
Examples:
  chorus start
  chorus start --join /ip4/10.0.0.1/tcp/4001/p2p/12D3KooW... --http 0.0.0.0:7070
  chorus peers --peer http://10.0.0.1:7070
  chorus invoke acme/resize --input '{"width": 640}'
  chorus invoke acme/report --no-wait --idempotency-key nightly-2024-06-01
  chorus status 7f3c2a
  chorus choreography deploy acme ./ingest.yaml
  chorus choreography invoke acme/ingest '{"images": ["a.png", "b.png"]}'

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
${INVOKE_FLAG_HELP}${CLIENT_FLAGS}
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
    help: () => `Usage: chorus deploy <owner>/<function> <file-or-dir> [flags]
       chorus deploy <owner>/<function> --url URL [flags]

Deploys a function to the mesh through the asked peer; every peer learns it. Deploying the
same name again makes a new version. <file-or-dir> is the function's code:
  a .js or .mjs file   an ES module whose default export is async (input, context) => output
  a directory          packed into a bundle here (symlinks leading outside it are refused)
  a .tgz file          a bundle: nodejs loads its package.json main or index.js;
                       process runs --command in it
With --url instead, the function is an external HTTP endpoint (provider http): each
invocation is POST URL with { "value": input }, held to the owner's concurrency limit.

Flags:
  --runtime nodejs|process   how the code runs (default: nodejs)
  --command CMD              for runtime process: the executable and its arguments, as a JSON
                             array ('["./server"]'); it serves POST /run on $PORT
  --memory MB                memory of one function host (default: the peer's, 128)
  --timeout MS               how long one invocation may run (default 60000)
  --concurrency N            invocations one host runs at once (default 1)
  --url URL                  an http(s) endpoint that runs it (provider http; no code)
${CLIENT_FLAGS}
Examples:
  chorus deploy acme/resize ./resize.mjs --memory 256 --timeout 10000
  chorus deploy acme/thumbs ./thumbs/ --runtime process --command '["node", "server.mjs"]'
  chorus deploy acme/thumbs ./thumbs.tgz --runtime process --command '["./thumbs"]'
  chorus deploy acme/geocode --url https://geo.example.com/run --timeout 5000
`,
    run: deploy,
  },
  status: {
    help: () => `Usage: chorus status <invocation-id> [flags]

Shows an invocation's status (queued, running, succeeded, failed), where it ran, and its
output or error, wherever in the mesh it lives. For a choreography's invocation it also
shows each step: its status, how long it took (ms) and the peer it ran on.

Flags:
${CLIENT_FLAGS}
Examples:
  chorus status 7f3c2a
  chorus status 7f3c2a --json | jq .output
`,
    run: status,
  },
  choreography: {
    help: choreographyHelp,
    subcommandHelp: (name) =>
      Object.hasOwn(CHOREOGRAPHY_COMMANDS, name) ? CHOREOGRAPHY_COMMANDS[name]?.help() : undefined,
    run: choreography,
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
  // The peer's log lines (JSON) go to stderr through `io`, as its lines did before.
  const stderr = { write: (chunk: string) => io.stderr(chunk) } as unknown as NodeJS.WritableStream
  const peer = await run(config, { log: createLogger({ destination: stderr }) })
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
      const stopped = async (): Promise<number> => {
        try {
          await peer.stop()
          return EXIT.ok
        } catch (err) {
          io.stderr(`chorus start: stopping failed: ${messageOf(err)}\n`)
          return EXIT.failed
        }
      }
      background(
        stopped().then((code) => {
          stopListening()
          resolve(code)
        }),
        (err) => {
          io.stderr(`bug: stopping the peer threw: ${describeBug(err)}\n`)
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
  const { client, json, values, positionals } = clientArgs('invoke', args, io, INVOKE_FLAGS)
  if (client === undefined) return EXIT.ok
  const target = onePositional(positionals, '<owner>/<function>')
  const slash = target.indexOf('/')
  if (slash < 0) throw new UsageError(`expected <owner>/<function>, got ${JSON.stringify(target)}`)
  const owner = target.slice(0, slash)
  const fn = target.slice(slash + 1)
  const problem = ownerNameProblem(owner) ?? functionNameProblem(fn)
  if (problem !== undefined) throw new UsageError(problem)
  const body = invocationBody(values, { text: values.input, what: '--input' })
  const path = `/v1/owners/${encodeURIComponent(owner)}/functions/${fn
    .split('/')
    .map(encodeURIComponent)
    .join('/')}/invocations`
  const view = (await client.post(path, body)) as InvocationView
  return printInvocation(io, view, json, body.wait === true)
}

/** An invocation's body from `chorus invoke`'s flags; `input` is the input's JSON text, if any. */
function invocationBody(
  values: Readonly<Record<string, string | boolean | undefined>>,
  input: { text: string | boolean | undefined; what: string },
): Record<string, unknown> {
  const body: Record<string, unknown> = { wait: values['no-wait'] !== true }
  if (typeof input.text === 'string') {
    try {
      body.input = JSON.parse(input.text) as unknown
    } catch (err) {
      throw new UsageError(
        `${input.what} is not valid JSON (${messageOf(err)}); quote strings: '"text"'`,
      )
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
  return body
}

/** Prints an invocation's answer; exits 1 when it failed. */
function printInvocation(io: CliIo, view: InvocationView, json: boolean, waited: boolean): number {
  if (json) print(io, view)
  else if (!waited) {
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

/** The deploy fields that carry the code in `path`: a module, a bundle, or a directory packed. */
async function codeFields(path: string): Promise<{ code: string } | { codeBase64: string }> {
  let info
  try {
    info = await stat(path)
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${messageOf(err)}`)
  }
  if (info.isDirectory()) {
    try {
      return { codeBase64: Buffer.from(await packDirectory(path)).toString('base64') }
    } catch (err) {
      if (err instanceof PackDirectoryError)
        throw new UsageError(`cannot pack ${path}: ${err.message}`)
      throw err
    }
  }
  const bytes = await readFile(path)
  return /\.(tgz|tar\.gz)$/.test(path)
    ? { codeBase64: bytes.toString('base64') }
    : { code: bytes.toString('utf8') }
}

async function deploy(args: readonly string[], io: CliIo): Promise<number> {
  const { client, json, values, positionals } = clientArgs('deploy', args, io, {
    runtime: { type: 'string' },
    command: { type: 'string' },
    memory: { type: 'string' },
    timeout: { type: 'string' },
    concurrency: { type: 'string' },
    url: { type: 'string' },
  })
  if (client === undefined) return EXIT.ok
  const url = values.url
  const wanted = url === undefined ? 2 : 1
  if (positionals.length !== wanted) {
    throw new UsageError(
      url === undefined
        ? `expected <owner>/<function> <file-or-dir>, got ${positionals.length} argument(s)`
        : `with --url, expected <owner>/<function> only, got ${positionals.length} argument(s)`,
    )
  }
  const [target = '', file = ''] = positionals
  const slash = target.indexOf('/')
  if (slash < 0) throw new UsageError(`expected <owner>/<function>, got ${JSON.stringify(target)}`)
  const owner = target.slice(0, slash)
  const name = target.slice(slash + 1)
  const problem = ownerNameProblem(owner) ?? functionNameProblem(name)
  if (problem !== undefined) throw new UsageError(problem)
  const runtime = values.runtime ?? (url === undefined ? 'nodejs' : undefined)
  if (runtime !== undefined && runtime !== 'nodejs' && runtime !== 'process') {
    throw new UsageError(`--runtime must be nodejs or process, got ${JSON.stringify(runtime)}`)
  }
  const body: Record<string, unknown> = { name, ...(runtime === undefined ? {} : { runtime }) }
  if (url !== undefined) {
    if (values.command !== undefined) throw new UsageError('--url takes no --command')
    body.provider = 'http'
    body.url = url
  }
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
  if (url === undefined) Object.assign(body, await codeFields(file))
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

function choreographyHelp(): string {
  return `Usage: chorus choreography <subcommand> [arguments] [flags]

Manages an owner's choreographies: its functions composed into one invocable unit, with
steps that run in sequence, in parallel, over every item of an array, or on a condition.
A choreography is deployed once at any peer and every peer learns it.

Subcommands:
  deploy <owner> <file>                deploy the choreography in a YAML or JSON file
  list <owner>                         list the owner's choreographies
  show <owner>/<name>                  print a choreography (YAML; the peer's JSON with --json)
  invoke <owner>/<name> [input-json]   invoke it, wait, and print its output and step trace
  delete <owner>/<name>                delete it

Flags:
${CLIENT_FLAGS}
Examples:
  chorus choreography deploy acme ./ingest.yaml
  chorus choreography list acme
  chorus choreography show acme/ingest > ingest.yaml
  chorus choreography invoke acme/ingest '{"images": ["a.png", "b.png"]}'
  chorus choreography delete acme/ingest

Run 'chorus choreography <subcommand> --help' for a subcommand's flags.
`
}

const CHOREOGRAPHY_COMMANDS: Readonly<Record<string, Command>> = {
  deploy: {
    help: () => `Usage: chorus choreography deploy <owner> <file> [--name NAME] [flags]

Deploys the choreography in <file> for <owner> through the asked peer; every peer learns it.
Deploying the same name again makes a new version. The file holds { name, definition } in
YAML or JSON; the peer checks the definition (its functions must be deployed already) and
lists every problem, one per line, as the definition path and what is wrong there.

  name: ingest
  definition:
    sequence:
      - { function: classify, retries: 2, timeoutMs: 5000 }
      - map: { function: resize }
        items: $.images
        maxConcurrency: 8

Flags:
  --name NAME  deploy under this name instead of the file's
${CLIENT_FLAGS}
A choreography name is 1 to 128 letters, digits, '.', '_' and '-' (no '/').

Examples:
  chorus choreography deploy acme ./ingest.yaml
  chorus choreography deploy acme ./ingest.json --name ingest-canary --json
`,
    run: choreographyDeploy,
  },
  list: {
    help: () => `Usage: chorus choreography list <owner> [flags]

Lists the owner's choreographies: name, version, revision and when it was deployed.

Flags:
${CLIENT_FLAGS}
Examples:
  chorus choreography list acme
  chorus choreography list acme --json | jq '.choreographies[].name'
`,
    run: choreographyList,
  },
  show: {
    help: () => `Usage: chorus choreography show <owner>/<name> [flags]

Prints a choreography as YAML: a comment with its version, revision and deploy time, then
{ name, definition }, ready to edit and deploy again. With --json it prints the peer's
answer (owner, name, version, revision, deployedAt and definition).

Flags:
${CLIENT_FLAGS}
Examples:
  chorus choreography show acme/ingest
  chorus choreography show acme/ingest > ingest.yaml && chorus choreography deploy acme ingest.yaml
  chorus choreography show acme/ingest --json | jq .definition
`,
    run: choreographyShow,
  },
  invoke: {
    help: () => `Usage: chorus choreography invoke <owner>/<name> [input-json] [flags]

Invokes a choreography through the asked peer and, unless --no-wait, waits for it to end,
then prints its status, output or error, and one line per step: its name (or its path in
the definition), status, duration in ms and the peer its function last ran on. The input is
the argument after the name, or --input. Exits 1 if the invocation failed.

Flags:
${INVOKE_FLAG_HELP}${CLIENT_FLAGS}
Examples:
  chorus choreography invoke acme/ingest '{"images": ["a.png", "b.png"]}'
  chorus choreography invoke acme/ingest --input '{"images": []}' --priority 0 --json
  chorus choreography invoke acme/nightly --no-wait --idempotency-key nightly-2024-06-01
`,
    run: choreographyInvoke,
  },
  delete: {
    help: () => `Usage: chorus choreography delete <owner>/<name> [flags]

Deletes a choreography; every peer forgets it. Deploying the name again starts a new version.

Flags:
${CLIENT_FLAGS}
Examples:
  chorus choreography delete acme/ingest
`,
    run: choreographyDelete,
  },
}

async function choreography(args: readonly string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args
  if (sub === undefined) {
    io.stderr(choreographyHelp())
    return EXIT.usage
  }
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    const topic =
      rest[0] !== undefined && Object.hasOwn(CHOREOGRAPHY_COMMANDS, rest[0])
        ? CHOREOGRAPHY_COMMANDS[rest[0]]
        : undefined
    io.stdout(topic?.help() ?? choreographyHelp())
    return EXIT.ok
  }
  const command = Object.hasOwn(CHOREOGRAPHY_COMMANDS, sub) ? CHOREOGRAPHY_COMMANDS[sub] : undefined
  if (command === undefined) {
    const known = Object.keys(CHOREOGRAPHY_COMMANDS).join(', ')
    throw new UsageError(
      `unknown subcommand ${JSON.stringify(sub)} (subcommands: ${known}; ` +
        `see chorus choreography --help)`,
    )
  }
  try {
    return await command.run(rest, io)
  } catch (err) {
    return report(io, `chorus choreography ${sub}`, err)
  }
}

async function choreographyDeploy(args: readonly string[], io: CliIo): Promise<number> {
  const { client, json, values, positionals } = clientArgs('choreography deploy', args, io, {
    name: { type: 'string' },
  })
  if (client === undefined) return EXIT.ok
  if (positionals.length !== 2) {
    throw new UsageError(`expected <owner> <file>, got ${positionals.length} argument(s)`)
  }
  const [owner = '', file = ''] = positionals
  if (owner.includes('/')) {
    throw new UsageError(
      `expected <owner> <file>, got ${JSON.stringify(owner)}: the name comes from the file, ` +
        `or from --name`,
    )
  }
  const ownerProblem = ownerNameProblem(owner)
  if (ownerProblem !== undefined) throw new UsageError(ownerProblem)
  const override = typeof values.name === 'string' ? values.name : undefined
  const overrideProblem = override === undefined ? undefined : choreographyNameProblem(override)
  if (overrideProblem !== undefined) throw new UsageError(`--name: ${overrideProblem}`)
  const text = await readTextFile(file)
  let parsed: unknown
  try {
    parsed = parseChoreographyText(text)
  } catch (err) {
    throw new Error(`${file}: ${messageOf(err)}`, { cause: err })
  }
  const body = choreographyFileBody(file, parsed, override)
  let deployed: DeployedChoreography
  try {
    deployed = (await client.post(
      `/v1/owners/${encodeURIComponent(owner)}/choreographies`,
      body,
    )) as DeployedChoreography
  } catch (err) {
    const problems = err instanceof PeerAnswerError ? err.problems() : []
    if (!(err instanceof PeerAnswerError) || problems.length === 0) throw err
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`
    throw new Error(
      `${file}: choreography ${body.name} is not valid, ${count} ` +
        `(${err.code ?? 'no code'}, HTTP ${err.status} from ${client.url}):\n` +
        problems.map((p) => `  ${p}`).join('\n'),
      { cause: err },
    )
  }
  if (json) return print(io, deployed)
  io.stdout(
    formatPairs([
      ['choreography', `${owner}/${deployed.name}`],
      ['version', String(deployed.version)],
      ['revision', deployed.revision],
    ]),
  )
  return EXIT.ok
}

/** A choreography file's text: read whole, as UTF-8. Problems reaching it are usage errors. */
async function readTextFile(file: string): Promise<string> {
  let info
  try {
    info = await stat(file)
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${messageOf(err)}`)
  }
  if (info.isDirectory()) throw new UsageError(`${file} is a directory, not a choreography file`)
  // A character takes at most 4 bytes: a larger file is too long for sure.
  if (info.size > 4 * MAX_CHOREOGRAPHY_TEXT) {
    throw new Error(
      `${file} is too large: a choreography has at most ${MAX_CHOREOGRAPHY_TEXT} characters`,
    )
  }
  const bytes = await readFile(file)
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new Error(`${file} is not UTF-8 text`)
  }
}

/** The deploy body from a parsed file: `{ name, definition }`, the name overridden by --name. */
function choreographyFileBody(
  file: string,
  parsed: unknown,
  override: string | undefined,
): { name: string; definition: unknown } {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${file} must hold an object with "name" and "definition"`)
  }
  const fields = parsed as Record<string, unknown>
  for (const key of Object.keys(fields)) {
    if (key !== 'name' && key !== 'definition') {
      throw new Error(
        `${file}: unknown field ${JSON.stringify(key)}: a choreography has "name" and "definition"`,
      )
    }
  }
  const name = override ?? fields.name
  if (name === undefined) throw new Error(`${file} has no "name": add one, or give --name`)
  if (typeof name !== 'string') throw new Error(`${file}: "name" must be a string`)
  const problem = choreographyNameProblem(name)
  if (problem !== undefined) throw new Error(`${file}: ${problem}`)
  if (!Object.hasOwn(fields, 'definition')) {
    throw new Error(`${file} has no "definition" (the choreography's root step)`)
  }
  return { name, definition: fields.definition }
}

async function choreographyList(args: readonly string[], io: CliIo): Promise<number> {
  const { client, json, positionals } = clientArgs('choreography list', args, io, {})
  if (client === undefined) return EXIT.ok
  const owner = onePositional(positionals, '<owner>')
  const problem = ownerNameProblem(owner)
  if (problem !== undefined) throw new UsageError(problem)
  const answer = (await client.get(`/v1/owners/${encodeURIComponent(owner)}/choreographies`)) as {
    choreographies: ChoreographyView[]
  }
  if (json) return print(io, answer)
  if (answer.choreographies.length === 0) {
    io.stdout(`no choreographies for ${owner}\n`)
    return EXIT.ok
  }
  const rows = [...answer.choreographies]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((c) => [c.name, String(c.version), c.revision, formatTime(c.deployedAt)])
  io.stdout(formatTable(['NAME', 'VERSION', 'REVISION', 'DEPLOYED'], rows, ['left', 'right']))
  return EXIT.ok
}

async function choreographyShow(args: readonly string[], io: CliIo): Promise<number> {
  const { client, json, positionals } = clientArgs('choreography show', args, io, {})
  if (client === undefined) return EXIT.ok
  const { owner, name } = choreographyTarget(onePositional(positionals, '<owner>/<name>'))
  const view = (await client.get(choreographyPath(owner, name))) as ChoreographyView
  if (json) return print(io, view)
  io.stdout(
    `# ${owner}/${view.name}: version ${view.version}, revision ${view.revision}, ` +
      `deployed ${formatTime(view.deployedAt)}\n` +
      stringifyYaml(
        { name: view.name, definition: view.definition },
        { aliasDuplicateObjects: false, lineWidth: 0 },
      ),
  )
  return EXIT.ok
}

async function choreographyInvoke(args: readonly string[], io: CliIo): Promise<number> {
  const { client, json, values, positionals } = clientArgs(
    'choreography invoke',
    args,
    io,
    INVOKE_FLAGS,
  )
  if (client === undefined) return EXIT.ok
  const [target, input, ...extra] = positionals
  if (target === undefined) throw new UsageError('missing <owner>/<name>')
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`)
  if (input !== undefined && values.input !== undefined) {
    throw new UsageError('give the input as an argument or with --input, not both')
  }
  const { owner, name } = choreographyTarget(target)
  const body = invocationBody(
    values,
    input === undefined
      ? { text: values.input, what: '--input' }
      : { text: input, what: 'the input' },
  )
  const view = (await client.post(
    `${choreographyPath(owner, name)}/invocations`,
    body,
  )) as InvocationView
  return printInvocation(io, view, json, body.wait === true)
}

async function choreographyDelete(args: readonly string[], io: CliIo): Promise<number> {
  const { client, json, positionals } = clientArgs('choreography delete', args, io, {})
  if (client === undefined) return EXIT.ok
  const { owner, name } = choreographyTarget(onePositional(positionals, '<owner>/<name>'))
  const deleted = (await client.delete(choreographyPath(owner, name))) as {
    name: string
    version: number
  }
  if (json) return print(io, deleted)
  io.stdout(`deleted choreography ${owner}/${deleted.name} (version ${deleted.version})\n`)
  return EXIT.ok
}

/** `<owner>/<name>`, both checked. */
function choreographyTarget(target: string): { owner: string; name: string } {
  const slash = target.indexOf('/')
  if (slash < 0) throw new UsageError(`expected <owner>/<name>, got ${JSON.stringify(target)}`)
  const owner = target.slice(0, slash)
  const name = target.slice(slash + 1)
  const problem = ownerNameProblem(owner) ?? choreographyNameProblem(name)
  if (problem !== undefined) throw new UsageError(problem)
  return { owner, name }
}

function choreographyPath(owner: string, name: string): string {
  return `/v1/owners/${encodeURIComponent(owner)}/choreographies/${encodeURIComponent(name)}`
}

function formatTime(ms: number): string {
  const time = new Date(ms)
  return Number.isNaN(time.getTime()) ? '?' : time.toISOString()
}

function formatInvocation(view: InvocationView): string {
  const pairs: [string, string][] = [
    ['id', view.id],
    ['status', view.status],
  ]
  if (view.peerId !== undefined) pairs.push(['peer', view.peerId])
  if (view.output !== undefined) pairs.push(['output', formatJson(view.output)])
  if (view.error !== undefined) pairs.push(['error', `${view.error.code}: ${view.error.message}`])
  const trace = isTrace(view.trace) ? `\n${formatTrace(view.trace)}` : ''
  return formatPairs(pairs) + trace
}

function isTrace(value: unknown): value is RunTrace {
  return typeof value === 'object' && value !== null && isStep((value as RunTrace).root)
}

function isStep(value: unknown): value is StepTrace {
  return (
    typeof value === 'object' && value !== null && typeof (value as StepTrace).path === 'string'
  )
}

/**
 * A run's steps, one line each, depth first: the step's name, else its path (relative to its
 * parent's, indented under it), its status, how long it took and the peer its task last ran on.
 */
function formatTrace(trace: RunTrace): string {
  const rows: string[][] = []
  const visit = (step: StepTrace, parent: StepTrace | undefined, depth: number): void => {
    const relative =
      parent !== undefined && step.path.startsWith(`${parent.path}/`)
        ? step.path.slice(parent.path.length + 1)
        : step.path
    let label = step.name ?? relative
    const target = step.fn ?? step.choreography
    if (target !== undefined && target !== step.name) label += ` (${target})`
    const notes: string[] = []
    if (step.attempts > 1) notes.push(`${step.attempts} attempts`)
    if (step.status === 'failed' && step.error !== undefined) notes.push(step.error.code)
    const ms =
      typeof step.startedAt === 'number' && typeof step.endedAt === 'number'
        ? String(step.endedAt - step.startedAt)
        : ''
    const peer = step.tasks?.at(-1)?.peerId
    rows.push([
      `${'  '.repeat(depth)}${label}`,
      notes.length === 0 ? step.status : `${step.status} (${notes.join(', ')})`,
      ms,
      peer === undefined ? '' : shortPeerId(peer),
    ])
    for (const child of step.children ?? []) {
      if (isStep(child)) visit(child, step, depth + 1)
    }
  }
  visit(trace.root, undefined, 0)
  return formatTable(['STEP', 'STATUS', 'MS', 'PEER'], rows, ['left', 'left', 'right'])
}

/** `12D3…x7Q9ab`: enough of a peer id to tell peers apart in a trace. */
function shortPeerId(id: string): string {
  return id.length <= 16 ? id : `${id.slice(0, 4)}…${id.slice(-6)}`
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
    const [command = '', sub] = name.split(' ')
    const help = sub === undefined ? undefined : COMMANDS[command]?.subcommandHelp?.(sub)
    io.stdout(help ?? COMMANDS[command]?.help() ?? TOP_HELP)
    return { client: undefined, json, values, positionals: parsed.positionals }
  }
  const takesArguments =
    name === 'invoke' || name === 'status' || name === 'deploy' || name.startsWith('choreography ')
  if (!takesArguments && parsed.positionals.length > 0) {
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

/** An error answer from a peer: its message, with the code, status and details it carried. */
class PeerAnswerError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
    readonly details: unknown,
  ) {
    super(message)
    this.name = 'PeerAnswerError'
  }

  /** `path: message` for each entry of `details.errors` (an invalid definition's problems). */
  problems(): string[] {
    const errors = (this.details as { errors?: unknown } | null | undefined)?.errors
    if (!Array.isArray(errors)) return []
    return errors.flatMap((entry: unknown) => {
      const { path, message } = (entry ?? {}) as { path?: unknown; message?: unknown }
      if (typeof message !== 'string') return []
      return [`${typeof path === 'string' && path !== '' ? path : '(root)'}: ${message}`]
    })
  }
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

  delete(path: string): Promise<unknown> {
    return this.#call('DELETE', path)
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
      const error = (
        answer as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null
      )?.error
      const message = typeof error?.message === 'string' ? error.message : 'no message'
      const code = typeof error?.code === 'string' ? error.code : undefined
      throw new PeerAnswerError(
        `${message} (${code === undefined ? '' : `${code}, `}HTTP ${response.status} from ${this.url})`,
        response.status,
        code,
        error?.details,
      )
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

function describeBug(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err)
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
  // Every rejection should have been handled where it happened: one that was not is a bug
  // in this program, reported with its stack (tests fail on this line), not a reason to
  // take the peer down with everything it runs for others.
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(`${UNHANDLED_REJECTION_MARK} ${describeBug(reason)}\n`)
  })
  // Piping into `head` closes stdout early; that is no error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
  })
  main(process.argv.slice(2), {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    env: process.env,
  })
    .then((code) => {
      process.exitCode = code
    })
    .catch((err: unknown) => {
      process.stderr.write(`chorus: ${messageOf(err)}\n`)
      process.exitCode = EXIT.failed
    })
}
