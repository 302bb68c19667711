/**
 * The operations that change an owner's definitions, as they travel between peers and sit
 * in the log: what they look like, how an untrusted one is checked and normalised, and the
 * total order that decides which of two operations on the same name wins. Pure.
 */
import { choreographyNameProblem, functionNameProblem, ownerNameProblem } from '../names.js'
import {
  canonicalJson,
  hash64,
  hash64Hex,
  jsonValueProblem,
  utf8Length,
  type Hash64,
} from './canonical-json.js'
import { compareHlc, hlcProblem, type Hlc } from './hlc.js'

export type DefinitionKind = 'function' | 'choreography'
export type FunctionRuntime = 'nodejs' | 'process'
export type FunctionProvider = 'mesh' | 'http'

/** How a function runs: everything but its identity and version. */
export interface FunctionSpec {
  readonly runtime: FunctionRuntime
  readonly provider: FunctionProvider
  readonly memoryMb: number
  readonly timeoutMs: number
  readonly concurrency: number
  /** sha256 (lowercase hex) of the code: a JS module or a .tgz bundle, in the code store. */
  readonly digest?: string
  /** What a `process` function host runs (in the unpacked bundle's directory, if any). */
  readonly command?: readonly string[]
  /** The endpoint of a `http` provider function. */
  readonly url?: string
}

/** What a deploy may leave out: the defaults fill it in. */
export interface FunctionSpecInput {
  readonly runtime: FunctionRuntime
  readonly provider?: FunctionProvider
  readonly memoryMb?: number
  readonly timeoutMs?: number
  readonly concurrency?: number
  readonly digest?: string
  readonly command?: readonly string[]
  readonly url?: string
}

export const FUNCTION_DEFAULTS = {
  provider: 'mesh',
  memoryMb: 128,
  timeoutMs: 60_000,
  concurrency: 1,
} as const

export const FUNCTION_BOUNDS = {
  memoryMb: { min: 1, max: 1_048_576 },
  timeoutMs: { min: 1, max: 86_400_000 },
  concurrency: { min: 1, max: 10_000 },
  commandArgs: 256,
  commandArgChars: 4096,
  urlChars: 2048,
} as const

interface OpBase {
  readonly owner: string
  readonly name: string
  /** Per (owner, kind, name): one more than the highest the issuing peer knew of. */
  readonly version: number
  readonly hlc: Hlc
  /** Peer id of the peer that issued the operation. */
  readonly origin: string
}

export interface FunctionPut extends OpBase {
  readonly kind: 'function'
  readonly action: 'put'
  readonly spec: FunctionSpec
}

export interface ChoreographyPut extends OpBase {
  readonly kind: 'choreography'
  readonly action: 'put'
  /** Plain JSON; its meaning is the choreography engine's business. */
  readonly definition: unknown
}

/** A delete: it stays, so that an older put arriving late cannot bring the name back. */
export interface Tombstone extends OpBase {
  readonly kind: DefinitionKind
  readonly action: 'delete'
}

export type DefinitionOp = FunctionPut | ChoreographyPut | Tombstone

/** Why an operation or a change was refused. */
export type DefinitionRejectionReason =
  'malformed' | 'bad-name' | 'too-large' | 'clock-skew' | 'limit' | 'not-found' | 'invalid-time'

export interface DefinitionRejection {
  readonly type: 'rejected'
  readonly reason: DefinitionRejectionReason
  readonly message: string
}

export function rejection(reason: DefinitionRejectionReason, message: string): DefinitionRejection {
  return { type: 'rejected', reason, message }
}

/** An operation that passed the checks, with its canonical text's hash. */
export interface CheckedOp {
  readonly type: 'checked'
  readonly op: DefinitionOp
  readonly hash: Hash64
}

/** Largest version number: a counter per name, far beyond any real number of deploys. */
export const MAX_VERSION = 0x7fffffff

const ORIGIN = /^[A-Za-z0-9]{1,128}$/
const DIGEST = /^[0-9a-f]{64}$/

// The CLI and the HTTP layer have always found it here.
export { choreographyNameProblem } from '../names.js'

