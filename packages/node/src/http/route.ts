/**
 * The route table's machinery. A route is declared once (`route({...})`): its method and path,
 * the zod schemas of its parameters, query and body, its documented answers, and a handler
 * that receives what those schemas parsed, typed. `mountRoutes` registers each route twice
 * from that one declaration: with hono, to serve it, and with the zod-openapi registry, to
 * document it. A path answers 405 (with `Allow`) to any other method, HEAD included.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createRoute, type OpenAPIHono, type RouteConfig } from '@hono/zod-openapi'
import type { Context } from 'hono'
import type { z } from 'zod'
import { ChorusError } from '../errors.js'
import { HttpError } from './http-status.js'
import { readJsonBody } from './request-body.js'
import { truncate } from './reply.js'
import { problemMessage } from './schemas.js'

/** What a request carries besides itself; every field is optional (`app.request()` has none). */
export interface HttpBindings {
  /** Over a socket: Node's request and response, as `@hono/node-server` hands them over. */
  readonly incoming?: IncomingMessage
  readonly outgoing?: ServerResponse
  /** The request target as sent (path and query, not normalised); default the URL's. */
  readonly target?: string
  /** Aborts when the server shuts down: waiting requests answer 503, event streams end. */
  readonly shutdown?: AbortSignal
  /** Ends an event stream when it aborts (in-process requests that collect one). */
  readonly streamUntil?: AbortSignal
}

export interface HttpEnv {
  Bindings: HttpBindings
  /** `route`: the template of the route that answered, for metrics (unset: unmatched). */
  Variables: { route: string }
}

const NO_BINDINGS: HttpBindings = {}

/** The request's bindings; `app.request()` without an env has none. */
export function bindings(c: Context<HttpEnv>): HttpBindings {
  // Typed as always there, but `app.request()` without an env has none.
  const env: HttpBindings | undefined = c.env
  return env ?? NO_BINDINGS
}

/** What a handler receives: the parsed parameters, query and body, and hono's context. */
export interface RouteInput<P, Q, B> {
  readonly params: P
  readonly query: Q
  readonly body: B
  readonly c: Context<HttpEnv>
}

export interface BodySpec<B extends z.ZodType> {
  readonly schema: B
  /** Larger bodies are answered 413 `body-too-large`. */
  readonly maxBytes: number
  /** An empty body is `{}`, unless this is given: then it is 400 with this message. */
  readonly requiredMessage?: string
  readonly description: string
  /** Named example bodies, for the document (and the test that walks it). */
  readonly examples?: Readonly<Record<string, { summary: string; value: unknown }>>
}

type Method = 'get' | 'post' | 'delete'

export interface RouteSpec<P extends z.ZodObject, Q extends z.ZodObject, B extends z.ZodType> {
  readonly method: Method
  /** The OpenAPI path (`/v1/owners/{owner}/functions`), also the route's metric label. */
  readonly path: string
  readonly operationId: string
  readonly summary: string
  readonly description?: string
  readonly tag: string
  readonly params?: P
  readonly query?: Q
  readonly body?: BodySpec<B>
  /** Every answer it gives, by status: what the OpenAPI document says of it. */
  readonly responses: RouteConfig['responses']
  handle(input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>): Response | Promise<Response>
}

/** A route with its types erased, ready to mount. */
export interface Route {
  readonly method: Uppercase<Method>
  readonly path: string
  readonly config: RouteConfig
  run(c: Context<HttpEnv>): Promise<Response>
}

export function route<
  P extends z.ZodObject = z.ZodObject,
  Q extends z.ZodObject = z.ZodObject,
  B extends z.ZodType = z.ZodUndefined,
