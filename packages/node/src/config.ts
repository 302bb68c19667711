/**
 * A peer's configuration, from `chorus start`'s flags, `CHORUS_*` environment variables and
 * a config file (JSON or YAML, named by `--config` or `CHORUS_CONFIG`): a flag wins over its
 * variable, a variable over the file, the file over the default. One zod schema,
 * `peerSettingsSchema`, checks every value whatever its source; its keys are the file's keys,
 * each the long flag's name in camelCase (`--worker-memory` is `workerMemory`), and the type
 * of the table of flags is derived from them, so a setting cannot lack its flag or variable.
 *
 * Parsing is pure (it reads no file and no `process`): tests pass `argv`, `env` and the
 * file's text in; `readPeerConfigFile` is the one function here that reads.
 *
 * ```ts
 * parsePeerConfig(['--owner-limit', '8'], { CHORUS_HTTP: '0.0.0.0:7070' }, {
 *   file: { path: 'peer.yaml', text: 'ownerLimit: 4\nplacement: openwhisk\n' },
 * })
 * // { ownerLimit: 8, http: { host: '0.0.0.0', port: 7070 }, placement: 'openwhisk', … }
 * ```
 */
import { readFile } from 'node:fs/promises'
import { parseDocument } from 'yaml'
import { z } from 'zod'
import { parseFlags, quote } from './cli/flags.js'
import { ChorusError } from './errors.js'
import { LOG_LEVELS, type LogLevel } from './observability/logger.js'

export const PLACEMENTS = ['warm-bounded', 'openwhisk'] as const
export type PlacementName = (typeof PLACEMENTS)[number]
export const LOG_FORMATS = ['json', 'pretty'] as const
export type LogFormat = (typeof LOG_FORMATS)[number]

export interface PeerConfig {
  /** Where the peer keeps its identity and state. */
  readonly dataDir: string
  /** libp2p multiaddrs to listen on. */
  readonly listen: readonly string[]
  /** Multiaddrs of peers to join the mesh through; none starts a mesh of one. */
  readonly join: readonly string[]
  /** Where the HTTP API listens; port 0 picks a free port. */
  readonly http: { readonly host: string; readonly port: number }
  /** Memory this peer's worker host offers to function hosts, in MiB. */
  readonly workerMemoryMb: number
  /** File holding the mesh's pre-shared key (libp2p private network); none means an open mesh. */
  readonly pskFile?: string
  /** A scheduler that sees no invocation for this long is deallocated, in milliseconds. */
  readonly schedulerIdleMs: number
  /** A function host that runs nothing for this long is stopped (reaped), in milliseconds. */
  readonly hostIdleMs: number
  /** How many invocations of one owner may run at once on one provider. */
  readonly ownerLimit: number
  /** How a scheduler places invocations onto worker hosts. */
  readonly placement: PlacementName
  /** The least severe log lines written. */
  readonly logLevel: LogLevel
  /** `json`: one JSON object a line; `pretty`: for people at a terminal. */
  readonly logFormat: LogFormat
}

/**
 * Every setting's default. `logFormat`'s is `json` here; `chorus start` makes it `pretty`
 * when stderr is a terminal (`PeerConfigSources.stderrIsTTY`).
 */
export const PEER_CONFIG_DEFAULTS = {
  dataDir: './.chorus',
  listen: ['/ip4/127.0.0.1/tcp/0'],
  join: [],
  http: { host: '127.0.0.1', port: 7070 },
  workerMemoryMb: 2048,
  schedulerIdleMs: 10 * 60_000,
  hostIdleMs: 10 * 60_000,
  ownerLimit: 64,
  placement: 'warm-bounded',
  logLevel: 'info',
  logFormat: 'json',
} as const satisfies Omit<PeerConfig, 'pskFile'>

// ---------------------------------------------------------------------------------------
// The schema: one entry per setting, keyed by its name in the config file.

/** What is wrong with a value, as the words after its source: `must be …`, `port must be …`. */
class SettingProblem extends Error {}

/** A zod step that runs `read`, turning its `SettingProblem` into an issue. */
function reading<I, O>(read: (input: I) => O) {
  return (input: I, ctx: z.RefinementCtx): O => {
    try {
      return read(input)
    } catch (err) {
      if (!(err instanceof SettingProblem)) throw err
      ctx.addIssue({ code: 'custom', message: err.message, input })
      return z.NEVER
    }
  }
}

/** A non-blank string (a flag's or variable's value, or a string in the file). */
const text = z
  .string({ error: (issue) => `must be a string, got ${shown(issue.input)}` })
  .refine((value) => value.trim() !== '', { error: 'must not be empty', abort: true })

