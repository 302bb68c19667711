/**
 * A peer's configuration, from command-line flags and environment variables: a flag wins
 * over its variable, a variable over the default. Parsing is pure (it reads no file and no
 * `process`), so tests pass `argv` and `env` in.
 */
import { parseArgs } from 'node:util'
import { ChorusError } from './errors.js'

export type PlacementName = 'warm-bounded' | 'openwhisk'

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
}

export const PLACEMENTS: readonly PlacementName[] = ['warm-bounded', 'openwhisk']

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
} as const satisfies Omit<PeerConfig, 'pskFile'>

/** One setting: its flag, its environment variable, and what `chorus start --help` says of it. */
export interface PeerConfigOption {
  readonly flag: string
  readonly env: string
  readonly value: string
  readonly description: string
  readonly default?: string
  readonly repeatable?: boolean
}

/** Every setting, in the order `chorus start --help` lists them. */
export const PEER_CONFIG_OPTIONS: readonly PeerConfigOption[] = [
  {
    flag: 'data-dir',
    env: 'CHORUS_DATA_DIR',
    value: 'DIR',
    description: 'where the peer keeps its identity and state',
    default: PEER_CONFIG_DEFAULTS.dataDir,
  },
  {
    flag: 'listen',
    env: 'CHORUS_LISTEN',
    value: 'MULTIADDR',
    description: 'libp2p address to listen on (repeatable)',
    default: PEER_CONFIG_DEFAULTS.listen.join(','),
    repeatable: true,
  },
  {
    flag: 'join',
    env: 'CHORUS_JOIN',
    value: 'MULTIADDR',
    description: 'address of a peer to join the mesh through (repeatable)',
    default: 'none: start a new mesh',
    repeatable: true,
  },
  {
    flag: 'http',
    env: 'CHORUS_HTTP',
    value: 'HOST:PORT',
    description: 'where the HTTP API listens; port 0 picks a free port',
    default: `${PEER_CONFIG_DEFAULTS.http.host}:${PEER_CONFIG_DEFAULTS.http.port}`,
  },
  {
    flag: 'worker-memory',
    env: 'CHORUS_WORKER_MEMORY',
    value: 'MIB',
    description: 'memory this peer offers to function hosts, in MiB',
    default: String(PEER_CONFIG_DEFAULTS.workerMemoryMb),
  },
  {
    flag: 'psk',
    env: 'CHORUS_PSK',
    value: 'FILE',
    description: 'pre-shared key file: only peers with the same key can connect',
    default: 'none: an open mesh',
  },
  {
    flag: 'scheduler-idle',
    env: 'CHORUS_SCHEDULER_IDLE',
    value: 'DURATION',
    description: 'free a scheduler idle this long: 600000 (ms), 500ms, 30s, 10m, 1h',
    default: '10m',
  },
  {
    flag: 'host-idle',
    env: 'CHORUS_HOST_IDLE',
    value: 'DURATION',
    description: 'stop a function host idle this long: 600000 (ms), 500ms, 30s, 10m, 1h',
    default: '10m',
  },
  {
    flag: 'owner-limit',
    env: 'CHORUS_OWNER_LIMIT',
    value: 'N',
    description: "an owner's concurrent invocations per provider",
    default: String(PEER_CONFIG_DEFAULTS.ownerLimit),
  },
  {
    flag: 'placement',
    env: 'CHORUS_PLACEMENT',
    value: 'POLICY',
    description: `how schedulers place work on workers: ${PLACEMENTS.join(' or ')}`,
    default: PEER_CONFIG_DEFAULTS.placement,
  },
]

/**
 * Reads a peer's configuration from `argv` (the arguments after `chorus start`) and `env`.
 * A variable set to the empty string counts as unset. Throws `ChorusError('bad-request')`
 * with a message naming the flag or variable on any bad value.
 */
