import { errorAnswers } from '../openapi.js'
import { JSON_CONTENT_TYPE, text } from '../reply.js'
import { route, type Route } from '../route.js'
import type { RouteDeps } from './index.js'

export function openApiRoutes({ document }: RouteDeps): Route[] {
  return [
    route({
      method: 'get',
      path: '/v1/openapi.json',
      operationId: 'getOpenApiDocument',
      summary: 'This document: the OpenAPI 3.1 description of the API',
      tag: 'api',
      responses: {
        200: {
          description: 'The OpenAPI 3.1 document',
          content: { 'application/json': { schema: { type: 'object' } } },
        },
        ...errorAnswers(),
      },
      handle: () => text(200, JSON_CONTENT_TYPE, document()),
    }),
  ]
}
