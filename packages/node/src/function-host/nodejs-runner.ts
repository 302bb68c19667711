/**
 * The child side of a `nodejs` function host: OpenWhisk's action-runtime contract on
 * 127.0.0.1, on a port the OS picks. `FunctionHost` starts it with an IPC channel and learns
 * the port from its first message, `{ type: 'ready', port }` (run by hand, it prints that
 * message as a JSON line instead).
 *
 *   POST /init  { "value": { "code": "<ES module>", "main"?: "default" } }
 *            or { "value": { "codeDir": "/abs/dir", "entry"?: "index.js", "main"?: "default" } }
 *               → 200 { "ok": true } | 502 { "error" } (does not load) | 403 (second /init)
 *   POST /run   { "value": <input>, "activation_id"?: string, "deadline"?: <epoch ms> }
 *               → 200 <output as JSON> | 502 { "error": "<the function's message>" }
 *
 * Inline code is written to `function.mjs` in the host's temp dir ($CHORUS_HOST_TMPDIR, which
 * the parent removes) and imported. The function is `async (input, context) => output`.
 * Runs may overlap (the parent caps them at the host's concurrency). The host exits when its
 * parent goes away (the IPC channel closes), removing its temp dir. An uncaught error or an
 * unhandled rejection crashes the host, as Node does by default: the parent fails the runs in
 * flight.
 *
 * This file is a standalone script: it imports nothing but Node's own modules, so that it
 * starts fast.
 */
import { readFileSync, rmSync } from 'node:fs'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve, sep } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { FunctionContext } from './host-spec.js'

type Action = (input: unknown, context: FunctionContext) => unknown
type Answer = readonly [status: number, body: unknown]

const TMPDIR_VARIABLE = 'CHORUS_HOST_TMPDIR'

let action: Action | undefined
let initCalled = false
const tmpDirFromParent = process.env[TMPDIR_VARIABLE]
let tmpDir = tmpDirFromParent
delete process.env[TMPDIR_VARIABLE]

const server = createServer((req, res) => {
  handle(req, res).catch((err: unknown) => answer(res, [500, { error: errorMessage(err) }]))
})
// The parent keeps connections alive for as long as the host lives; runs may take minutes.
server.keepAliveTimeout = 0
server.requestTimeout = 0

server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  const ready = { type: 'ready', port: typeof address === 'object' && address ? address.port : 0 }
  if (process.send) process.send(ready)
  else process.stdout.write(`${JSON.stringify(ready)}\n`)
})
process.on('disconnect', () => {
  // The parent is gone, perhaps without a chance to clean up after us.
  if (tmpDirFromParent !== undefined) rmSync(tmpDirFromParent, { recursive: true, force: true })
  process.exit(0)
})

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'POST' || (req.url !== '/init' && req.url !== '/run')) {
    answer(res, [404, { error: `no route ${req.method} ${req.url}: POST /init or /run` }])
    return
  }
  let body: Record<string, unknown>
  try {
    body = await readJson(req)
  } catch (err) {
    answer(res, [400, { error: `the request is not JSON: ${errorMessage(err)}` }])
    return
  }
  answer(res, req.url === '/init' ? await init(body) : await run(body))
}

async function init(body: Record<string, unknown>): Promise<Answer> {
  if (initCalled) {
    return [403, { error: 'Internal error. Cannot initialize the action more than once.' }]
  }
  initCalled = true
  const value = asRecord(body['value'])
  try {
    let file: string
    if (value['binary'] === true) {
      throw new Error('binary code is not supported: extract the bundle and send its codeDir')
    } else if (typeof value['code'] === 'string') {
      tmpDir ??= await mkdtemp(join(tmpdir(), 'chorus-host-'))
      file = join(tmpDir, 'function.mjs')
      await writeFile(file, value['code'])
    } else if (typeof value['codeDir'] === 'string') {
      file = entryFile(value['codeDir'], value['entry'])
    } else {
      throw new Error('value needs code (module source) or codeDir')
    }
    const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>
    const main =
      typeof value['main'] === 'string' && value['main'] !== '' ? value['main'] : 'default'
    const fn = module[main] ?? asRecord(module['default'])[main]
    if (typeof fn !== 'function') {
      const what = main === 'default' ? 'default export' : `export ${main}`
      throw new Error(`the module's ${what} is not a function (it is ${typeName(fn)})`)
    }
    action = fn as Action
    return [200, { ok: true }]
  } catch (err) {
    return [502, { error: `the function does not load: ${errorName(err)}${errorMessage(err)}` }]
  }
}

async function run(body: Record<string, unknown>): Promise<Answer> {
  if (action === undefined) return [403, { error: 'not initialized: POST /init first' }]
  const id = body['activation_id']
  const deadline = body['deadline']
  const context: FunctionContext = {
    invocationId: typeof id === 'string' ? id : '',
    deadline: typeof deadline === 'number' ? deadline : Number.POSITIVE_INFINITY,
    remainingMs() {
      return this.deadline - Date.now()
    },
  }
  let output: unknown
  try {
    output = await action(body['value'], context)
  } catch (err) {
    return [502, { error: errorMessage(err) }]
  }
  return [200, output]
}

function answer(res: ServerResponse, [status, body]: Answer): void {
  let json: string
  try {
    // undefined (and anything else JSON cannot say) is answered as null
    json = JSON.stringify(body) ?? 'null'
  } catch (err) {
    status = 502
    json = JSON.stringify({ error: `the function's output is not JSON: ${errorMessage(err)}` })
  }
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(json),
  })
  res.end(json)
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString('utf8')
  return text === '' ? {} : asRecord(JSON.parse(text))
}

/** The module to import from a bundle's directory; never outside it. */
function entryFile(codeDir: string, entry: unknown): string {
  const dir = resolve(codeDir)
  let name = typeof entry === 'string' && entry !== '' ? entry : undefined
  if (name === undefined) {
    try {
      const main = asRecord(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')))['main']
      if (typeof main === 'string' && main !== '') name = main
    } catch {
      // no package.json, or not JSON: the default entry
    }
  }
  name ??= 'index.js'
  const file = resolve(dir, name)
  if (!file.startsWith(dir + sep)) throw new Error(`entry ${name} is outside codeDir`)
  return file
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {}
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message !== '' ? err.message : err.name
  if (typeof err === 'string') return err
  try {
    return JSON.stringify(err) ?? String(err)
  } catch {
    return String(err)
  }
}

function errorName(err: unknown): string {
  return err instanceof Error && err.name !== 'Error' ? `${err.name}: ` : ''
}

function typeName(value: unknown): string {
  return value === null ? 'null' : typeof value
}
