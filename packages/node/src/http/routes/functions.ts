import type { z } from 'zod'
import type { DeployFunctionRequest } from '../../peer-api.js'
import { BODY_ERRORS, errorAnswers, jsonAnswer } from '../openapi.js'
import { json } from '../reply.js'
import { route, type Route } from '../route.js'
import {
  Deleted,
  DeployedFunction,
  DeployFunctionBody,
  FunctionList,
  FunctionPath,
  FunctionView,
  OwnerPath,
} from '../schemas.js'
import type { RouteDeps } from './index.js'
import { invokeRoute } from './invocations.js'

export function functionRoutes(deps: RouteDeps): Route[] {
  const { api } = deps
  return [
    invokeRoute(deps, {
      path: '/v1/owners/{owner}/functions/{name}/invocations',
      operationId: 'invokeFunction',
      summary: 'Runs (or queues) an invocation of a function',
      tag: 'functions',
      params: FunctionPath,
      submit: (invoke) => api.invoke(invoke),
    }),
    route({
      method: 'get',
      path: '/v1/owners/{owner}/functions',
      operationId: 'listFunctions',
      summary: "The owner's deployed functions",
      tag: 'functions',
      params: OwnerPath,
      responses: {
        200: jsonAnswer('The functions', FunctionList),
        ...errorAnswers(400, 404),
      },
      handle: async ({ params }) => json(200, { functions: await api.functions(params.owner) }),
    }),
    route({
      method: 'post',
      path: '/v1/owners/{owner}/functions',
      operationId: 'deployFunction',
      summary: 'Deploys a new version of a function, at any peer, for every peer',
      tag: 'functions',
      params: OwnerPath,
      body: {
        schema: DeployFunctionBody,
        maxBytes: deps.maxDeployBodyBytes,
        requiredMessage: 'a deploy needs a JSON body',
        description: 'The function, its code with it (up to `maxDeployBodyBytes`, 72 MiB)',
        examples: {
          module: {
            summary: 'A JavaScript module',
            value: {
              name: 'resize',
              runtime: 'nodejs',
              code: 'export default async (input) => ({ width: input.width / 2 })',
              memoryMb: 256,
            },
          },
          process: {
            summary: 'A program in a .tgz bundle',
            value: {
              name: 'tools/convert',
              runtime: 'process',
              codeBase64: 'H4sIAAAAAAAAA+3BAQ0AAADCoPdPbQ43oAAAAAAAAAAAAIA3A5reHScAKAAA',
              command: ['./convert', '--fast'],
              timeoutMs: 30_000,
            },
          },
          endpoint: {
            summary: 'An endpoint elsewhere (provider http)',
            value: { name: 'thumbnail', provider: 'http', url: 'https://thumbs.example.com/run' },
          },
        },
      },
      responses: {
        201: jsonAnswer('Deployed', DeployedFunction, { location: 'where the function is' }),
        ...errorAnswers(...BODY_ERRORS, 409, 502),
      },
      handle: async ({ params: { owner }, body }) => {
        const deployed = await api.deployFunction(deployRequest(owner, body))
        return json(201, deployed, { location: itemPath(owner, 'functions', body.name) })
      },
    }),
    route({
      method: 'get',
      path: '/v1/owners/{owner}/functions/{name}',
      operationId: 'getFunction',
      summary: 'One deployed function',
      tag: 'functions',
      params: FunctionPath,
      responses: { 200: jsonAnswer('The function', FunctionView), ...errorAnswers(400, 404) },
      handle: async ({ params }) => json(200, await api.function(params.owner, params.name)),
    }),
    route({
      method: 'delete',
      path: '/v1/owners/{owner}/functions/{name}',
      operationId: 'deleteFunction',
      summary: 'Deletes a function (a new version that says so)',
      tag: 'functions',
      params: FunctionPath,
      responses: {
        200: jsonAnswer("Deleted: the delete's version", Deleted),
        ...errorAnswers(400, 404, 409, 502),
      },
      handle: async ({ params }) => json(200, await api.deleteFunction(params.owner, params.name)),
    }),
  ]
}

/** A checked deploy body as the peer takes it: code as bytes, `http`'s runtime filled in. */
function deployRequest(
  owner: string,
  body: z.output<typeof DeployFunctionBody>,
): DeployFunctionRequest {
  const { code, codeBase64, provider = 'mesh', runtime, ...rest } = body
  if (provider === 'http') return { owner, ...rest, runtime: runtime ?? 'process', provider }
  const bytes =
    code !== undefined
      ? Buffer.from(code, 'utf8')
      : codeBase64 !== undefined
        ? Buffer.from(codeBase64, 'base64')
        : undefined
  return {
    owner,
    ...rest,
    // The schema refuses a mesh deploy without a runtime.
    runtime: runtime ?? 'nodejs',
    ...(bytes === undefined ? {} : { code: bytes }),
  }
}

/** Where a deployed function or choreography lives: its `Location`. */
export function itemPath(
  owner: string,
  collection: 'functions' | 'choreographies',
  name: string,
): string {
  const encoded = name.split('/').map(encodeURIComponent).join('/')
  return `/v1/owners/${encodeURIComponent(owner)}/${collection}/${encoded}`
}
