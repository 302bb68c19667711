/** `chorus deploy`: deploys a function (code from a path, or an HTTP endpoint) to the mesh. */
import {
  BUNDLE_EXTENSIONS,
  MODULE_EXTENSIONS,
  type DeployOptions,
  type FunctionSource,
} from '../../client/index.js'
import { functionTarget } from '../arguments.js'
import type { Command } from '../command.js'
import { formatPairs } from '../format-table.js'
import { EXIT, printJson, UsageError, type CliIo } from '../io.js'
import { CLIENT_FLAGS_HELP, parseClientArgs } from '../peer-session.js'

/** `  a .js or .mjs file`, padded to the column where what it holds is said. */
const kind = (extensions: readonly string[], what: string): string =>
  `  a ${extensions.join(' or ')} file`.padEnd(26) + what

export const deploy: Command = {
  help: () => `Usage: chorus deploy <owner>/<function> <file-or-dir> [flags]
       chorus deploy <owner>/<function> --url URL [flags]

Deploys a function to the mesh through the asked peer; every peer learns it. Deploying the
same name again makes a new version. <file-or-dir> is the function's code:
${kind(MODULE_EXTENSIONS, 'an ES module whose default export is async (input, context) => output')}
  a directory             packed into a bundle here (symlinks leading outside it are refused)
${kind(BUNDLE_EXTENSIONS, 'a bundle: nodejs loads its package.json main or index.js;')}
                          process runs --command in it
Any other file is refused. With --url instead, the function is an external HTTP endpoint
(provider http): each invocation is POST URL with { "value": input }, held to the owner's
concurrency limit.

Flags:
  --runtime nodejs|process   how the code runs (default: nodejs)
  --command CMD              for runtime process: the executable and its arguments, as a JSON
                             array ('["./server"]'); it serves POST /run on $PORT
  --memory MB                memory of one function host (default: the peer's, 128)
  --timeout MS               how long one invocation may run (default 60000)
  --concurrency N            invocations one host runs at once (default 1)
  --batch N                  dispatch up to N invocations together to one host, each on a
                             slot of its own (1 to 1000, at most --concurrency; default: each
                             goes alone)
  --batch-wait MS            how long the oldest queued one waits for a batch to fill before
                             it leaves smaller (0 to 60000, default 10); needs --batch
  --url URL                  an http(s) endpoint that runs it (provider http; no code)
${CLIENT_FLAGS_HELP}
Examples:
  chorus deploy acme/resize ./resize.mjs --memory 256 --timeout 10000
  chorus deploy acme/thumbs ./thumbs/ --runtime process --command '["node", "server.mjs"]'
  chorus deploy acme/thumbs ./thumbs.tgz --runtime process --command '["./thumbs"]'
  chorus deploy acme/geocode --url https://geo.example.com/run --timeout 5000
  chorus deploy acme/score ./score.mjs --concurrency 16 --batch 16 --batch-wait 20
`,
  run,
}

const FLAGS = {
  runtime: { type: 'string' },
  command: { type: 'string' },
  memory: { type: 'string' },
  timeout: { type: 'string' },
  concurrency: { type: 'string' },
  batch: { type: 'string' },
  'batch-wait': { type: 'string' },
  url: { type: 'string' },
} as const

async function run(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseClientArgs(args, io, {
    name: 'deploy',
    help: deploy.help,
    flags: FLAGS,
    takesArguments: true,
  })
  if (parsed === undefined) return EXIT.ok
  const { values, positionals } = parsed
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
  const { owner, name } = functionTarget(target)
  const runtime = values.runtime ?? (url === undefined ? 'nodejs' : undefined)
  if (runtime !== undefined && runtime !== 'nodejs' && runtime !== 'process') {
    throw new UsageError(`--runtime must be nodejs or process, got ${JSON.stringify(runtime)}`)
  }
  if (url !== undefined && values.command !== undefined) {
    throw new UsageError('--url takes no --command')
  }
  const options: DeployOptions = {
    ...(runtime === undefined ? {} : { runtime }),
    ...positiveInteger('memory', values.memory, 'memoryMb'),
    ...positiveInteger('timeout', values.timeout, 'timeoutMs'),
    ...positiveInteger('concurrency', values.concurrency, 'concurrency'),
    ...(values.command === undefined ? {} : { command: commandArray(values.command) }),
    ...batchOption(values.batch, values['batch-wait']),
  }
  // The SDK reads the path: what a path may be is its rule (`codeFileKind`), not ours.
  const source: FunctionSource = url === undefined ? file : { url }
  const deployed = await parsed.peer.ask((client) =>
    client.forOwner(owner).deploy(name, source, options),
  )
  if (parsed.json) return printJson(io, deployed)
  io.stdout(
    formatPairs([
      ['function', `${owner}/${deployed.name}`],
      ['version', String(deployed.version)],
      ['digest', deployed.digest ?? '(none)'],
    ]),
  )
  return EXIT.ok
}

/** `{ [field]: n }` for a flag given as a positive integer, `{}` for one not given. */
function positiveInteger<F extends string>(
  flag: string,
  raw: string | undefined,
  field: F,
): Partial<Record<F, number>> {
  if (raw === undefined) return {}
  const n = Number(raw)
  if (!Number.isInteger(n) || n <= 0) {
    throw new UsageError(`--${flag} must be a positive integer, got ${JSON.stringify(raw)}`)
  }
  return { [field]: n } as Partial<Record<F, number>>
}

/** `{ batch }` from --batch and --batch-wait; the peer holds them to their bounds. */
function batchOption(
  size: string | undefined,
  wait: string | undefined,
): Pick<DeployOptions, 'batch'> {
  if (size === undefined) {
    if (wait !== undefined) throw new UsageError('--batch-wait needs --batch')
    return {}
  }
  const { n } = positiveInteger('batch', size, 'n')
  let waitMs: number | undefined
  if (wait !== undefined) {
    waitMs = Number(wait)
    if (wait.trim() === '' || !Number.isInteger(waitMs) || waitMs < 0) {
      throw new UsageError(`--batch-wait must be a whole number of ms, got ${JSON.stringify(wait)}`)
    }
  }
  return { batch: { size: n as number, ...(waitMs === undefined ? {} : { waitMs }) } }
}

function commandArray(text: string): string[] {
  let command: unknown
  try {
    command = JSON.parse(text)
  } catch {
    command = undefined
  }
  if (!Array.isArray(command) || !command.every((c) => typeof c === 'string')) {
    throw new UsageError(`--command must be a JSON array of strings, e.g. '["./server"]'`)
  }
  return command
}
