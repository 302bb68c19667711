/**
 * The provider `mesh`: deployed functions, run in function hosts on the responsible peer's
 * own worker. Specs come from the replicated definitions (version = the deploy's revision,
 * so a redeploy gets fresh hosts); code comes from the code store (fetched from peers if
 * missing), a `.tgz` bundle being extracted once per digest.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { FunctionSpec } from '@chorus/scheduler-core'
import { background } from '../../background.js'
import { BoundedMap } from '../../bounded-map.js'
import {
  CodeIntegrityError,
  type DefinitionReplicator,
  type FunctionDefinition,
} from '../../definitions/index.js'
import { ChorusError } from '../../errors.js'
import {
  DEFAULT_START_TIMEOUT_MS,
  extractBundle,
  type FunctionHost,
  type FunctionHostSpec,
  type WorkerHostPool,
} from '../../function-host/index.js'
import type { DispatchEffect, ProviderLease, ProviderRuntime } from '../provider.js'

export const MESH_PROVIDER = 'mesh'

/**
 * The scheduler's own run deadline is a backstop beyond the host's: the host times the run
 * out first (with the clearer message), and a cold start may take up to its own limit.
 */
const SCHEDULER_TIMEOUT_GRACE_MS = DEFAULT_START_TIMEOUT_MS + 5_000
/** Definitions and host specs kept, by revision. */
const SPECS_KEPT = 1_000

export interface MeshProviderInit {
  readonly definitions: DefinitionReplicator
  readonly pool: WorkerHostPool
  /** Where bundles are extracted: `<dir>/<digest>`. */
  readonly bundleDir: string
  /** Called for each invocation that starts a new function host (a cold start). */
  readonly onColdStart?: (fn: string) => void
}

/** A `.tgz` starts with gzip's magic bytes; JavaScript source never does. */
function isGzip(bytes: Uint8Array): boolean {
  return bytes[0] === 0x1f && bytes[1] === 0x8b
}

export class MeshProvider implements ProviderRuntime {
  readonly #init: MeshProviderInit
  /** Definitions whose spec was registered, by `owner/name@revision`. */
  readonly #registered = new BoundedMap<string, FunctionDefinition>(SPECS_KEPT)
  readonly #hostSpecs = new BoundedMap<string, Promise<FunctionHostSpec>>(SPECS_KEPT)
  readonly #bundles = new Map<string, Promise<string>>()

  constructor(init: MeshProviderInit) {
    this.#init = init
  }

