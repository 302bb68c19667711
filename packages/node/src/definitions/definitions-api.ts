/**
 * The definition operations of `PeerApi`: deploy, list, show and delete an owner's
 * functions and choreographies, over the replicated definitions. Names and specs are
 * checked by the replicator; choreographies are validated here first, so a bad one is
 * refused with every problem listed and nothing deployed.
 *
 * ```ts
 * const api = definitionsApi({ definitions, leaving: () => false })
 * await api.deployChoreography({ owner: 'acme', name: 'flow', definition })
 * // { name: 'flow', version: 1, revision: '…' }
 * await api.functions('nobody') // rejects unknown-owner
 * ```
 */
import { validateChoreography } from '../choreography/index.js'
import { ChorusError, asChorusError } from '../errors.js'
import type { ChoreographyView, FunctionView, PeerApi } from '../peer-api.js'
import { validationContext } from '../scheduling/providers/choreography-provider.js'
import type { ChoreographyDefinition, FunctionDefinition } from './definition-log.js'
import type { DefinitionReplicator } from './definition-replicator.js'

/** The part of `PeerApi` this answers. */
export type DefinitionsPeerApi = Pick<
  PeerApi,
  | 'deployFunction'
  | 'functions'
  | 'function'
  | 'deleteFunction'
  | 'deployChoreography'
  | 'choreographies'
  | 'choreography'
  | 'deleteChoreography'
>

export interface DefinitionsApiComponents {
  readonly definitions: Pick<
    DefinitionReplicator,
    | 'deployFunction'
    | 'deleteFunction'
    | 'deployChoreography'
    | 'deleteChoreography'
    | 'getFunction'
    | 'listFunctions'
    | 'getChoreography'
    | 'listChoreographies'
    | 'owners'
  >
  /** Whether this peer is leaving the mesh: it takes no new deploys. */
  readonly leaving: () => boolean
}

/** The definition operations of `PeerApi` over `components`. */
export function definitionsApi(components: DefinitionsApiComponents): DefinitionsPeerApi {
  const { definitions, leaving } = components
  const refuseWhenLeaving = (): void => {
    if (leaving()) throw new ChorusError('shutting-down', 'this peer is leaving the mesh')
  }
  /** `owner`'s definitions of one kind; `unknown-owner` when the mesh has none of theirs. */
  const ofOwner = <T>(owner: string, list: T[]): T[] => {
    if (list.length === 0 && !definitions.owners().includes(owner)) {
      throw new ChorusError('unknown-owner', `no owner ${owner} on this mesh`)
    }
    return list
  }
  const deployedFunction = (owner: string, name: string): FunctionDefinition => {
    const def = definitions.getFunction(owner, name)
    if (def === undefined) {
      throw new ChorusError('unknown-function', `no function ${name} for ${owner}`)
    }
    return def
  }
  const deployedChoreography = (owner: string, name: string): ChoreographyDefinition => {
    const def = definitions.getChoreography(owner, name)
    if (def === undefined) {
      throw new ChorusError('unknown-choreography', `no choreography ${name} for ${owner}`)
    }
    return def
  }

  return {
    async deployFunction(request) {
      refuseWhenLeaving()
      const { owner, code, command, ...spec } = request
      const result = await definitions.deployFunction(
        owner,
        { ...spec, ...(command === undefined ? {} : { command: [...command] }) },
        code,
      )
      return {
        name: result.name,
        version: result.version,
        revision: result.revision,
        ...(result.digest === undefined ? {} : { digest: result.digest }),
      }
    },

    functions: (owner) =>
      settled(() => ofOwner(owner, definitions.listFunctions(owner)).map(functionView)),

    function: (owner, name) => settled(() => functionView(deployedFunction(owner, name))),

    async deleteFunction(owner, name) {
      deployedFunction(owner, name)
      return definitions.deleteFunction(owner, name)
    },

    async deployChoreography(request) {
      refuseWhenLeaving()
      const { owner, name, definition } = request
      const checked = validateChoreography(
        { name, definition },
        validationContext(definitions, owner),
      )
      if (!checked.ok) {
        const errors = checked.errors.map((e) => ({
          path: e.path,
          code: e.code,
          message: e.message,
        }))
        const shown = errors.slice(0, 5).map((e) => `${e.path}: ${e.message}`)
        const more =
          errors.length > shown.length ? ` (and ${errors.length - shown.length} more)` : ''
        throw new ChorusError(
          'bad-request',
          `choreography ${name} is not valid: ${shown.join('; ')}${more}`,
          { errors },
        )
      }
      const result = await definitions.deployChoreography(owner, name, definition)
      return { name: result.name, version: result.version, revision: result.revision }
    },

    choreographies: (owner) =>
      settled(() => ofOwner(owner, definitions.listChoreographies(owner)).map(choreographyView)),

    choreography: (owner, name) =>
      settled(() => choreographyView(deployedChoreography(owner, name))),

    async deleteChoreography(owner, name) {
      deployedChoreography(owner, name)
      return definitions.deleteChoreography(owner, name)
    },
  }
}

export function functionView(def: FunctionDefinition): FunctionView {
  return {
    owner: def.owner,
    name: def.name,
    version: def.version,
    revision: def.revision,
    deployedAt: def.deployedAt,
    runtime: def.runtime,
    provider: def.provider,
    memoryMb: def.memoryMb,
    timeoutMs: def.timeoutMs,
    concurrency: def.concurrency,
    ...(def.digest === undefined ? {} : { digest: def.digest }),
    ...(def.command === undefined ? {} : { command: def.command }),
    ...(def.url === undefined ? {} : { url: def.url }),
    ...(def.batch === undefined ? {} : { batch: def.batch }),
  }
}

export function choreographyView(def: ChoreographyDefinition): ChoreographyView {
  return {
    owner: def.owner,
    name: def.name,
    version: def.version,
    revision: def.revision,
    deployedAt: def.deployedAt,
    definition: def.definition,
  }
}

/** What `compute` gives, as a promise: a throw becomes a rejection (as `PeerApi` promises). */
function settled<T>(compute: () => T): Promise<T> {
  try {
    return Promise.resolve(compute())
  } catch (err) {
    return Promise.reject(asChorusError(err))
  }
}