export function parsePeerConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): PeerConfig {
  const flags = parseFlags(argv)
  /** The flag's value(s), else the variable's, with where it came from for messages. */
  const pick = (option: PeerConfigOption): { source: string; values: string[] } | undefined => {
    const fromFlag = flags[option.flag]
    if (fromFlag !== undefined) {
      const values = option.repeatable ? fromFlag.flatMap(splitList) : fromFlag.slice(-1)
      return { source: `--${option.flag}`, values }
    }
    const fromEnv = env[option.env]
    if (fromEnv === undefined || fromEnv === '') return undefined
    return { source: option.env, values: option.repeatable ? splitList(fromEnv) : [fromEnv] }
  }
  const single = (flag: string): { source: string; value: string } | undefined => {
    const picked = pick(optionFor(flag))
    if (picked === undefined) return undefined
    const value = picked.values[0] ?? ''
    if (value.trim() === '') throw bad(`${picked.source} must not be empty`)
    return { source: picked.source, value }
  }
  const list = (flag: string, fallback: readonly string[]): string[] => {
    const picked = pick(optionFor(flag))
    if (picked === undefined) return [...fallback]
    if (picked.values.length === 0) throw bad(`${picked.source} needs at least one multiaddr`)
    for (const addr of picked.values) {
      const problem = multiaddrProblem(addr)
      if (problem !== undefined) throw bad(`${picked.source}: ${problem}`)
    }
    return picked.values
  }

  const dataDir = single('data-dir')?.value ?? PEER_CONFIG_DEFAULTS.dataDir
  const http = single('http')
  const memory = single('worker-memory')
  const psk = single('psk')
  const idle = single('scheduler-idle')
  const hostIdle = single('host-idle')
  const limit = single('owner-limit')
  const placement = single('placement')
  if (placement !== undefined && !(PLACEMENTS as readonly string[]).includes(placement.value)) {
    throw bad(
      `${placement.source} must be ${PLACEMENTS.join(' or ')}, got ${quote(placement.value)}`,
    )
  }
  return {
    dataDir,
    listen: list('listen', PEER_CONFIG_DEFAULTS.listen),
    join: list('join', PEER_CONFIG_DEFAULTS.join),
    http: http ? parseHostPort(http.source, http.value) : { ...PEER_CONFIG_DEFAULTS.http },
    workerMemoryMb: memory
      ? parsePositiveInteger(memory.source, memory.value)
      : PEER_CONFIG_DEFAULTS.workerMemoryMb,
    ...(psk ? { pskFile: psk.value } : {}),
    schedulerIdleMs: idle
      ? parseDuration(idle.source, idle.value)
      : PEER_CONFIG_DEFAULTS.schedulerIdleMs,
    hostIdleMs: hostIdle
      ? parseDuration(hostIdle.source, hostIdle.value)
      : PEER_CONFIG_DEFAULTS.hostIdleMs,
    ownerLimit: limit
      ? parsePositiveInteger(limit.source, limit.value)
      : PEER_CONFIG_DEFAULTS.ownerLimit,
    placement: (placement?.value as PlacementName | undefined) ?? PEER_CONFIG_DEFAULTS.placement,
  }
}

/** Parses `500`, `500ms`, `30s`, `1.5m`, `2h` into whole milliseconds (at least 1). */
export function parseDuration(source: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim())
  const unit = match?.[2]
  if (match === null || (unit === undefined && match[1]?.includes('.'))) {
    throw bad(`${source} must be a duration like 600000, 30s, 10m or 1h, got ${quote(text)}`)
  }
  const factor = unit === 'h' ? 3_600_000 : unit === 'm' ? 60_000 : unit === 's' ? 1_000 : 1
  const ms = Math.round(Number(match[1]) * factor)
  if (!Number.isSafeInteger(ms) || ms < 1) {
    throw bad(`${source} must be at least 1 ms and finite, got ${quote(text)}`)
  }
  return ms
}

function parseFlags(argv: readonly string[]): Record<string, string[] | undefined> {
  const options = Object.fromEntries(
    PEER_CONFIG_OPTIONS.map((o) => [o.flag, { type: 'string' as const, multiple: true }]),
  )
  try {
    const { values } = parseArgs({
      args: [...argv],
      options,
      strict: true,
      allowPositionals: false,
    })
    return values as Record<string, string[] | undefined>
  } catch (err) {
    throw bad(flagError(err, 'chorus start --help'))
  }
}

/** A clear one-line message for what `parseArgs` refused (its own are long and vary by Node version). */
export function flagError(err: unknown, help: string): string {
  const code = (err as { code?: unknown }).code
  const message = err instanceof Error ? err.message : String(err)
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? ''
  const flag = quoted.split(' ')[0] ?? quoted
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown flag ${flag} (see ${help})`
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${quote(quoted)} (see ${help})`
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(message)) return `${flag} takes no value`
      if (/ambiguous/.test(message))
        return `${flag} needs a value; write ${flag}=VALUE for one that starts with '-'`
      return `${flag} needs a value`
    default:
      return message.split('\n')[0] ?? message
  }
}

function optionFor(flag: string): PeerConfigOption {
  const option = PEER_CONFIG_OPTIONS.find((o) => o.flag === flag)
  if (option === undefined) throw new Error(`no such option: ${flag}`)
  return option
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

function parseHostPort(source: string, text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(text.trim())
  const host = match?.[1] ?? match?.[2]
  if (match === null || host === undefined) {
    throw bad(`${source} must be HOST:PORT (like 127.0.0.1:7070 or [::1]:7070), got ${quote(text)}`)
  }
  const port = Number(match[3])
  if (port > 65535) throw bad(`${source}: port must be 0 to 65535, got ${match[3]}`)
  return { host, port }
}

function parsePositiveInteger(source: string, text: string): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN
  if (!Number.isSafeInteger(value) || value < 1) {
    throw bad(`${source} must be a positive whole number, got ${quote(text)}`)
  }
  return value
}

function quote(text: string): string {
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}…` : text)
}

function bad(message: string): ChorusError {
  return new ChorusError('bad-request', message)
}
