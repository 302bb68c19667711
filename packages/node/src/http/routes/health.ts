import { errorAnswers, jsonAnswer } from '../openapi.js'
import { json } from '../reply.js'
import { route, type Route } from '../route.js'
import { Health } from '../schemas.js'
import type { RouteDeps } from './index.js'

export function healthRoutes({ api }: RouteDeps): Route[] {
  return [
    route({
      method: 'get',
      path: '/v1/health',
      operationId: 'getHealth',
      summary: "This peer's id and version",
      tag: 'health',
      responses: { 200: jsonAnswer('The peer is up', Health), ...errorAnswers() },
      handle: () => json(200, { ok: true, peerId: api.peerId, version: api.version }),
    }),
  ]
}
