/**
 * @packageDocumentation
 *
 * The Chorus client SDK: deploy functions and choreographies to a mesh and invoke them as if
 * they were local async functions. It speaks the peers' HTTP API with `fetch` and nothing
 * else (no libp2p), so it is light and runs wherever `fetch` does; only deploying from a
 * path reads files (node:fs, imported then).
 *
 * @example
 * ```ts
 * import { connect, ChorusClientError } from '@chorus/node/client'
 *
 * const mesh = connect('http://127.0.0.1:7070', { owner: 'acme' }) // any peer of the mesh
 * await mesh.deploy('resize', './resize.js') // a .js/.mjs module, a .tgz bundle or a directory
 * // { name: 'resize', version: 1, revision: '1.9f3a…', digest: 'e3b0…' }
 *
 * const resize = mesh.fn<{ width: number }, { url: string }>('resize')
 * await resize({ width: 640 }) // { url: '…' }: one request, answered when it has run
 *
 * const job = await resize.submit({ width: 1280 }) // answered once queued
 * job.id // '…'
 * await job.status() // { id, status: 'running', peerId: '12D3KooW…' }
 * await job.result({ timeoutMs: 60_000 }) // polls until it has finished
 *
 * try {
 *   await mesh.fn('boom')()
 * } catch (err) {
 *   if (!(err instanceof ChorusClientError)) throw err
 *   err.code // the invocation's ('function-error', 'timeout', …) or the peer's ('unknown-function', …)
 *   err.message // the function's own message
 *   err.invocationId // which invocation failed
 * }
 *
 * await mesh.deployChoreography('pipeline', {
 *   sequence: [{ function: 'split' }, { map: { function: 'resize' } }, { function: 'store' }],
 * })
 * const pipeline = mesh.choreography('pipeline') // called and submitted like a function
 * const run = await pipeline.submit({ images: ['a.png', 'b.png'] })
 * await run.result()
 * ;(await run.status()).trace // every step: status, times, the peer each task ran on
 * ```
 */
import { ChorusClientError } from './client-error.js'
import { codeFields, type FunctionSource } from './function-source.js'
import {
  DEFAULT_POLL,
  invocationHandle,
  type InvocationHandle,
  type PollSchedule,
} from './invocation-handle.js'
import { JsonHttp, type ClientFetch } from './json-http.js'
import { remoteFunction, type RemoteFunction } from './remote-function.js'
import { ownerNameProblem } from '../names.js'
import type {
  ChoreographyView,
  DeployedChoreography,
  DeployedFunction,
  FunctionView,
  PeerInfo,
} from '../peer-api.js'

export { ChorusClientError } from './client-error.js'
export type { ChorusClientErrorInit } from './client-error.js'
export type { FunctionSource } from './function-source.js'
export { DEFAULT_POLL, MAX_TRANSIENT_POLL_FAILURES, pollDelay } from './invocation-handle.js'
export type { InvocationHandle, PollSchedule, ResultOptions } from './invocation-handle.js'
export type { ClientFetch, ClientRequestInit, ClientResponse } from './json-http.js'
export type { InvokeOptions, RemoteFunction, SubmitOptions } from './remote-function.js'
export type {
  ChoreographyView,
  DeployedChoreography,
  DeployedFunction,
  FunctionView,
  InvocationStatus,
  InvocationView,
  PeerInfo,
} from '../peer-api.js'
export type { RunTrace, StepStatus, StepTrace, TaskTrace } from '../choreography/run-trace.js'

export interface ConnectOptions {
  /** The resource owner (tenant) the client deploys and invokes for. */
  readonly owner: string
  /** The `fetch` to use (a test's fake, one with a proxy agent). Default: the global one. */
  readonly fetch?: ClientFetch
  /**
   * Longest any one request may take, in ms; past it the call rejects with code `timeout`.
   * Default 330 000: a peer answers a request still waiting after 5 minutes 504 by itself.
   */
  readonly timeoutMs?: number
  /** How `result()` polls. Default: 25 ms, doubling up to 1 s. */
  readonly poll?: Partial<PollSchedule>
}

