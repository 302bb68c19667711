import { METRICS_CONTENT_TYPE } from '../../observability/metrics.js'
import { errorAnswers, textAnswer } from '../openapi.js'
import { text } from '../reply.js'
import { route, type Route } from '../route.js'
import type { RouteDeps } from './index.js'

export function metricsRoutes({ api }: RouteDeps): Route[] {
  return [
    route({
      method: 'get',
      path: '/metrics',
      operationId: 'getMetrics',
      summary: "This peer's metrics, in the Prometheus text format",
      tag: 'metrics',
      responses: {
        200: textAnswer('Prometheus text exposition (0.0.4)', METRICS_CONTENT_TYPE),
        ...errorAnswers(),
      },
      // `metricsText()` may answer a string or a promise of one.
      handle: async () => text(200, METRICS_CONTENT_TYPE, await Promise.resolve(api.metricsText())),
    }),
  ]
}
