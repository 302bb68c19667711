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
import { checkFunctionSpec, type FunctionSpec } from './function-spec.js'
import { compareHlc, hlcProblem, type Hlc } from './hlc.js'

// The replicator has always imported these from here.
export { checkFunctionSpec, type FunctionSpecInput } from './function-spec.js'

export type DefinitionKind = 'function' | 'choreography'

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

// The CLI and the HTTP layer have always found it here.
export { choreographyNameProblem } from '../names.js'

export function nameProblem(kind: DefinitionKind, name: unknown): string | undefined {
  if (typeof name !== 'string') return `${kind} name must be a string`
  return kind === 'function' ? functionNameProblem(name) : choreographyNameProblem(name)
}

export function ownerProblem(owner: unknown): string | undefined {
  return typeof owner === 'string' ? ownerNameProblem(owner) : 'owner must be a string'
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
