/**
 * The API's routes, by resource, in the order they are matched. Each file declares its routes
 * with `route()`: method, path, schemas, documented answers and handler, all in one place.
 */
import type { PeerApi } from '../../peer-api.js'
import type { EventHub } from '../event-stream.js'
import type { Route } from '../route.js'
import { choreographyRoutes } from './choreographies.js'
import { eventRoutes } from './events.js'
import { functionRoutes } from './functions.js'
import { healthRoutes } from './health.js'
import { invocationRoutes } from './invocations.js'
import { meshRoutes } from './mesh.js'
import { metricsRoutes } from './metrics.js'
import { openApiRoutes } from './openapi.js'

/** What the routes need. */
export interface RouteDeps {
  readonly api: PeerApi
  readonly events: EventHub
  /** Largest body of a request, and of a function deploy (which carries its code). */
  readonly maxBodyBytes: number
  readonly maxDeployBodyBytes: number
  /** The OpenAPI document, as JSON text. */
  readonly document: () => string
}

export function allRoutes(deps: RouteDeps): Route[] {
  return [
    ...healthRoutes(deps),
    ...meshRoutes(deps),
    ...functionRoutes(deps),
    ...choreographyRoutes(deps),
    ...invocationRoutes(deps),
    ...eventRoutes(deps),
    ...metricsRoutes(deps),
    ...openApiRoutes(deps),
  ]
}