export interface DeployOptions {
  /** Default `nodejs`, `process` when a `command` is given; none for a `{ url }` endpoint. */
  readonly runtime?: 'nodejs' | 'process'
  /** `process`: `["executable", ...args]`, run in the unpacked bundle. */
  readonly command?: readonly string[]
  /** Memory one host takes, in MB (peer default 128). */
  readonly memoryMb?: number
  /** A run past it fails, in ms (peer default 60 000). */
  readonly timeoutMs?: number
  /** Runs one host takes at once (peer default 1). */
  readonly concurrency?: number
}

/** What the peers answer to `GET /v1/mesh/peers`: who answered, and every member it knows. */
export interface MeshPeers {
  readonly self: string
  readonly peers: readonly PeerInfo[]
}

export interface Mesh {
  /** The peer this client talks to (without a trailing `/`). */
  readonly url: string
  readonly owner: string
  /**
   * Deploys a new version of a function from a path (a `.js`/`.mjs` module, a `.tgz`
   * bundle, or a directory, packed into one here), from `{ code }` / `{ codeBase64 }`, or as
   * an endpoint that runs it elsewhere, `{ url }` (provider `http`). Any peer can be asked;
   * the definition reaches the others within milliseconds.
   */
  deploy(name: string, source: FunctionSource, options?: DeployOptions): Promise<DeployedFunction>
  /** Deploys a new version of a choreography; `definition` is its root step. */
  deployChoreography(name: string, definition: unknown): Promise<DeployedChoreography>
  /** A deployed function as an async function (see `RemoteFunction`). Sends nothing yet. */
  fn<I = unknown, O = unknown>(name: string): RemoteFunction<I, O>
  /** A deployed choreography, used exactly like a function. Sends nothing yet. */
  choreography<I = unknown, O = unknown>(name: string): RemoteFunction<I, O>
  /** The owner's deployed functions (none for an owner with nothing deployed). */
  functions(): Promise<FunctionView[]>
  /** The owner's choreographies (none for an owner with nothing deployed). */
  choreographies(): Promise<ChoreographyView[]>
  deleteFunction(name: string): Promise<{ name: string; version: number }>
  deleteChoreography(name: string): Promise<{ name: string; version: number }>
  /** A handle on an invocation submitted earlier, by anyone, through any peer. Sends nothing yet. */
  invocation<O = unknown>(id: string): InvocationHandle<O>
  /** The mesh as the peer sees it. */
  peers(): Promise<MeshPeers>
}

export const DEFAULT_CLIENT_TIMEOUT_MS = 330_000

/** A client for the mesh that `url` (any peer's HTTP API) belongs to, acting for `owner`. */
export function connect(url: string | URL, options: ConnectOptions): Mesh {
  return new HttpMesh(url, options)
}

class HttpMesh implements Mesh {
  readonly url: string
  readonly owner: string
  readonly #http: JsonHttp
  readonly #poll: PollSchedule
  readonly #ownerPath: string

  constructor(url: string | URL, options: ConnectOptions) {
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      throw new ChorusClientError('bad-request', `not a URL: ${String(url)}`)
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new ChorusClientError(
        'bad-request',
        `a peer's URL is http: or https:, not ${String(url)}`,
      )
    }
    const problem = ownerNameProblem(options.owner)
    if (problem !== undefined) throw new ChorusClientError('bad-request', problem)
    const timeoutMs = options.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS
    if (!(timeoutMs > 0)) throw new ChorusClientError('bad-request', 'timeoutMs must be positive')
    const fetcher = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
    this.url = parsed.href.replace(/\/+$/, '')
    this.owner = options.owner
    this.#http = new JsonHttp(this.url, fetcher, timeoutMs)
    this.#poll = { ...DEFAULT_POLL, ...definedOnly(options.poll ?? {}) }
    if (!(this.#poll.initialMs > 0) || !(this.#poll.maxMs >= this.#poll.initialMs)) {
      throw new ChorusClientError('bad-request', 'poll: 0 < initialMs <= maxMs')
    }
    this.#ownerPath = `/v1/owners/${encodeURIComponent(options.owner)}`
  }

