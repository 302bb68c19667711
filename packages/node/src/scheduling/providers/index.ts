/**
 * The providers a peer's schedulers run functions on, one file each: `builtin` (echo and
 * sleep), `mesh` (functions in worker hosts on any peer), `http` (an HTTP endpoint) and
 * `choreography` (a run of steps, each an invocation). What each implements is
 * `../provider.ts`.
 */
import type { Logger } from '../../observability/logger.js'
import type { ProviderRuntime } from '../provider.js'
import { CHOREOGRAPHY_PROVIDER, ChoreographyProvider } from './choreography-provider.js'
import type { ChoreographyProviderInit } from './choreography-provider.js'
import { HTTP_PROVIDER, HttpProvider } from './http-provider.js'
import { MESH_PROVIDER, MeshProvider, type MeshProviderInit } from './mesh-provider.js'

export { BUILTIN_PROVIDER, BuiltinProvider } from './builtin-provider.js'
export { CHOREOGRAPHY_PROVIDER, ChoreographyProvider } from './choreography-provider.js'
export { HTTP_PROVIDER, HttpProvider } from './http-provider.js'
export { MESH_PROVIDER, MeshProvider } from './mesh-provider.js'

export interface PeerProvidersInit extends MeshProviderInit {
  readonly invokeStep: ChoreographyProviderInit['invokeStep']
  readonly log: Logger
}

/** A peer's providers besides `builtin` (which the scheduler host brings), by name. */
export function peerProviders(init: PeerProvidersInit): Record<string, ProviderRuntime> {
  const { definitions, invokeStep, log } = init
  return {
    [MESH_PROVIDER]: new MeshProvider(init),
    [HTTP_PROVIDER]: new HttpProvider({ definitions }),
    [CHOREOGRAPHY_PROVIDER]: new ChoreographyProvider({
      definitions,
      invokeStep,
      now: () => Date.now(),
      log: log.child({ component: 'scheduling:choreography' }),
    }),
  }
}