  spec(owner: string, fn: string): FunctionSpec | undefined {
    const def = this.#init.definitions.getFunction(owner, fn)
    if (def === undefined || def.provider !== MESH_PROVIDER) return undefined
    const key = fnKey(owner, fn, def.revision)
    if (!this.#registered.has(key)) this.#registered.set(key, def)
    return {
      name: fn,
      version: def.revision,
      memoryMb: def.memoryMb,
      concurrency: def.concurrency,
      timeoutMs: def.timeoutMs + SCHEDULER_TIMEOUT_GRACE_MS,
      ...(def.batch === undefined ? {} : { batch: def.batch }),
    }
  }

  async acquire(owner: string, dispatch: DispatchEffect): Promise<ProviderLease> {
    const key = fnKey(owner, dispatch.fn, dispatch.version)
    const def =
      this.#registered.get(key) ??
      (() => {
        const now = this.#init.definitions.getFunction(owner, dispatch.fn)
        return now?.revision === dispatch.version ? now : undefined
      })()
    if (def === undefined) {
      throw new ChorusError(
        'unknown-function',
        `function ${owner}/${dispatch.fn} version ${dispatch.version} is no longer deployed`,
      )
    }
    const spec = await this.#hostSpec(key, def)
    const { pool } = this.#init
    // The host the scheduler chose, by its name: its table of warm hosts is the pool's truth.
    const got = await Promise.allSettled(
      dispatch.invocations.map(() => pool.acquire(key, spec, dispatch.hostId)),
    )
    const hosts: FunctionHost[] = []
    let busy: string | undefined
    let failure: unknown
    for (const g of got) {
      if (g.status === 'rejected') failure ??= g.reason
      else if (g.value.type === 'busy') busy ??= g.value.message
      else {
        hosts.push(g.value.host)
        if (g.value.cold) this.#init.onColdStart?.(dispatch.fn)
      }
    }
    if (failure !== undefined || busy !== undefined) {
      for (const host of hosts) pool.release(host)
      if (failure !== undefined) {
        throw failure instanceof Error
          ? failure
          : new ChorusError('internal', 'acquiring a function host failed')
      }
      return { type: 'busy', message: busy ?? 'busy' }
    }
    return {
      type: 'ready',
      run: async (index, id, input, signal) => {
        const host = hosts[index]
        if (host === undefined) throw new ChorusError('internal', `no host for run ${index}`)
        try {
          if (signal.aborted) throw new ChorusError('internal', `invocation ${id} was cancelled`)
          return await host.run(input, { invocationId: id, timeoutMs: def.timeoutMs, signal })
        } finally {
          pool.release(host)
        }
      },
    }
  }

  /** What a host of this definition runs: inline source, or an extracted bundle. */
  #hostSpec(key: string, def: FunctionDefinition): Promise<FunctionHostSpec> {
    const known = this.#hostSpecs.get(key)
    if (known !== undefined) return known
    const spec = this.#resolveHostSpec(def)
    this.#hostSpecs.set(key, spec)
    // One that failed to resolve is tried again by the next dispatch.
    background(spec, () => {
      if (this.#hostSpecs.get(key) === spec) this.#hostSpecs.delete(key)
    })
    return spec
  }

  async #resolveHostSpec(def: FunctionDefinition): Promise<FunctionHostSpec> {
    const base = { memoryMb: def.memoryMb, concurrency: def.concurrency }
    const command = def.command === undefined ? {} : { command: [...def.command] }
    if (def.digest === undefined) return { runtime: def.runtime, ...base, ...command }
    const bytes = await this.#verifiedCode(def.digest, def.origin)
    if (isGzip(bytes)) {
      const codeDir = await this.#extracted(def.digest, bytes)
      return { runtime: def.runtime, codeDir, ...base, ...command }
    }
    if (def.runtime !== 'nodejs') {
      throw new ChorusError('bad-request', `the code of a process function must be a .tgz bundle`)
    }
    return { runtime: 'nodejs', code: Buffer.from(bytes).toString('utf8'), ...base }
  }

  /**
   * The code's bytes, checked against the digest as they are read: a blob changed on disk
   * is removed (by the code store) and fetched again from a peer that has it intact.
   */
  async #verifiedCode(digest: string, origin: string): Promise<Uint8Array> {
    const { definitions } = this.#init
    for (let attempt = 0; ; attempt++) {
      await definitions.fetchCode(digest, [origin])
      try {
        const bytes = await definitions.readCode(digest)
        if (bytes !== undefined) return bytes
      } catch (err) {
        if (!(err instanceof CodeIntegrityError) || attempt > 0) throw err
      }
      if (attempt > 0) {
        throw new ChorusError('internal', `the code ${digest} vanished from this peer's store`)
      }
    }
  }

  /** The bundle's directory, extracted once per digest (into a temp dir, then renamed). */
  #extracted(digest: string, bytes: Uint8Array): Promise<string> {
    const known = this.#bundles.get(digest)
    if (known !== undefined) return known
    const dir = this.#extract(digest, bytes)
    this.#bundles.set(digest, dir)
    // One that failed to extract is tried again by the next dispatch.
    background(dir, () => {
      if (this.#bundles.get(digest) === dir) this.#bundles.delete(digest)
    })
    return dir
  }

  async #extract(digest: string, bytes: Uint8Array): Promise<string> {
    const target = join(this.#init.bundleDir, digest)
    if (await exists(target)) return target
    const temp = `${target}.${randomBytes(4).toString('hex')}.tmp`
    await mkdir(temp, { recursive: true })
    try {
      await extractBundle(bytes, temp)
      await rename(temp, target)
    } catch (err) {
      await rm(temp, { recursive: true, force: true })
      if (await exists(target)) return target
      throw new ChorusError(
        'bad-request',
        `cannot unpack the bundle ${digest}: ${(err as Error).message}`,
      )
    }
    return target
  }
}

function fnKey(owner: string, fn: string, revision: string): string {
  return `${owner}/${fn}@${revision}`
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}