/** Text, or in a file also a number: `ownerLimit: 8`, `schedulerIdle: 30000`. */
function textOrNumber(what: string) {
  return z
    .union([z.string(), z.number()], {
      error: (issue) => `must be ${what}, got ${shown(issue.input)}`,
    })
    .transform(String)
    .pipe(text)
}

const wholeNumber = textOrNumber('a positive whole number').transform(
  reading((value: string) => {
    const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN
    if (!Number.isSafeInteger(n) || n < 1) {
      throw new SettingProblem(`must be a positive whole number, got ${quote(value)}`)
    }
    return n
  }),
)

const duration = textOrNumber('a duration like 600000, 30s, 10m or 1h').transform(
  reading(readDuration),
)

const hostPort = text.transform(reading(readHostPort))

/** Multiaddrs: a comma-separated string, or a list (of such strings). */
const multiaddrs = z
  .union([z.string(), z.array(z.string())], {
    error: (issue) => `must be a multiaddr or a list of them, got ${shown(issue.input)}`,
  })
  .transform(
    reading((value: string | string[]) => {
      const addrs = (typeof value === 'string' ? [value] : value).flatMap(splitList)
      if (addrs.length === 0) throw new SettingProblem('needs at least one multiaddr')
      for (const addr of addrs) {
        const problem = multiaddrProblem(addr)
        if (problem !== undefined) throw new SettingProblem(problem)
      }
      return addrs
    }),
  )

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return text.pipe(
    z.enum(values, { error: (issue) => `must be ${orList(values)}, got ${shown(issue.input)}` }),
  )
}

/**
 * Every setting of a peer, by its key in a config file: the long flag's name in camelCase.
 * Flags and variables give text; a file gives text, or a number or a list where one fits.
 */
export const peerSettingsSchema = z.strictObject({
  dataDir: text.default(PEER_CONFIG_DEFAULTS.dataDir),
  listen: multiaddrs.default(() => [...PEER_CONFIG_DEFAULTS.listen]),
  join: multiaddrs.default(() => []),
  http: hostPort.default(() => ({ ...PEER_CONFIG_DEFAULTS.http })),
  workerMemory: wholeNumber.default(PEER_CONFIG_DEFAULTS.workerMemoryMb),
  psk: text.optional(),
  schedulerIdle: duration.default(PEER_CONFIG_DEFAULTS.schedulerIdleMs),
  hostIdle: duration.default(PEER_CONFIG_DEFAULTS.hostIdleMs),
  ownerLimit: wholeNumber.default(PEER_CONFIG_DEFAULTS.ownerLimit),
  placement: oneOf(PLACEMENTS).default(PEER_CONFIG_DEFAULTS.placement),
  logLevel: oneOf(LOG_LEVELS).default(PEER_CONFIG_DEFAULTS.logLevel),
  logFormat: oneOf(LOG_FORMATS).optional(),
})

export type PeerSettings = z.output<typeof peerSettingsSchema>
export type PeerSettingKey = keyof PeerSettings

// ---------------------------------------------------------------------------------------
// The flags and variables, one per setting: their names follow from the keys.

/** `workerMemory` → `worker-memory` (with `-`) or `worker_memory` (with `_`). */
type Separated<S extends string, Sep extends string> = S extends `${infer C}${infer Rest}`
  ? `${C extends Lowercase<C> ? C : `${Sep}${Lowercase<C>}`}${Separated<Rest, Sep>}`
  : ''

/** One setting: its flag, its environment variable, and what `chorus start --help` says of it. */
export interface PeerConfigOption {
  /** Its key in a config file. */
  readonly key: PeerSettingKey
  readonly flag: string
  readonly env: string
  readonly value: string
  readonly description: string
  readonly default: string
  readonly repeatable?: boolean
}

type OptionOf<K extends PeerSettingKey> = Omit<PeerConfigOption, 'key' | 'flag' | 'env'> & {
  readonly flag: Separated<K, '-'>
  readonly env: `CHORUS_${Uppercase<Separated<K, '_'>>}`
}

