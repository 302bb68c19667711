import { BODY_ERRORS, errorAnswers, jsonAnswer } from '../openapi.js'
import { json } from '../reply.js'
import { route, type Route } from '../route.js'
import {
  ChoreographyList,
  ChoreographyPath,
  ChoreographyView,
  Deleted,
  DeployChoreographyBody,
  DeployedChoreography,
  OwnerPath,
} from '../schemas.js'
import { itemPath } from './functions.js'
import type { RouteDeps } from './index.js'
import { invokeRoute } from './invocations.js'

export function choreographyRoutes(deps: RouteDeps): Route[] {
  const { api } = deps
  return [
    invokeRoute(deps, {
      path: '/v1/owners/{owner}/choreographies/{name}/invocations',
      operationId: 'invokeChoreography',
      summary: 'Runs (or queues) a choreography; the invocation carries its trace',
      tag: 'choreographies',
      params: ChoreographyPath,
      submit: (invoke) => api.invokeChoreography(invoke),
    }),
    route({
      method: 'get',
      path: '/v1/owners/{owner}/choreographies',
      operationId: 'listChoreographies',
      summary: "The owner's choreographies",
      tag: 'choreographies',
      params: OwnerPath,
      responses: {
        200: jsonAnswer('The choreographies', ChoreographyList),
        ...errorAnswers(400, 404),
      },
      handle: async ({ params }) =>
        json(200, { choreographies: await api.choreographies(params.owner) }),
    }),
    route({
      method: 'post',
      path: '/v1/owners/{owner}/choreographies',
      operationId: 'deployChoreography',
      summary: 'Validates and deploys a new version of a choreography',
      description:
        "The envelope is checked here; the definition by the peer, against the owner's " +
        'functions and choreographies: an invalid one is 400 with every problem in ' +
        '`details.errors` (`{ path, code, message }`, `path` a JSON pointer into the body).',
      tag: 'choreographies',
      params: OwnerPath,
      body: {
        schema: DeployChoreographyBody,
        maxBytes: deps.maxBodyBytes,
        requiredMessage: 'a deploy needs a JSON body',
        description: 'The choreography: its name and definition',
      },
      responses: {
        201: jsonAnswer('Deployed', DeployedChoreography, {
          location: 'where the choreography is',
        }),
        ...errorAnswers(...BODY_ERRORS, 409, 502),
      },
      handle: async ({ params: { owner }, body }) => {
        const deployed = await api.deployChoreography({ owner, ...body })
        return json(201, deployed, { location: itemPath(owner, 'choreographies', body.name) })
      },
    }),
    route({
      method: 'get',
      path: '/v1/owners/{owner}/choreographies/{name}',
      operationId: 'getChoreography',
      summary: 'One choreography, with its definition',
      tag: 'choreographies',
      params: ChoreographyPath,
      responses: {
        200: jsonAnswer('The choreography', ChoreographyView),
        ...errorAnswers(400, 404),
      },
      handle: async ({ params }) => json(200, await api.choreography(params.owner, params.name)),
    }),
    route({
      method: 'delete',
      path: '/v1/owners/{owner}/choreographies/{name}',
      operationId: 'deleteChoreography',
      summary: 'Deletes a choreography (a new version that says so)',
      tag: 'choreographies',
      params: ChoreographyPath,
      responses: {
        200: jsonAnswer("Deleted: the delete's version", Deleted),
        ...errorAnswers(400, 404, 409, 502),
      },
      handle: async ({ params }) =>
        json(200, await api.deleteChoreography(params.owner, params.name)),
    }),
  ]
}