  async deploy(
    name: string,
    source: FunctionSource,
    options: DeployOptions = {},
  ): Promise<DeployedFunction> {
    const { runtime, command, ...limits } = options
    const code = await codeFields(source)
    // An endpoint (provider `http`) has no runtime of ours unless one is asked for.
    const defaultRuntime = 'url' in code ? undefined : command === undefined ? 'nodejs' : 'process'
    const body = {
      name,
      ...definedOnly({ runtime: runtime ?? defaultRuntime }),
      ...code,
      ...(command === undefined ? {} : { command }),
      ...definedOnly(limits),
    }
    const { body: deployed } = await this.#http.request<DeployedFunction>(
      'POST',
      `${this.#ownerPath}/functions`,
      { body },
    )
    return deployed
  }

  async deployChoreography(name: string, definition: unknown): Promise<DeployedChoreography> {
    const { body } = await this.#http.request<DeployedChoreography>(
      'POST',
      `${this.#ownerPath}/choreographies`,
      { body: { name, definition } },
    )
    return body
  }

  fn<I = unknown, O = unknown>(name: string): RemoteFunction<I, O> {
    return remoteFunction<I, O>(
      this.#http,
      name,
      `${this.#ownerPath}/functions/${namePath(name)}/invocations`,
      this.#poll,
    )
  }

  choreography<I = unknown, O = unknown>(name: string): RemoteFunction<I, O> {
    return remoteFunction<I, O>(
      this.#http,
      name,
      `${this.#ownerPath}/choreographies/${namePath(name)}/invocations`,
      this.#poll,
    )
  }

  async functions(): Promise<FunctionView[]> {
    const answer = await this.#list<{ functions: FunctionView[] }>('functions')
    return answer?.functions ?? []
  }

  async choreographies(): Promise<ChoreographyView[]> {
    const answer = await this.#list<{ choreographies: ChoreographyView[] }>('choreographies')
    return answer?.choreographies ?? []
  }

  async deleteFunction(name: string): Promise<{ name: string; version: number }> {
    const path = `${this.#ownerPath}/functions/${namePath(name)}`
    return (await this.#http.request<{ name: string; version: number }>('DELETE', path)).body
  }

  async deleteChoreography(name: string): Promise<{ name: string; version: number }> {
    const path = `${this.#ownerPath}/choreographies/${namePath(name)}`
    return (await this.#http.request<{ name: string; version: number }>('DELETE', path)).body
  }

  invocation<O = unknown>(id: string): InvocationHandle<O> {
    if (typeof id !== 'string' || id === '') {
      throw new ChorusClientError('bad-request', 'an invocation id is a non-empty string')
    }
    return invocationHandle<O>(this.#http, id, this.#poll)
  }

  async peers(): Promise<MeshPeers> {
    return (await this.#http.request<MeshPeers>('GET', '/v1/mesh/peers')).body
  }

  /** `GET …/{what}`; undefined for an owner the mesh does not know (404 `unknown-owner`). */
  async #list<T>(what: string): Promise<T | undefined> {
    try {
      return (await this.#http.request<T>('GET', `${this.#ownerPath}/${what}`)).body
    } catch (err) {
      if (err instanceof ChorusClientError && err.code === 'unknown-owner') return undefined
      throw err
    }
  }
}

/** A name in a path: each `/`-separated segment encoded (function names may have segments). */
function namePath(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/')
}

function definedOnly<T extends object>(fields: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(fields).filter(([, value]) => value !== undefined),
  ) as Partial<T>
}