export function nameProblem(kind: DefinitionKind, name: unknown): string | undefined {
  if (typeof name !== 'string') return `${kind} name must be a string`
  return kind === 'function' ? functionNameProblem(name) : choreographyNameProblem(name)
}

export function ownerProblem(owner: unknown): string | undefined {
  return typeof owner === 'string' ? ownerNameProblem(owner) : 'owner must be a string'
}

function intInRange(
  value: unknown,
  field: string,
  { min, max }: { min: number; max: number },
): string | undefined {
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    return `${field} must be an integer from ${min} to ${max}`
  }
  return undefined
}

/**
 * The spec `input` describes, or why it is not one. With `defaults`, missing optional
 * fields take FUNCTION_DEFAULTS (a deploy); without, every field must be there (a
 * replicated operation, which its issuer already resolved).
 */
export function checkFunctionSpec(input: unknown, defaults: boolean): FunctionSpec | string {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return 'function spec must be an object'
  }
  const raw = input as Record<string, unknown>
  const pick = (field: keyof typeof FUNCTION_DEFAULTS): unknown =>
    raw[field] === undefined && defaults ? FUNCTION_DEFAULTS[field] : raw[field]
  const runtime = raw.runtime
  if (runtime !== 'nodejs' && runtime !== 'process') {
    return `runtime must be "nodejs" or "process", got ${JSON.stringify(runtime) ?? 'nothing'}`
  }
  const provider = pick('provider')
  if (provider !== 'mesh' && provider !== 'http') {
    return `provider must be "mesh" or "http", got ${JSON.stringify(provider) ?? 'nothing'}`
  }
  const memoryMb = pick('memoryMb')
  const timeoutMs = pick('timeoutMs')
  const concurrency = pick('concurrency')
  const bounds =
    intInRange(memoryMb, 'memoryMb', FUNCTION_BOUNDS.memoryMb) ??
    intInRange(timeoutMs, 'timeoutMs', FUNCTION_BOUNDS.timeoutMs) ??
    intInRange(concurrency, 'concurrency', FUNCTION_BOUNDS.concurrency)
  if (bounds) return bounds
  const { digest, command, url } = raw
  if (digest !== undefined && (typeof digest !== 'string' || !DIGEST.test(digest))) {
    return 'digest must be 64 lowercase hex digits (sha256)'
  }
  if (command !== undefined) {
    const problem = commandProblem(command)
    if (problem) return problem
  }
  if (url !== undefined) {
    if (typeof url !== 'string' || url.length > FUNCTION_BOUNDS.urlChars || !isHttpUrl(url)) {
      return `url must be an http(s) URL of at most ${FUNCTION_BOUNDS.urlChars} characters`
    }
  }
  if (provider === 'http' && url === undefined) return 'provider "http" needs a url'
  if (provider === 'mesh') {
    if (url !== undefined) return 'url is only for provider "http"'
    if (runtime === 'nodejs' && digest === undefined) {
      return 'runtime "nodejs" needs code (a digest)'
    }
    if (runtime === 'process' && command === undefined) return 'runtime "process" needs a command'
  }
  return {
    runtime,
    provider,
    memoryMb: memoryMb as number,
    timeoutMs: timeoutMs as number,
    concurrency: concurrency as number,
    ...(digest === undefined ? {} : { digest }),
    ...(command === undefined ? {} : { command: [...(command as string[])] }),
    ...(url === undefined ? {} : { url }),
  }
}

function commandProblem(command: unknown): string | undefined {
  if (!Array.isArray(command) || command.length === 0) {
    return 'command must be a non-empty array of strings'
  }
  if (command.length > FUNCTION_BOUNDS.commandArgs) {
    return `command may have at most ${FUNCTION_BOUNDS.commandArgs} arguments`
  }
  for (const arg of command) {
    if (typeof arg !== 'string') return 'command must be a non-empty array of strings'
    if (arg.length > FUNCTION_BOUNDS.commandArgChars) {
      return `a command argument is longer than ${FUNCTION_BOUNDS.commandArgChars} characters`
    }
    if (arg.includes('\0')) return 'a command argument contains a NUL character'
  }
  if ((command[0] as string).length === 0) return 'command[0] must not be empty'
  return undefined
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text)
    return url.protocol === 'http:' || url.protocol === 'https:'
  } catch {
    return false
  }
}