const OPTIONS: { readonly [K in PeerSettingKey]: OptionOf<K> } = {
  dataDir: {
    flag: 'data-dir',
    env: 'CHORUS_DATA_DIR',
    value: 'DIR',
    description: 'where the peer keeps its identity and state',
    default: PEER_CONFIG_DEFAULTS.dataDir,
  },
  listen: {
    flag: 'listen',
    env: 'CHORUS_LISTEN',
    value: 'MULTIADDR',
    description: 'libp2p address to listen on (repeatable)',
    default: PEER_CONFIG_DEFAULTS.listen.join(','),
    repeatable: true,
  },
  join: {
    flag: 'join',
    env: 'CHORUS_JOIN',
    value: 'MULTIADDR',
    description: 'address of a peer to join the mesh through (repeatable)',
    default: 'none: start a new mesh',
    repeatable: true,
  },
  http: {
    flag: 'http',
    env: 'CHORUS_HTTP',
    value: 'HOST:PORT',
    description: 'where the HTTP API listens; port 0 picks a free port',
    default: `${PEER_CONFIG_DEFAULTS.http.host}:${PEER_CONFIG_DEFAULTS.http.port}`,
  },
  workerMemory: {
    flag: 'worker-memory',
    env: 'CHORUS_WORKER_MEMORY',
    value: 'MIB',
    description: 'memory this peer offers to function hosts, in MiB',
    default: String(PEER_CONFIG_DEFAULTS.workerMemoryMb),
  },
  psk: {
    flag: 'psk',
    env: 'CHORUS_PSK',
    value: 'FILE',
    description: 'pre-shared key file: only peers with the same key can connect',
    default: 'none: an open mesh',
  },
  schedulerIdle: {
    flag: 'scheduler-idle',
    env: 'CHORUS_SCHEDULER_IDLE',
    value: 'DURATION',
    description: 'free a scheduler idle this long: 600000 (ms), 500ms, 30s, 10m, 1h',
    default: '10m',
  },
  hostIdle: {
    flag: 'host-idle',
    env: 'CHORUS_HOST_IDLE',
    value: 'DURATION',
    description: 'stop a function host idle this long: 600000 (ms), 500ms, 30s, 10m, 1h',
    default: '10m',
  },
  ownerLimit: {
    flag: 'owner-limit',
    env: 'CHORUS_OWNER_LIMIT',
    value: 'N',
    description: "an owner's concurrent invocations per provider",
    default: String(PEER_CONFIG_DEFAULTS.ownerLimit),
  },
  placement: {
    flag: 'placement',
    env: 'CHORUS_PLACEMENT',
    value: 'POLICY',
    description: `how schedulers place work on workers: ${PLACEMENTS.join(' or ')}`,
    default: PEER_CONFIG_DEFAULTS.placement,
  },
  logLevel: {
    flag: 'log-level',
    env: 'CHORUS_LOG_LEVEL',
    value: 'LEVEL',
    description: `least severe lines logged: ${LOG_LEVELS.join('|')}`,
    default: PEER_CONFIG_DEFAULTS.logLevel,
  },
  logFormat: {
    flag: 'log-format',
    env: 'CHORUS_LOG_FORMAT',
    value: 'FORMAT',
    description: 'log lines on stderr: json (one JSON object a line) or pretty',
    default: 'pretty on a terminal, else json',
  },
}

/** Every setting, in the order `chorus start --help` lists them. */
export const PEER_CONFIG_OPTIONS: readonly PeerConfigOption[] = (
  Object.keys(OPTIONS) as PeerSettingKey[]
).map((key) => ({ key, ...OPTIONS[key] }))

/** The flag and variable that name a config file (not a setting: a file cannot name another). */
export const CONFIG_FILE_OPTION = {
  flag: 'config',
  env: 'CHORUS_CONFIG',
  value: 'FILE',
  description: 'a JSON (.json) or YAML (.yaml, .yml) file of settings',
  default: 'none',
} as const

/** `chorus start`'s flags for `parseArgs`: every setting (each may repeat), and `--config`. */
export const START_FLAGS = {
  ...(Object.fromEntries(
    PEER_CONFIG_OPTIONS.map((o) => [o.flag, { type: 'string', multiple: true }]),
  ) as Record<string, { type: 'string'; multiple: true }>),
  [CONFIG_FILE_OPTION.flag]: { type: 'string' },
} as const

/** What `parseArgs` gives for `START_FLAGS`: each setting's values by flag, and `config`. */
export type StartFlags = Readonly<Record<string, readonly string[] | string | undefined>>

// ---------------------------------------------------------------------------------------
// Reading.

/** A config file, read. */
export interface PeerConfigFile {
  readonly path: string
  readonly text: string
}

export interface PeerConfigSources {
  /** The config file `--config` or `CHORUS_CONFIG` names, read (`readPeerConfigFile`). */
  readonly file?: PeerConfigFile
  /** Whether stderr is a terminal: the default `logFormat` is then `pretty`. Default false. */
  readonly stderrIsTTY?: boolean
}

