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
 *
 * const peer = connect('http://127.0.0.1:7070') // no owner: what any caller may ask
 * await peer.peers() // { self: '12D3KooW…', peers: [{ peerId, state: 'alive', … }] }
 * await peer.schedulers({ local: true }) // [{ owner: 'acme', provider: 'mesh', peerId, … }]
 * await peer.invocation(job.id).status()
 * peer.forOwner('acme') // the same client acting for acme: a Mesh
 * ```
 */
import { ChorusClientError } from './client-error.js'
import { DEFAULT_POLL, type PollSchedule } from './invocation-handle.js'
import { JsonHttp, type ClientFetch } from './json-http.js'
import { definedOnly, HttpMeshClient, type Mesh, type MeshClient } from './mesh.js'

export { ChorusClientError } from './client-error.js'
export type { ChorusClientErrorInit, UnexpectedAnswer } from './client-error.js'
export { BUNDLE_EXTENSIONS, MODULE_EXTENSIONS, codeFileKind } from './function-source.js'
export type { FunctionSource } from './function-source.js'
export { DEFAULT_POLL, MAX_TRANSIENT_POLL_FAILURES, pollDelay } from './invocation-handle.js'
export type { InvocationHandle, PollSchedule, ResultOptions } from './invocation-handle.js'
export type { ClientFetch, ClientRequestInit, ClientResponse } from './json-http.js'
export type { DeployOptions, ListOptions, Mesh, MeshClient, MeshPeers } from './mesh.js'
export type { InvokeOptions, RemoteFunction, SubmitOptions } from './remote-function.js'
export type {
  ChoreographyView,
  DeployedChoreography,
  DeployedFunction,
  FunctionView,
  InvocationStatus,
  InvocationView,
  PeerInfo,
  SchedulerInfo,
} from '../peer-api.js'
export type { RunTrace, StepStatus, StepTrace, TaskTrace } from '../choreography/run-trace.js'

/** How a client talks to its peer. */
export interface ClientOptions {
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

export interface ConnectOptions extends ClientOptions {
  /** The resource owner (tenant) the client deploys and invokes for. */
  readonly owner: string
}

export const DEFAULT_CLIENT_TIMEOUT_MS = 330_000

/**
 * A client for the mesh that `url` (any peer's HTTP API) belongs to: acting for
 * `options.owner` (a `Mesh`), or, with no owner, asking only what any caller may (a
 * `MeshClient`; `forOwner` gives a `Mesh`). Checks its arguments; sends nothing yet.
 */
export function connect(url: string | URL, options: ConnectOptions): Mesh
export function connect(url: string | URL, options?: ClientOptions): MeshClient
export function connect(
  url: string | URL,
  options: ClientOptions & { readonly owner?: string } = {},
): MeshClient {
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
  const timeoutMs = options.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS
  if (!(timeoutMs > 0)) throw new ChorusClientError('bad-request', 'timeoutMs must be positive')
  const poll = { ...DEFAULT_POLL, ...definedOnly(options.poll ?? {}) }
  if (!(poll.initialMs > 0) || !(poll.maxMs >= poll.initialMs)) {
    throw new ChorusClientError('bad-request', 'poll: 0 < initialMs <= maxMs')
  }
  const fetcher = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
  const base = parsed.href.replace(/\/+$/, '')
  const client = new HttpMeshClient(base, new JsonHttp(base, fetcher, timeoutMs), poll)
  return options.owner === undefined ? client : client.forOwner(options.owner)
}
