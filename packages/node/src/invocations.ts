/**
 * The invocation operations of `PeerApi`: an invocation of a function or a choreography
 * entering the mesh at this peer, and finding one by id. The provider is picked here from
 * the replicated definitions (a deployed function has its own; `echo` and `sleep` are
 * builtin), after catching up on definitions this peer may not have received yet; the
 * router names, routes and counts it.
 */
import type { DefinitionsCatchUp } from './definitions/definitions-catch-up.js'
import type { DefinitionReplicator } from './definitions/definition-replicator.js'
import { ChorusError } from './errors.js'
import type { Router } from './mesh/router.js'
import type { InvocationView, PeerApi } from './peer-api.js'
import {
  BUILTIN_PROVIDER,
  isBuiltinFunction,
  validateBuiltinInput,
} from './scheduling/providers/builtin-provider.js'
import { CHOREOGRAPHY_PROVIDER } from './scheduling/providers/choreography-provider.js'

export interface InvocationsApiComponents {
  readonly router: Pick<Router, 'enter' | 'find'>
  readonly definitions: Pick<DefinitionReplicator, 'getFunction' | 'getChoreography'>
  readonly catchUp: Pick<DefinitionsCatchUp, 'retry'>
  /** Whether this peer is leaving the mesh: it takes no new invocations. */
  readonly leaving: () => boolean
}

/** `PeerApi`'s invocation operations, and choreography steps entering the mesh here. */
export interface InvocationsPeerApi extends Pick<
  PeerApi,
  'invoke' | 'invokeChoreography' | 'invocation'
> {
  /** A choreography step: an invocation of the owner's function, entering the mesh here. */
  readonly invokeStep: (owner: string, fn: string, input: unknown) => Promise<InvocationView>
}

export function invocationsApi(components: InvocationsApiComponents): InvocationsPeerApi {
  const { router, definitions, catchUp, leaving } = components
  const refuseWhenLeaving = (): void => {
    if (leaving()) throw new ChorusError('shutting-down', 'this peer is leaving the mesh')
  }
  /** Which provider runs `owner`'s `fn`: a deployed function's, else builtin's echo and sleep. */
  const providerOf = (owner: string, fn: string): string => {
    const deployed = definitions.getFunction(owner, fn)
    if (deployed !== undefined) return deployed.provider
    if (isBuiltinFunction(fn)) return BUILTIN_PROVIDER
    throw new ChorusError(
      'unknown-function',
      `no function ${fn} for ${owner} (deploy one, or use builtin echo and sleep)`,
    )
  }

  return {
    async invoke(request) {
      refuseWhenLeaving()
      const provider = await catchUp.retry(
        () => providerOf(request.owner, request.fn),
        'unknown-function',
      )
      if (provider === BUILTIN_PROVIDER) validateBuiltinInput(request.fn, request.input)
      return router.enter(request, provider)
    },

    async invokeChoreography(request) {
      refuseWhenLeaving()
      await catchUp.retry(() => {
        if (definitions.getChoreography(request.owner, request.fn) === undefined) {
          throw new ChorusError(
            'unknown-choreography',
            `no choreography ${request.fn} for ${request.owner}`,
          )
        }
      }, 'unknown-choreography')
      return router.enter(request, CHOREOGRAPHY_PROVIDER)
    },

    invocation: (id) => router.find(id),

    async invokeStep(owner, fn, input) {
      const provider = providerOf(owner, fn)
      if (provider === BUILTIN_PROVIDER) validateBuiltinInput(fn, input)
      return router.enter({ owner, fn, input, wait: true }, provider)
    },
  }
}