/**
 * Reads a peer's configuration from `argv` (the arguments after `chorus start`), `env` and
 * the config file in `sources`. A variable set to the empty string counts as unset. Throws
 * `ChorusError('bad-request')` naming the flag, variable or file and key of a bad value, or
 * the file's unknown keys.
 */
export function parsePeerConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  sources: PeerConfigSources = {},
): PeerConfig {
  return peerConfigFromFlags(parseStartFlags(argv), env, sources)
}

/** `chorus start`'s flags, parsed but not yet checked. */
export function parseStartFlags(argv: readonly string[]): StartFlags {
  try {
    return parseFlags(argv, START_FLAGS, 'chorus start', { allowPositionals: false }).values
  } catch (err) {
    throw bad(err instanceof Error ? err.message : String(err))
  }
}

/** The config file the flags or variables name (`--config` wins over `CHORUS_CONFIG`), if any. */
export function configFilePath(
  flags: StartFlags,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const flag = flags[CONFIG_FILE_OPTION.flag]
  if (typeof flag === 'string') {
    if (flag.trim() === '') throw bad(`--${CONFIG_FILE_OPTION.flag} must not be empty`)
    return flag
  }
  const variable = env[CONFIG_FILE_OPTION.env]
  return variable === undefined || variable === '' ? undefined : variable
}

/** Reads a config file whole; a file that cannot be read is a `bad-request`. */
export async function readPeerConfigFile(path: string): Promise<PeerConfigFile> {
  try {
    return { path, text: await readFile(path, 'utf8') }
  } catch (err) {
    throw bad(`cannot read the config file ${path}: ${err instanceof Error ? err.message : ''}`)
  }
}

/** The configuration from parsed flags, `env` and `sources` (see `parsePeerConfig`). */
export function peerConfigFromFlags(
  flags: StartFlags,
  env: Readonly<Record<string, string | undefined>>,
  sources: PeerConfigSources = {},
): PeerConfig {
  const named = configFilePath(flags, env)
  const { file } = sources
  if (named !== undefined && file?.path !== named) {
    throw new Error(`the config file ${named} was not read: pass it as sources.file`)
  }
  // Each setting's winning value, and where it came from (for messages).
  const raw: Record<string, unknown> = file === undefined ? {} : fileSettings(file)
  const source: Record<string, string> = Object.fromEntries(
    Object.keys(raw).map((key) => [key, `${file?.path}: ${key}`]),
  )
  for (const option of PEER_CONFIG_OPTIONS) {
    const fromFlag = flags[option.flag]
    const fromEnv = env[option.env]
    if (Array.isArray(fromFlag)) {
      raw[option.key] = option.repeatable ? fromFlag : fromFlag.at(-1)
      source[option.key] = `--${option.flag}`
    } else if (fromEnv !== undefined && fromEnv !== '') {
      raw[option.key] = fromEnv
      source[option.key] = option.env
    }
  }
  const parsed = peerSettingsSchema.safeParse(raw)
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => describeIssue(issue, source, file?.path))
    throw bad(
      problems.length === 1
        ? (problems[0] ?? '')
        : `${problems.length} problems:\n${problems.map((p) => `  ${p}`).join('\n')}`,
    )
  }
  const settings = parsed.data
  return {
    dataDir: settings.dataDir,
    listen: settings.listen,
    join: settings.join,
    http: settings.http,
    workerMemoryMb: settings.workerMemory,
    ...(settings.psk === undefined ? {} : { pskFile: settings.psk }),
    schedulerIdleMs: settings.schedulerIdle,
    hostIdleMs: settings.hostIdle,
    ownerLimit: settings.ownerLimit,
    placement: settings.placement,
    logLevel: settings.logLevel,
    logFormat: settings.logFormat ?? (sources.stderrIsTTY === true ? 'pretty' : 'json'),
  }
}

/** An issue as a sentence that starts with where the value came from. */
function describeIssue(
  issue: z.core.$ZodIssue,
  source: Readonly<Record<string, string>>,
  file: string | undefined,
): string {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys
      .map((key) => {
        const meant = PEER_CONFIG_OPTIONS.find((o) => o.flag === key || o.env === key)?.key
        const hint =
          meant === undefined
            ? `the keys are ${PEER_CONFIG_OPTIONS.map((o) => o.key).join(', ')}`
            : `did you mean ${meant}?`
        return `${file}: unknown key ${quote(key)} (${hint})`
      })
      .join('\n  ')
  }
  const key = String(issue.path[0] ?? '')
  const where = source[key] ?? key
  // `must …` and `needs …` read on from the name; anything else follows a colon.
  return /^(must|needs) /.test(issue.message)
    ? `${where} ${issue.message}`
    : `${where}: ${issue.message}`
}

