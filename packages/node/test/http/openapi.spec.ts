/**
 * Walks the OpenAPI document the API serves and holds every route to it: a request built from
 * the document's own examples gets one of the documented 2xx answers, with a body that
 * validates against the documented schema (read back from the document, not from the zod
 * source), and a bad body or parameter gets the documented 400.
 */
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createHttpApi, type HttpResponse } from '../../src/http/http-api.js'
import type { ChoreographyView, FunctionView } from '../../src/peer-api.js'
import { FakePeerApi, SELF, TRACE } from '../fake-peer-api.js'

interface Schema {
  readonly $ref?: string
  readonly example?: unknown
  readonly [key: string]: unknown
}
interface MediaType {
  readonly schema?: Schema
  readonly examples?: Record<string, { value: unknown }>
}
interface Parameter {
  readonly name: string
  readonly in: 'path' | 'query'
  readonly required: boolean
  readonly schema: Schema
}
interface Operation {
  readonly operationId: string
  readonly parameters?: readonly Parameter[]
  readonly requestBody?: {
    readonly required?: boolean
    readonly content: Record<string, MediaType>
  }
  readonly responses: Record<
    string,
    {
      readonly content?: Record<string, MediaType>
      readonly headers?: Record<string, { required?: boolean }>
    }
  >
}
interface Document {
  readonly openapi: string
  readonly paths: Record<string, Record<string, Operation>>
  readonly components: { readonly schemas: Record<string, Schema> }
}

const DOCUMENT = JSON.parse(
  (await createHttpApi(new FakePeerApi()).request('GET', '/v1/openapi.json')).body.toString(),
) as Document

const OPERATIONS = Object.entries(DOCUMENT.paths).flatMap(([path, methods]) =>
  Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
)

/** A documented schema as a validator: its `$ref`s resolved against the document's components. */
function validator(schema: Schema): z.ZodType {
  const standalone = JSON.parse(
    JSON.stringify({ ...schema, $defs: DOCUMENT.components.schemas }).replaceAll(
      '#/components/schemas/',
      '#/$defs/',
    ),
  ) as Schema
  return z.fromJSONSchema(standalone, { defaultTarget: 'draft-2020-12' })
}

function resolve(schema: Schema): Schema {
  const name = schema.$ref?.replace('#/components/schemas/', '')
  return name === undefined ? schema : (DOCUMENT.components.schemas[name] ?? schema)
}

/** A peer that knows what the examples name: acme's `resize`, `ingest`, invocation `inv-1`. */
function seededApi(): FakePeerApi {
  const api = new FakePeerApi()
  const fn: FunctionView = {
    owner: 'acme',
    name: 'resize',
    version: 1,
    revision: '1.0000000000000000',
    deployedAt: 1_700_000_000_000,
    runtime: 'nodejs',
    provider: 'mesh',
    memoryMb: 128,
    timeoutMs: 60_000,
    concurrency: 1,
    digest: 'ab'.repeat(32),
  }
  api.deployed.set('acme/resize', fn)
  const choreography: ChoreographyView = {
    owner: 'acme',
    name: 'ingest',
    version: 1,
    revision: '1.00000000000000c0',
    deployedAt: 1_700_000_000_000,
    definition: { sequence: [{ function: 'resize' }] },
  }
  api.choreographyViews.set('acme/ingest', choreography)
  api.invocations.set('inv-1', {
    id: 'inv-1',
    status: 'succeeded',
    output: 3,
    peerId: SELF,
    trace: TRACE,
  })
  return api
}

/** The operation's path with each parameter replaced by `value(parameter)`. */
function pathWith(path: string, operation: Operation, value: (p: Parameter) => string): string {
  let filled = path
  for (const parameter of operation.parameters ?? []) {
    if (parameter.in === 'path') filled = filled.replace(`{${parameter.name}}`, value(parameter))
  }
  return filled
}

function exampleOf(parameter: Parameter): string {
  const { example } = parameter.schema
  expect(typeof example, `an example for {${parameter.name}}`).toBe('string')
  return encodeURIComponent(example as string)
}

/** Every example body the document gives the operation (a named one, else the schema's). */
function exampleBodies(operation: Operation): { name: string; value: unknown }[] {
  const media = operation.requestBody?.content['application/json']
  if (media === undefined) return []
  if (media.examples !== undefined) {
    return Object.entries(media.examples).map(([name, { value }]) => ({ name, value }))
  }
  const example = resolve(media.schema ?? {}).example
  expect(example, `${operation.operationId} documents an example body`).toBeDefined()
  return [{ name: 'example', value: example }]
}

