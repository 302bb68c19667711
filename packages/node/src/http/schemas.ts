/**
 * Every shape the HTTP API reads or writes, as zod schemas: path parameters, query strings and
 * bodies, checked on each request (the messages are the `bad-request` messages callers see),
 * and the answers, which only document. The OpenAPI document at `GET /v1/openapi.json` is
 * generated from these, so what is checked and what is documented cannot drift apart.
 */
import { z } from 'zod'
import { FUNCTION_BOUNDS, FUNCTION_DEFAULTS } from '../definitions/function-spec.js'
import {
  choreographyNameProblem,
  functionNameProblem,
  MAX_NAME_LENGTH,
  ownerNameProblem,
} from '../names.js'
import { HTTP_ERROR_CODES } from './http-status.js'
import { truncate } from './reply.js'

/** What a request that fails its schema is answered: the one problem worth naming first. */
export function problemMessage(error: z.ZodError): string {
  // An unknown field comes first: a typo (`idempotency_key`) explains the rest.
  const issue = error.issues.find((i) => i.code === 'unrecognized_keys') ?? error.issues[0]
  return issue?.message ?? 'the request is not valid'
}

// --- names and path parameters ---------------------------------------------------------

const SEGMENT_PATTERN = '[A-Za-z0-9._-]'

/** A string checked by one of the peer's name rules, whose message is the error's. */
function checkedBy(problem: (value: string) => string | undefined, prefix = '') {
  return (value: string, ctx: z.RefinementCtx): void => {
    const found = problem(value)
    if (found !== undefined) ctx.addIssue({ code: 'custom', message: `${prefix}${found}` })
  }
}

export const OwnerName = z
  .string()
  .superRefine(checkedBy(ownerNameProblem))
  .meta({
    description: `1–${MAX_NAME_LENGTH} characters of A–Z a–z 0–9 . _ -, not "." or ".."`,
    pattern: `^${SEGMENT_PATTERN}{1,${MAX_NAME_LENGTH}}$`,
    example: 'acme',
  })

export const FunctionName = z
  .string()
  .superRefine(checkedBy(functionNameProblem))
  .meta({
    description:
      `1–${MAX_NAME_LENGTH} characters: segments like an owner name, joined by "/" ` +
      '(`resize`, `images/resize`); in a path, raw or percent-encoded',
    pattern: `^${SEGMENT_PATTERN}+(/${SEGMENT_PATTERN}+)*$`,
    example: 'resize',
  })

export const ChoreographyName = z
  .string()
  .superRefine(checkedBy(choreographyNameProblem))
  .meta({
    description: `1–${MAX_NAME_LENGTH} characters of A–Z a–z 0–9 . _ -, not "." or ".."`,
    pattern: `^${SEGMENT_PATTERN}{1,${MAX_NAME_LENGTH}}$`,
    example: 'ingest',
  })

const MAX_INVOCATION_ID_LENGTH = 256

export const InvocationId = z
  .string()
  .superRefine(
    checkedBy((id) =>
      id.length === 0 || id.length > MAX_INVOCATION_ID_LENGTH || /\p{Cc}/u.test(id)
        ? `an invocation id has 1 to ${MAX_INVOCATION_ID_LENGTH} characters and no control characters`
        : undefined,
    ),
  )
  .meta({
    description: `1–${MAX_INVOCATION_ID_LENGTH} characters, no control characters`,
    example: 'inv-1',
  })

export const OwnerPath = z.object({ owner: OwnerName })
export const FunctionPath = z.object({ owner: OwnerName, name: FunctionName })
export const ChoreographyPath = z.object({ owner: OwnerName, name: ChoreographyName })
export const InvocationPath = z.object({ id: InvocationId })

export const SchedulersQuery = z.object({
  local: z
    .enum(['', '1', 'true', '0', 'false'], {
      error: (issue) =>
        `query parameter 'local' must be 1 or 0, got ${truncate(String(issue.input))}`,
    })
    .optional()
    .transform((local) => local === '' || local === '1' || local === 'true')
    .meta({ description: "only this peer's schedulers: `1`, `true` or empty; `0` or `false`" }),
})

