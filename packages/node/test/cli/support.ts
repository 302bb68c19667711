/**
 * What the CLI specs share: `run`, the whole CLI (`main`) in process with its output caught,
 * and a fake peer: the real HTTP API, `listen()`ed, over a `FakePeerApi`.
 */
import { main, type CliIo } from '../../src/cli.js'
import { createHttpApi, type HttpServer } from '../../src/http/http-api.js'
import { FakePeerApi } from '../fake-peer-api.js'

export interface Run {
  code: number
  stdout: string
  stderr: string
}

/** Runs `chorus <argv>` with no environment (unless `extra` gives one). */
export async function run(argv: string[], extra: Partial<CliIo> = {}): Promise<Run> {
  let stdout = ''
  let stderr = ''
  const code = await main(argv, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env: {},
    ...extra,
  })
  return { code, stdout, stderr }
}

export interface FakePeer {
  readonly api: FakePeerApi
  readonly server: HttpServer
  /** `['--peer', its URL]`, to append to a command. */
  readonly peer: string[]
}

/** A fake peer's HTTP API on a free port of 127.0.0.1 (close its `server` after). */
export async function startFakePeer(): Promise<FakePeer> {
  const api = new FakePeerApi()
  const server = await createHttpApi(api).listen('127.0.0.1', 0)
  return { api, server, peer: ['--peer', server.url] }
}

/** A URL where nothing listens: a port that was just free. */
export async function closedUrl(): Promise<string> {
  const s = await createHttpApi(new FakePeerApi()).listen('127.0.0.1', 0)
  await s.close()
  return s.url
}