/** Checks `res` is one of the operation's documented answers, and that its body is as documented. */
function expectDocumented(operation: Operation, res: HttpResponse): void {
  const documented = operation.responses[String(res.status)]
  expect(documented, `${operation.operationId} documents ${res.status}`).toBeDefined()
  const contentType = res.headers['content-type'] ?? ''
  const content = documented?.content ?? {}
  const mediaType = Object.keys(content).find((type) => contentType.startsWith(type))
  expect(mediaType, `${operation.operationId} ${res.status} answers as documented`).toBeDefined()
  const schema = content[mediaType ?? '']?.schema
  if (mediaType === 'application/json' && schema !== undefined) {
    const parsed = validator(schema).safeParse(JSON.parse(res.body.toString()))
    expect(parsed.error?.issues ?? [], `${operation.operationId} ${res.status}`).toEqual([])
  }
  for (const [name, header] of Object.entries(documented?.headers ?? {})) {
    if (header.required === true) expect(res.headers[name], `${name} header`).toBeDefined()
  }
}

describe('the OpenAPI document at GET /v1/openapi.json', () => {
  it('is OpenAPI 3.1 and documents every route the app serves, and nothing else', () => {
    expect(DOCUMENT.openapi).toBe('3.1.0')
    const { app } = createHttpApi(new FakePeerApi())
    const served = app.routes
      .filter((r) => r.method !== 'ALL')
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)\{[^}]*\}/g, '{$1}')}`)
    const documented = OPERATIONS.map(({ path, method }) => `${method.toUpperCase()} ${path}`)
    expect(new Set(served)).toEqual(new Set(documented))
    expect(served).toHaveLength(documented.length)
    expect(documented).toContain('POST /v1/owners/{owner}/functions/{name}/invocations')
  })

  it('gives every operation a unique id, and every error answer the error schema', () => {
    const ids = OPERATIONS.map(({ operation }) => operation.operationId)
    expect(new Set(ids).size).toBe(ids.length)
    for (const { operation } of OPERATIONS) {
      for (const [status, answer] of Object.entries(operation.responses)) {
        if (Number(status) < 400) continue
        expect(
          answer.content?.['application/json']?.schema,
          `${operation.operationId} ${status}`,
        ).toEqual({ $ref: '#/components/schemas/Error' })
      }
      expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['500', '503']))
    }
  })

  it("documents an invocation's attempts and preemptions", () => {
    const view = DOCUMENT.components.schemas.InvocationView as {
      properties?: Record<string, { type?: string; minimum?: number }>
    }
    for (const field of ['attempts', 'preemptions']) {
      expect(view.properties?.[field], field).toMatchObject({ type: 'integer', minimum: 0 })
    }
  })

  describe.each(OPERATIONS)('$method $path', ({ path, method, operation }) => {
    const target = pathWith(path, operation, exampleOf)
    const bodies =
      operation.requestBody === undefined
        ? [{ name: 'no body', value: undefined }]
        : exampleBodies(operation)

    it.each(bodies)('answers a valid request as documented ($name)', async (body) => {
      const http = createHttpApi(seededApi())
      const res = await http.request(
        method,
        target,
        body.value === undefined
          ? {}
          : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body.value) },
      )
      expect(res.status, res.body.toString()).toBeGreaterThanOrEqual(200)
      expect(res.status, res.body.toString()).toBeLessThan(300)
      expectDocumented(operation, res)
    })

    it.runIf(operation.requestBody !== undefined)(
      'answers a body that breaks its schema with the documented 400, and calls nothing',
      async () => {
        const [example] = exampleBodies(operation)
        const invalid = [[], 'a string', { ...(example?.value as object), notAField: true }]
        for (const body of invalid) {
          const api = seededApi()
          const res = await createHttpApi(api).request(method, target, {
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
          })
          expect(res.status, JSON.stringify(body)).toBe(400)
          expectDocumented(operation, res)
          expect((JSON.parse(res.body.toString()) as { error: { code: string } }).error.code).toBe(
            'bad-request',
          )
          expect([...api.invokes, ...api.deploys, ...api.choreographyDeploys]).toEqual([])
        }
      },
    )

    it.runIf(operation.parameters?.some((p) => p.in === 'path') === true)(
      'answers a path parameter that breaks its schema with the documented 400',
      async () => {
        const http = createHttpApi(seededApi())
        const res = await http.request(
          method,
          pathWith(path, operation, () => '%00'),
        )
        expect(res.status).toBe(400)
        expectDocumented(operation, res)
      },
    )
  })
})
