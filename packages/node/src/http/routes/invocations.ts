import type { z } from 'zod'
import { ChorusError } from '../../errors.js'
import type { InvocationView, InvokeRequest } from '../../peer-api.js'
import { BODY_ERRORS, errorAnswers, jsonAnswer } from '../openapi.js'
import { json } from '../reply.js'
import { route, type Route } from '../route.js'
import {
  InvocationAccepted,
  InvocationPath,
  InvocationView as View,
  InvokeBody,
} from '../schemas.js'
import type { RouteDeps } from './index.js'

export function invocationRoutes({ api }: RouteDeps): Route[] {
  return [
    route({
      method: 'get',
      path: '/v1/invocations/{id}',
      operationId: 'getInvocation',
      summary: 'An invocation, wherever it runs',
      tag: 'invocations',
      params: InvocationPath,
      responses: {
        200: jsonAnswer('The invocation (a choreography run with its trace)', View),
        ...errorAnswers(400, 404, 502),
      },
      handle: async ({ params: { id } }) => {
        const view = await api.invocation(id)
        if (view === undefined) {
          throw new ChorusError(
            'unknown-invocation',
            `no peer knows invocation ${JSON.stringify(id)}`,
          )
        }
        return json(200, view)
      },
    }),
  ]
}

/** `POST …/{name}/invocations` of functions or choreographies: the same body, the same answers. */
export function invokeRoute(
  { maxBodyBytes }: RouteDeps,
  spec: {
    readonly path: string
    readonly operationId: string
    readonly summary: string
    readonly tag: string
    readonly params: z.ZodObject<{ owner: z.ZodType<string>; name: z.ZodType<string> }>
    readonly submit: (invoke: InvokeRequest) => Promise<InvocationView>
  },
): Route {
  return route({
    method: 'post',
    path: spec.path,
    operationId: spec.operationId,
    summary: spec.summary,
    description:
      'Waits by default and answers 200 with the invocation, a failed one too (its failure ' +
      'is data); with `"wait": false` answers 202 once it is queued.',
    tag: spec.tag,
    params: spec.params,
    body: {
      schema: InvokeBody,
      maxBytes: maxBodyBytes,
      description: 'How to run it; an empty body (no Content-Type needed) is `{}`',
      examples: {
        waiting: { summary: 'Run it and wait for the output', value: { input: { width: 640 } } },
        queued: {
          summary: 'Queue it and follow it at its Location',
          value: { input: { width: 640 }, priority: 1, wait: false, idempotencyKey: 'resize-42' },
        },
      },
    },
    responses: {
      200: jsonAnswer('It ran (waiting): the invocation', View),
      202: jsonAnswer('It is queued (not waiting)', InvocationAccepted, {
        location: 'where to follow it: `/v1/invocations/{id}`',
      }),
      ...errorAnswers(...BODY_ERRORS, 404, 409, 502),
    },
    handle: async ({ params, body }) => {
      const { wait = true, ...options } = body
      const view = await spec.submit({ owner: params.owner, fn: params.name, ...options, wait })
      if (wait) return json(200, view)
      return json(
        202,
        { id: view.id, status: view.status },
        { location: `/v1/invocations/${encodeURIComponent(view.id)}` },
      )
    },
  })
}