// --- request bodies ----------------------------------------------------------------------

/** An object with exactly `shape`'s fields: an unknown one is refused by name. */
function strictBody<Shape extends z.ZodRawShape>(shape: Shape) {
  const allowed = Object.keys(shape).join(', ')
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code === 'unrecognized_keys') {
        const [first = ''] = issue.keys
        return `unknown field ${JSON.stringify(truncate(first))} (allowed: ${allowed})`
      }
      return issue.code === 'invalid_type' ? 'the request body must be a JSON object' : undefined
    },
  })
}

const MAX_IDEMPOTENCY_KEY_LENGTH = 256
const IDEMPOTENCY_KEY_PROBLEM = `field 'idempotencyKey' must be a string of 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`

/** The body of an invocation, of a function or a choreography. Empty means `{}`. */
export const InvokeBody = strictBody({
  input: z.unknown().optional().meta({ description: "the function's input: any JSON, `null` too" }),
  priority: z
    .union([z.literal(0), z.literal(1)], { error: "field 'priority' must be 0 (high) or 1 (low)" })
    .optional()
    .meta({ description: "0 (high) or 1 (low); default the scheduler's" }),
  qos: z
    .enum(['latency', 'cost'], { error: 'field \'qos\' must be "latency" or "cost"' })
    .optional()
    .meta({
      description:
        'checked, no effect yet (one scheduler per owner and provider); with capacity shards: the nearest, or the least loaded',
    }),
  wait: z
    .boolean({ error: "field 'wait' must be true or false" })
    .optional()
    .meta({ description: 'answer when finished (200, the default) or once queued (202)' }),
  idempotencyKey: z
    .string({ error: IDEMPOTENCY_KEY_PROBLEM })
    .min(1, { error: IDEMPOTENCY_KEY_PROBLEM })
    .max(MAX_IDEMPOTENCY_KEY_LENGTH, { error: IDEMPOTENCY_KEY_PROBLEM })
    .optional()
    .meta({ description: 'a retry with the same key gets the same invocation' }),
}).meta({
  id: 'InvokeRequest',
  description: 'How to run an invocation. Every field is optional; an empty body is `{}`.',
  example: { input: { width: 640 }, priority: 0 },
})

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const RUNTIME_PROBLEM = 'field \'runtime\' must be "nodejs" or "process"'
const CODE_PROBLEM = "field 'code' must be a non-empty string (a JavaScript module's source)"
const BUNDLE_PROBLEM = "field 'codeBase64' must be a non-empty base64 string (a .tgz bundle)"
const COMMAND_PROBLEM =
  `field 'command' must be an array of 1 to ${FUNCTION_BOUNDS.commandArgs} strings ` +
  `(["executable", ...args]) with a non-empty executable`
const URL_PROBLEM = 'provider "http" needs a \'url\': an http:// or https:// URL'

type BoundedField = 'memoryMb' | 'timeoutMs' | 'concurrency' | 'batchSize' | 'batchWaitMs'

/** A whole number within one of `FUNCTION_BOUNDS`' ranges, named `name` in the body. */
function wholeNumber(field: BoundedField, name: string = field) {
  const { min, max } = FUNCTION_BOUNDS[field]
  const problem = `field '${name}' must be a whole number from ${min} to ${max}`
  return z.int({ error: problem }).min(min, { error: problem }).max(max, { error: problem })
}

/** An optional field of `wholeNumber`. */
function bounded(field: BoundedField, description: string, name: string = field) {
  return wholeNumber(field, name).optional().meta({ description })
}

function isHttpUrl(url: string): boolean {
  return /^https?:\/\//i.test(url) && URL.canParse(url)
}

