import { errorAnswers, jsonAnswer } from '../openapi.js'
import { json } from '../reply.js'
import { route, type Route } from '../route.js'
import { MeshPeers, Schedulers, SchedulersQuery } from '../schemas.js'
import type { RouteDeps } from './index.js'

export function meshRoutes({ api }: RouteDeps): Route[] {
  return [
    route({
      method: 'get',
      path: '/v1/mesh/peers',
      operationId: 'listPeers',
      summary: 'The peers this peer knows, itself included',
      tag: 'mesh',
      responses: { 200: jsonAnswer('The members', MeshPeers), ...errorAnswers() },
      handle: () => json(200, { self: api.peerId, peers: api.peers() }),
    }),
    route({
      method: 'get',
      path: '/v1/mesh/schedulers',
      operationId: 'listSchedulers',
      summary: "Every scheduler of the mesh, as this peer sees it, or only this peer's",
      tag: 'mesh',
      query: SchedulersQuery,
      responses: { 200: jsonAnswer('The schedulers', Schedulers), ...errorAnswers(400) },
      handle: ({ query }) => json(200, { schedulers: api.schedulers(query.local) }),
    }),
  ]
}
