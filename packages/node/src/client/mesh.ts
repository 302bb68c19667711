/**
 * The two faces of the client: a `MeshClient` asks a peer what any caller may ask (the mesh's
 * peers and schedulers, an invocation by id), and a `Mesh` also deploys, lists and invokes
 * for one owner. Both send JSON through one `JsonHttp`, and nothing before a method is called.
 */
import { ChorusClientError } from './client-error.js'
import { codeFields, type FunctionSource } from './function-source.js'
import { invocationHandle, type InvocationHandle, type PollSchedule } from './invocation-handle.js'
import type { JsonHttp } from './json-http.js'
import { remoteFunction, type RemoteFunction } from './remote-function.js'
import { ownerNameProblem } from '../names.js'
import type {
  ChoreographyView,
  DeployedChoreography,
  DeployedFunction,
  FunctionView,
  PeerInfo,
  SchedulerInfo,
} from '../peer-api.js'

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
  /**
   * Dispatch invocations in batches: up to `size` (at most `concurrency`) together, or fewer
   * once the oldest waited `waitMs` (peer default 10). Absent: each goes alone.
   */
  readonly batch?: { readonly size: number; readonly waitMs?: number }
}

export interface ListOptions {
  /**
   * Reject with `unknown-owner` (404) for an owner the mesh does not know, instead of
   * answering none. Default false: an owner with nothing deployed has nothing listed.
   */
  readonly strict?: boolean
}

/** What the peers answer to `GET /v1/mesh/peers`: who answered, and every member it knows. */
export interface MeshPeers {
  readonly self: string
  readonly peers: readonly PeerInfo[]
}

/** What any caller may ask a peer, for no owner in particular. */
export interface MeshClient {
  /** The peer this client talks to (without a trailing `/`). */
  readonly url: string
  /** The mesh as the peer sees it. */
  peers(): Promise<MeshPeers>
  /** The schedulers the peer knows of, mesh-wide; with `local`, only those it hosts itself. */
  schedulers(options?: { readonly local?: boolean }): Promise<SchedulerInfo[]>
  /** A handle on an invocation submitted earlier, by anyone, through any peer. Sends nothing yet. */
  invocation<O = unknown>(id: string): InvocationHandle<O>
  /** A client for `owner` through the same peer, with the same options. Sends nothing yet. */
  forOwner(owner: string): Mesh
}

/** A client acting for one owner (tenant): deploys, lists and invokes its functions. */
export interface Mesh extends MeshClient {
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
  /** The owner's deployed functions (none for an owner with nothing deployed, unless `strict`). */
  functions(options?: ListOptions): Promise<FunctionView[]>
  /** The owner's choreographies (none for an owner with nothing deployed, unless `strict`). */
  choreographies(options?: ListOptions): Promise<ChoreographyView[]>
  /** One deployed function; rejects `unknown-function` when there is none. */
  getFunction(name: string): Promise<FunctionView>
  /** One choreography, its definition included; rejects `unknown-choreography` when there is none. */
  getChoreography(name: string): Promise<ChoreographyView>
  deleteFunction(name: string): Promise<{ name: string; version: number }>
  deleteChoreography(name: string): Promise<{ name: string; version: number }>
}

export class HttpMeshClient implements MeshClient {
  readonly url: string
  protected readonly http: JsonHttp
  protected readonly poll: PollSchedule

  constructor(url: string, http: JsonHttp, poll: PollSchedule) {
    this.url = url
    this.http = http
    this.poll = poll
  }

  async peers(): Promise<MeshPeers> {
    return (await this.http.request<MeshPeers>('GET', '/v1/mesh/peers')).body
  }

  async schedulers(options: { readonly local?: boolean } = {}): Promise<SchedulerInfo[]> {
    const path = `/v1/mesh/schedulers${options.local === true ? '?local=1' : ''}`
    return (await this.http.request<{ schedulers: SchedulerInfo[] }>('GET', path)).body.schedulers
  }