const FunctionBatch = z
  .strictObject(
    {
      size: wholeNumber('batchSize', 'batch.size').meta({
        description: 'at most this many a dispatch; at most `concurrency`',
      }),
      waitMs: bounded(
        'batchWaitMs',
        `how long the oldest queued one waits for the batch to fill; default ${FUNCTION_DEFAULTS.batchWaitMs}`,
        'batch.waitMs',
      ),
    },
    {
      error: (issue) => {
        if (issue.code === 'unrecognized_keys') {
          const [first = ''] = issue.keys
          return `unknown field ${JSON.stringify(truncate(`batch.${first}`))} (allowed: batch.size, batch.waitMs)`
        }
        if (issue.code === 'invalid_type') {
          return "field 'batch' must be an object: { size, waitMs }"
        }
        return undefined
      },
    },
  )
  .meta({
    id: 'FunctionBatch',
    description:
      'Invocations sent to one host together, each on a slot of its own: a batch leaves once ' +
      '`size` are queued or the oldest has waited `waitMs`, whichever comes first',
  })

/** The body of a function deploy; `codeBase64` is still text here. */
export const DeployFunctionBody = strictBody({
  name: z
    .string({ error: "field 'name' must be a string" })
    .superRefine(checkedBy(functionNameProblem, "field 'name': "))
    .meta({ description: 'the function name (`resize`, `img/resize`)' }),
  runtime: z
    .enum(['nodejs', 'process'], { error: RUNTIME_PROBLEM })
    .optional()
    .meta({ description: 'required, except for provider `http` (recorded as `process`)' }),
  code: z
    .string({ error: CODE_PROBLEM })
    .min(1, { error: CODE_PROBLEM })
    .optional()
    .meta({ description: "`nodejs`: an ES module's source; its default export is the function" }),
  codeBase64: z
    .string({ error: BUNDLE_PROBLEM })
    .min(1, { error: BUNDLE_PROBLEM })
    .regex(BASE64, { error: BUNDLE_PROBLEM })
    .optional()
    .meta({ description: 'a .tgz bundle, base64 (`nodejs`: exactly one of `code` and this)' }),
  command: z
    .array(
      z
        .string({ error: COMMAND_PROBLEM })
        .max(FUNCTION_BOUNDS.commandArgChars, { error: COMMAND_PROBLEM }),
      { error: COMMAND_PROBLEM },
    )
    .min(1, { error: COMMAND_PROBLEM })
    .max(FUNCTION_BOUNDS.commandArgs, { error: COMMAND_PROBLEM })
    .refine((command) => command[0] !== '', { error: COMMAND_PROBLEM })
    .optional()
    .meta({ description: '`process`: required, `["executable", ...args]`' }),
  memoryMb: bounded('memoryMb', 'memory a host takes on the worker; default 128'),
  timeoutMs: bounded('timeoutMs', 'a run past it fails the invocation; default 60 000'),
  concurrency: bounded('concurrency', 'runs one host takes at once; default 1'),
  batch: FunctionBatch.optional().meta({
    description: 'dispatch invocations in batches; absent, each goes alone',
  }),
  provider: z
    .enum(['mesh', 'http'], { error: 'field \'provider\' must be "mesh" or "http"' })
    .optional()
    .meta({ description: '`mesh` (the default): the mesh runs it; `http`: `url` does' }),
  url: z
    .string({ error: URL_PROBLEM })
    .max(FUNCTION_BOUNDS.urlChars, {
      error: `field 'url' is longer than ${FUNCTION_BOUNDS.urlChars} characters`,
    })
    .optional()
    .meta({
      description: 'provider `http`: required, the http(s) endpoint each call is POSTed to',
    }),
})
  .superRefine((body, ctx) => {
    const problems: string[] = []
    const concurrency = body.concurrency ?? FUNCTION_DEFAULTS.concurrency
    if (body.batch !== undefined && body.batch.size > concurrency) {
      problems.push(
        `field 'batch.size' (${body.batch.size}) must not exceed 'concurrency' (${concurrency}): ` +
          'a batch runs on one host, one invocation a slot',
      )
    }
    if (body.provider === 'http') {
      if (body.url === undefined || !isHttpUrl(body.url)) problems.push(URL_PROBLEM)
      for (const field of ['code', 'codeBase64', 'command'] as const) {
        if (body[field] !== undefined) {
          problems.push(`provider "http" takes no '${field}': it calls its url`)
        }
      }
    } else {
      if (body.url !== undefined) problems.push('field \'url\' is only for provider "http"')
      if (body.runtime === undefined) problems.push(RUNTIME_PROBLEM)
      if (body.code !== undefined && body.codeBase64 !== undefined) {
        problems.push("give either 'code' or 'codeBase64', not both")
      }
      if (body.runtime === 'nodejs') {
        if (body.code === undefined && body.codeBase64 === undefined) {
          problems.push(
            "runtime 'nodejs' needs 'code' (a module's source) or 'codeBase64' (a .tgz bundle)",
          )
        }
        if (body.command !== undefined) problems.push("runtime 'nodejs' takes no 'command'")
      } else if (body.runtime === 'process') {
        if (body.command === undefined) problems.push("runtime 'process' needs a 'command'")
        if (body.code !== undefined) {
          problems.push("runtime 'process' takes no 'code': give 'codeBase64' (a .tgz)")
        }
      }
    }
    for (const message of problems) ctx.addIssue({ code: 'custom', message })
  })
  .meta({
    id: 'DeployFunctionRequest',
    description:
      'A function to deploy. `nodejs` needs exactly one of `code` and `codeBase64`; ' +
      '`process` needs `command` and takes an optional `codeBase64` bundle; ' +
      'provider `http` needs `url` and takes no code or command.',
    example: { name: 'resize', runtime: 'nodejs', code: 'export default async (input) => input' },
  })