/** Why a choreography's definition cannot be replicated, or undefined. */
export function definitionProblem(definition: unknown): string | undefined {
  if (definition === undefined) return 'definition is missing'
  const problem = jsonValueProblem(definition, 'definition')
  return problem
}

/**
 * Checks an operation from anywhere (another peer, the disk) and rebuilds it from the
 * fields it may have, so that unknown fields do not travel on. `maxOpBytes` bounds the
 * canonical text of the rebuilt operation.
 */
export function checkOp(raw: unknown, maxOpBytes: number): CheckedOp | DefinitionRejection {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return rejection('malformed', 'an operation must be an object')
  }
  const r = raw as Record<string, unknown>
  const { kind, action, owner, name, version, hlc, origin } = r
  if (kind !== 'function' && kind !== 'choreography') {
    return rejection('malformed', 'kind must be "function" or "choreography"')
  }
  if (action !== 'put' && action !== 'delete') {
    return rejection('malformed', 'action must be "put" or "delete"')
  }
  const badName = ownerProblem(owner) ?? nameProblem(kind, name)
  if (badName) return rejection('bad-name', badName)
  if (
    !Number.isSafeInteger(version) ||
    (version as number) < 1 ||
    (version as number) > MAX_VERSION
  ) {
    return rejection('malformed', `version must be an integer from 1 to ${MAX_VERSION}`)
  }
  const badHlc = hlcProblem(hlc)
  if (badHlc) return rejection('malformed', badHlc)
  if (typeof origin !== 'string' || !ORIGIN.test(origin)) {
    return rejection('malformed', 'origin must be a peer id (1-128 letters and digits)')
  }
  const { wall, counter } = hlc as Hlc
  const base = {
    owner: owner as string,
    name: name as string,
    version: version as number,
    hlc: { wall, counter },
    origin,
  }
  let op: DefinitionOp
  if (action === 'delete') {
    op = { kind, action, ...base }
  } else if (kind === 'function') {
    const spec = checkFunctionSpec(r.spec, false)
    if (typeof spec === 'string') return rejection('malformed', spec)
    op = { kind, action, ...base, spec }
  } else {
    const problem = definitionProblem(r.definition)
    if (problem) return rejection('malformed', problem)
    // A copy of our own, its keys in canonical order.
    op = { kind, action, ...base, definition: JSON.parse(canonicalJson(r.definition)) as unknown }
  }
  const text = canonicalJson(op)
  const bytes = utf8Length(text)
  if (bytes > maxOpBytes) {
    return rejection('too-large', `operation of ${bytes} bytes exceeds the limit of ${maxOpBytes}`)
  }
  return { type: 'checked', op: deepFreeze(op), hash: hash64(text) }
}

/** Freezes a value of our own making, so views handed out cannot change the state. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const item of Object.values(value)) deepFreeze(item)
    Object.freeze(value)
  }
  return value
}

/**
 * An operation's revision, `<version>.<hash of its canonical text>`: unique per operation,
 * even for two that claim the same version. `hash` saves recomputing it.
 */
export function revisionOf(op: DefinitionOp, hash: Hash64 = hash64(canonicalJson(op))): string {
  return `${op.version}.${hash64Hex(hash)}`
}

/** The key of a definition within its owner: kind and name. */
export function entryKey(kind: DefinitionKind, name: string): string {
  return `${kind === 'function' ? 'f' : 'c'}:${name}`
}

/**
 * The total order that decides a name: the higher version wins; for equal versions the
 * later HLC, then the greater origin, then the greater canonical text. A peer issues
 * version = highest known + 1, so an operation always beats every one its issuer had
 * seen, and operations issued concurrently are decided the same way everywhere.
 */
export function compareOps(a: DefinitionOp, b: DefinitionOp): number {
  if (a.version !== b.version) return a.version - b.version
  const byHlc = compareHlc(a.hlc, b.hlc)
  if (byHlc !== 0) return byHlc
  if (a.origin !== b.origin) return a.origin < b.origin ? -1 : 1
  const ta = canonicalJson(a)
  const tb = canonicalJson(b)
  return ta === tb ? 0 : ta < tb ? -1 : 1
}