>(spec: RouteSpec<P, Q, B>): Route {
  const { params, query, body } = spec
  const config = createRoute({
    method: spec.method,
    path: spec.path,
    operationId: spec.operationId,
    summary: spec.summary,
    ...(spec.description === undefined ? {} : { description: spec.description }),
    tags: [spec.tag],
    request: {
      ...(params === undefined ? {} : { params }),
      ...(query === undefined ? {} : { query }),
      ...(body === undefined
        ? {}
        : {
            body: {
              description: body.description,
              required: body.requiredMessage !== undefined,
              content: {
                'application/json': {
                  schema: body.schema,
                  ...(body.examples === undefined ? {} : { examples: body.examples }),
                },
              },
            },
          }),
    },
    responses: spec.responses,
  })
  return {
    method: spec.method.toUpperCase() as Uppercase<Method>,
    path: spec.path,
    config,
    async run(c) {
      // A part the route does not declare is empty: its type is the default's.
      return spec.handle({
        params: (params === undefined ? {} : parse(params, pathParams(c))) as z.output<P>,
        query: (query === undefined ? {} : parse(query, c.req.query())) as z.output<Q>,
        body: (body === undefined
          ? undefined
          : parse(body.schema, await jsonBody(c, body))) as z.output<B>,
        c,
      })
    },
  }
}

/**
 * Serves `routes` on `app` and documents them in its OpenAPI registry. Routes are matched in
 * the order given (so `…/{name}/invocations` must come before `…/{name}`, which would take
 * it too); after a path's methods, any other method on it is answered 405.
 */
export function mountRoutes(app: OpenAPIHono<HttpEnv>, routes: readonly Route[]): void {
  const byPath = new Map<string, Route[]>()
  for (const r of routes) {
    const group = byPath.get(r.path)
    if (group === undefined) byPath.set(r.path, [r])
    else group.push(r)
  }
  for (const [path, group] of byPath) {
    const routing = routingPath(path)
    const allow = group.map((r) => r.method).join(', ')
    const notAllowed = (method: string): HttpError =>
      new HttpError(
        'method-not-allowed',
        `${method} is not allowed on ${path} (allowed: ${allow})`,
        {
          allow,
        },
      )
    for (const r of group) {
      app.openAPIRegistry.registerPath(r.config)
      app.on(r.method, routing, (c) => {
        c.set('route', path)
        // hono answers HEAD with the GET route, minus the body; this API serves no HEAD.
        if (c.req.method === 'HEAD') throw notAllowed('HEAD')
        return r.run(c)
      })
    }
    app.all(routing, (c) => {
      c.set('route', path)
      throw notAllowed(c.req.method)
    })
  }
}

/**
 * An OpenAPI path as a hono routing path. `{name}` takes everything up to what follows it,
 * slashes included (a function name may have segments; a choreography's check says
 * precisely why `a/b` is not one); any other parameter is one segment, possibly empty (so
 * that an empty name is a 400 naming it, not a 404).
 */
function routingPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) =>
    name === 'name' ? `:${name}{.*}` : `:${name}{[^/]*}`,
  )
}

function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value)
  if (!result.success) throw new ChorusError('bad-request', problemMessage(result.error))
  return result.data
}

/** The path parameters, percent-decoded; a malformed escape is a 400 naming it. */
function pathParams(c: Context<HttpEnv>): Record<string, string> {
  const path = c.req.path
  if (path.includes('%')) {
    for (const segment of path.split('/')) {
      try {
        decodeURIComponent(segment)
      } catch {
        throw new ChorusError('bad-request', `malformed percent-encoding in ${truncate(segment)}`)
      }
    }
  }
  return c.req.param()
}

async function jsonBody(c: Context<HttpEnv>, spec: BodySpec<z.ZodType>): Promise<unknown> {
  const { incoming } = bindings(c)
  const value = await readJsonBody(
    {
      incoming,
      request: c.req.raw,
      contentType:
        incoming === undefined ? c.req.header('content-type') : incoming.headers['content-type'],
    },
    spec.maxBytes,
  )
  if (value !== undefined) return value
  if (spec.requiredMessage !== undefined) throw new ChorusError('bad-request', spec.requiredMessage)
  return {}
}