export const DeployChoreographyBody = strictBody({
  name: z
    .string({ error: "field 'name' must be a string" })
    .superRefine(checkedBy(choreographyNameProblem, "field 'name': "))
    .meta({ description: 'the choreography name (one segment: no "/")' }),
  definition: z
    .unknown()
    .nonoptional({ error: "field 'definition' is missing (the root step)" })
    .meta({
      description:
        'the root step (`sequence`, `parallel`, `map`, `choice`, ...): any JSON, which the ' +
        'peer validates, answering 400 with every problem in `details.errors`',
    }),
}).meta({
  id: 'DeployChoreographyRequest',
  example: {
    name: 'ingest',
    definition: { sequence: [{ function: 'classify' }, { function: 'store' }] },
  },
})

// --- answers -----------------------------------------------------------------------------

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.enum(HTTP_ERROR_CODES as [string, ...string[]]),
      message: z.string(),
      details: z
        .record(z.string(), z.unknown())
        .optional()
        .meta({ description: "what the error carries (an invalid choreography's `errors`)" }),
    }),
  })
  .meta({ id: 'Error', description: 'Every error answer.' })

export const Health = z.object({ ok: z.literal(true), peerId: z.string(), version: z.string() })

const PeerInfo = z
  .object({
    peerId: z.string(),
    addrs: z.array(z.string()),
    state: z.enum(['alive', 'suspect', 'dead', 'left']),
    lastSeenMs: z.number().meta({ description: 'since this peer last heard from it' }),
    load: z
      .unknown()
      .optional()
      .meta({ description: 'its latest load summary, if one has arrived' }),
  })
  .meta({ id: 'PeerInfo' })

export const MeshPeers = z.object({ self: z.string(), peers: z.array(PeerInfo) })

const SchedulerInfo = z
  .object({
    guid: z.string(),
    owner: z.string(),
    provider: z.string(),
    peerId: z.string(),
    epoch: z.number(),
    capacity: z.number(),
    pending: z.number(),
    inflight: z.number(),
    arrivalRatePerSec: z
      .number()
      .meta({ description: 'requests per second, exponentially weighted over ~10 s' }),
    forwardedRatePerSec: z
      .number()
      .meta({ description: 'the part of them forwarded by other peers' }),
    state: z
      .enum(['active', 'migrating'])
      .meta({ description: 'migrating while it is being handed to another peer' }),
    warmHosts: z
      .number()
      .optional()
      .meta({ description: 'function hosts it keeps warm (schedulers of the peer asked only)' }),
  })
  .meta({ id: 'SchedulerInfo' })

export const Schedulers = z.object({ schedulers: z.array(SchedulerInfo) })

const StepError = z
  .object({ code: z.string(), message: z.string(), step: z.string() })
  .meta({ id: 'StepError' })