  invocation<O = unknown>(id: string): InvocationHandle<O> {
    if (typeof id !== 'string' || id === '') {
      throw new ChorusClientError('bad-request', 'an invocation id is a non-empty string')
    }
    return invocationHandle<O>(this.http, id, this.poll)
  }

  forOwner(owner: string): Mesh {
    return new HttpMesh(this.url, this.http, this.poll, owner)
  }
}

class HttpMesh extends HttpMeshClient implements Mesh {
  readonly owner: string
  readonly #ownerPath: string

  constructor(url: string, http: JsonHttp, poll: PollSchedule, owner: string) {
    super(url, http, poll)
    const problem = ownerNameProblem(owner)
    if (problem !== undefined) throw new ChorusClientError('bad-request', problem)
    this.owner = owner
    this.#ownerPath = `/v1/owners/${encodeURIComponent(owner)}`
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
    const { body: deployed } = await this.http.request<DeployedFunction>(
      'POST',
      `${this.#ownerPath}/functions`,
      { body },
    )
    return deployed
  }

  async deployChoreography(name: string, definition: unknown): Promise<DeployedChoreography> {
    const { body } = await this.http.request<DeployedChoreography>(
      'POST',
      `${this.#ownerPath}/choreographies`,
      { body: { name, definition } },
    )
    return body
  }

  fn<I = unknown, O = unknown>(name: string): RemoteFunction<I, O> {
    return remoteFunction<I, O>(
      this.http,
      name,
      `${this.#ownerPath}/functions/${namePath(name)}/invocations`,
      this.poll,
    )
  }

  choreography<I = unknown, O = unknown>(name: string): RemoteFunction<I, O> {
    return remoteFunction<I, O>(
      this.http,
      name,
      `${this.#ownerPath}/choreographies/${namePath(name)}/invocations`,
      this.poll,
    )
  }

  async functions(options: ListOptions = {}): Promise<FunctionView[]> {
    const answer = await this.#list<{ functions: FunctionView[] }>('functions', options)
    return answer?.functions ?? []
  }

  async choreographies(options: ListOptions = {}): Promise<ChoreographyView[]> {
    const answer = await this.#list<{ choreographies: ChoreographyView[] }>(
      'choreographies',
      options,
    )
    return answer?.choreographies ?? []
  }

  async getFunction(name: string): Promise<FunctionView> {
    const path = `${this.#ownerPath}/functions/${namePath(name)}`
    return (await this.http.request<FunctionView>('GET', path)).body
  }

  async getChoreography(name: string): Promise<ChoreographyView> {
    const path = `${this.#ownerPath}/choreographies/${namePath(name)}`
    return (await this.http.request<ChoreographyView>('GET', path)).body
  }

  async deleteFunction(name: string): Promise<{ name: string; version: number }> {
    const path = `${this.#ownerPath}/functions/${namePath(name)}`
    return (await this.http.request<{ name: string; version: number }>('DELETE', path)).body
  }

  async deleteChoreography(name: string): Promise<{ name: string; version: number }> {
    const path = `${this.#ownerPath}/choreographies/${namePath(name)}`
    return (await this.http.request<{ name: string; version: number }>('DELETE', path)).body
  }

  /** `GET …/{what}`; undefined for an owner the mesh does not know (404 `unknown-owner`). */
  async #list<T>(what: string, { strict = false }: ListOptions): Promise<T | undefined> {
    try {
      return (await this.http.request<T>('GET', `${this.#ownerPath}/${what}`)).body
    } catch (err) {
      if (!strict && err instanceof ChorusClientError && err.code === 'unknown-owner') {
        return undefined
      }
      throw err
    }
  }
}

/** A name in a path: each `/`-separated segment encoded (function names may have segments). */
function namePath(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/')
}

export function definedOnly<T extends object>(fields: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(fields).filter(([, value]) => value !== undefined),
  ) as Partial<T>
}