/** The settings object in a config file's text; JSON or YAML by the file's extension. */
function fileSettings(file: PeerConfigFile): Record<string, unknown> {
  const name = file.path.toLowerCase()
  let value: unknown
  if (name.endsWith('.json')) {
    try {
      value = JSON.parse(file.text) as unknown
    } catch (err) {
      throw bad(`${file.path}: bad JSON: ${err instanceof Error ? err.message : String(err)}`)
    }
  } else if (name.endsWith('.yaml') || name.endsWith('.yml')) {
    value = parseYaml(file)
  } else {
    throw bad(`${file.path}: a config file is JSON (.json) or YAML (.yaml, .yml)`)
  }
  // A YAML file of comments only holds no settings.
  if (value === null || value === undefined) return {}
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw bad(
      `${file.path} must hold an object of settings (like { "ownerLimit": 8 }), got ${shown(value)}`,
    )
  }
  return { ...(value as Record<string, unknown>) }
}

function parseYaml(file: PeerConfigFile): unknown {
  const doc = parseDocument(file.text, {
    schema: 'core',
    merge: false,
    customTags: [],
    uniqueKeys: true,
    prettyErrors: true,
  })
  const error = doc.errors[0]
  if (error !== undefined) {
    const at = error.linePos?.[0]
    const message = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')
    throw bad(
      `${file.path}: bad YAML: ${message}` +
        (at === undefined ? '' : ` (line ${at.line}, column ${at.col})`),
    )
  }
  try {
    return doc.toJS({ maxAliasCount: 100 }) as unknown
  } catch (err) {
    throw bad(`${file.path}: bad YAML: ${err instanceof Error ? err.message : String(err)}`)
  }
}

// ---------------------------------------------------------------------------------------
// Values.

/** Parses `500`, `500ms`, `30s`, `1.5m`, `2h` into whole milliseconds (at least 1). */
export function parseDuration(source: string, text: string): number {
  try {
    return readDuration(text)
  } catch (err) {
    if (err instanceof SettingProblem) throw bad(`${source} ${err.message}`)
    throw err
  }
}

function readDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim())
  const unit = match?.[2]
  if (match === null || (unit === undefined && match[1]?.includes('.'))) {
    throw new SettingProblem(`must be a duration like 600000, 30s, 10m or 1h, got ${quote(text)}`)
  }
  const factor = unit === 'h' ? 3_600_000 : unit === 'm' ? 60_000 : unit === 's' ? 1_000 : 1
  const ms = Math.round(Number(match[1]) * factor)
  if (!Number.isSafeInteger(ms) || ms < 1) {
    throw new SettingProblem(`must be at least 1 ms and finite, got ${quote(text)}`)
  }
  return ms
}

function readHostPort(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(text.trim())
  const host = match?.[1] ?? match?.[2]
  if (match === null || host === undefined) {
    throw new SettingProblem(
      `must be HOST:PORT (like 127.0.0.1:7070 or [::1]:7070), got ${quote(text)}`,
    )
  }
  const port = Number(match[3])
  if (port > 65535) throw new SettingProblem(`port must be 0 to 65535, got ${match[3]}`)
  return { host, port }
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

/** Why `addr` is not syntactically a multiaddr (`/proto/value/...`), or undefined when it is. */
function multiaddrProblem(addr: string): string | undefined {
  if (!addr.startsWith('/')) return `${quote(addr)} is not a multiaddr: it must start with '/'`
  if (/\s/.test(addr)) return `${quote(addr)} is not a multiaddr: it contains whitespace`
  if (addr.length === 1 || addr.endsWith('/') || addr.includes('//')) {
    return `${quote(addr)} is not a multiaddr: it has an empty component`
  }
  return undefined
}

/** `a or b`; `a, b or c`. */
function orList(values: readonly string[]): string {
  return values.length < 2
    ? values.join('')
    : `${values.slice(0, -1).join(', ')} or ${values.at(-1) ?? ''}`
}

/** A value in a message: strings quoted, anything else as JSON. */
function shown(value: unknown): string {
  if (typeof value === 'string') return quote(value)
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object' && value !== null) return 'an object'
  return String(value)
}

function bad(message: string): ChorusError {
  return new ChorusError('bad-request', message)
}