const TaskTrace = z
  .object({
    taskId: z.string(),
    attempt: z.number(),
    status: z.enum(['queued', 'running', 'succeeded', 'failed', 'timed-out', 'cancelled']),
    invokedAt: z.number().optional(),
    endedAt: z.number().optional(),
    peerId: z.string().optional(),
    error: z.string().optional(),
  })
  .meta({ id: 'TaskTrace' })

const StepTrace: z.ZodType = z
  .object({
    path: z.string().meta({ description: 'the step instance (`/definition/map[3]/sequence/0`)' }),
    kind: z.string(),
    name: z.string().optional(),
    fn: z.string().optional(),
    choreography: z.string().optional(),
    status: z.enum(['pending', 'running', 'succeeded', 'failed', 'skipped']),
    attempts: z.number(),
    startedAt: z.number().optional(),
    endedAt: z.number().optional(),
    error: StepError.optional(),
    tasks: z.array(TaskTrace).optional(),
    items: z
      .object({ total: z.number(), started: z.number(), succeeded: z.number(), failed: z.number() })
      .optional(),
    branch: z.union([z.number(), z.literal('otherwise')]).optional(),
    get children() {
      return z.array(StepTrace).optional()
    },
  })
  .meta({ id: 'StepTrace' })

const RunTrace = z
  .object({
    id: z.string(),
    choreography: z.string(),
    status: z.enum(['pending', 'running', 'succeeded', 'failed']),
    startedAt: z.number().optional(),
    endedAt: z.number().optional(),
    error: StepError.optional(),
    root: StepTrace,
  })
  .meta({ id: 'RunTrace' })

const InvocationStatus = z.enum(['queued', 'running', 'succeeded', 'failed'])

export const InvocationView = z
  .object({
    id: z.string(),
    status: InvocationStatus,
    output: z.unknown().optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
    peerId: z.string().optional().meta({ description: 'where it ran (or runs)' }),
    trace: RunTrace.optional().meta({ description: "a choreography's: every step" }),
    attempts: z
      .int()
      .min(0)
      .optional()
      .meta({
        description:
          'times it was started: a preempted or retried one starts over (absent when the ' +
          'answering peer does not know)',
      }),
    preemptions: z.int().min(0).optional().meta({
      description: 'times a high-priority invocation evicted it while it ran, each a restart',
    }),
  })
  .meta({
    id: 'InvocationView',
    description: 'An invocation; a failed one is data (`status: "failed"`, `error`), not an error',
  })

export const InvocationAccepted = z
  .object({ id: z.string(), status: InvocationStatus })
  .meta({ id: 'InvocationAccepted' })

export const DeployedFunction = z
  .object({
    name: z.string(),
    version: z.number(),
    revision: z.string().meta({ description: 'unique per deploy' }),
    digest: z.string().optional().meta({ description: "the code's sha256" }),
  })
  .meta({ id: 'DeployedFunction' })

export const FunctionView = z
  .object({
    owner: z.string(),
    name: z.string(),
    version: z.number(),
    revision: z.string(),
    deployedAt: z.number(),
    runtime: z.string(),
    provider: z.string(),
    memoryMb: z.number(),
    timeoutMs: z.number(),
    concurrency: z.number(),
    digest: z.string().optional(),
    command: z.array(z.string()).optional(),
    url: z.string().optional(),
    batch: z
      .object({ size: z.number(), waitMs: z.number() })
      .optional()
      .meta({ description: 'absent: each invocation is dispatched alone' }),
  })
  .meta({ id: 'FunctionView' })

export const FunctionList = z.object({ functions: z.array(FunctionView) })

export const Deleted = z
  .object({ name: z.string(), version: z.number().meta({ description: "the delete's version" }) })
  .meta({ id: 'Deleted' })

export const DeployedChoreography = z
  .object({ name: z.string(), version: z.number(), revision: z.string() })
  .meta({ id: 'DeployedChoreography' })

export const ChoreographyView = z
  .object({
    owner: z.string(),
    name: z.string(),
    version: z.number(),
    revision: z.string(),
    deployedAt: z.number(),
    definition: z.unknown(),
  })
  .meta({ id: 'ChoreographyView' })

export const ChoreographyList = z.object({ choreographies: z.array(ChoreographyView) })
