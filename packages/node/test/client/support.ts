/**
 * What the client specs share: a fake `fetch` that records what it is sent and answers as
 * told, temporary directories, and a way to catch a `ChorusClientError`.
 */
import { mkdtempSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect } from 'vitest'
import {
  ChorusClientError,
  type ClientFetch,
  type ClientRequestInit,
  type InvocationView,
} from '../../src/client/index.js'

export const URL_ = 'http://peer.test:7070'
const dirs: string[] = []

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'chorus-client-'))
  dirs.push(dir)
  return dir
}

export interface Sent {
  readonly method: string
  readonly url: string
  readonly headers: Record<string, string>
  readonly body: unknown
}

export type Reply = { status: number; body?: unknown; text?: string; contentType?: string } | Error

/** A fetch that records what it is sent and answers with `reply` (called once per request). */
export function fakeFetch(reply: (sent: Sent, n: number) => Reply | Promise<Reply>): {
  fetch: ClientFetch
  sent: Sent[]
} {
  const sent: Sent[] = []
  const fetch: ClientFetch = async (url: string, init: ClientRequestInit) => {
    const request = {
      method: init.method,
      url,
      headers: init.headers,
      body: init.body === undefined ? undefined : (JSON.parse(init.body) as unknown),
    }
    sent.push(request)
    const answer = await reply(request, sent.length - 1)
    if (answer instanceof Error) throw answer
    const text = answer.text ?? (answer.body === undefined ? '' : JSON.stringify(answer.body))
    const headers = {
      get: (name: string) => (name === 'content-type' ? (answer.contentType ?? null) : null),
    }
    return { status: answer.status, headers, text: () => Promise.resolve(text) }
  }
  return { fetch, sent }
}

/** Answers one after another (the last one again when they run out). */
export function replies(...answers: Reply[]): ReturnType<typeof fakeFetch> {
  return fakeFetch((_, n) => answers[Math.min(n, answers.length - 1)] as Reply)
}

export async function rejection(promise: Promise<unknown>): Promise<ChorusClientError> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(ChorusClientError)
    return err as ChorusClientError
  }
  throw new Error('expected a rejection')
}

export const FAST_POLL = { initialMs: 1, maxMs: 4 }

/** A 200 answer to `GET /v1/invocations/i1`. */
export const view = (status: InvocationView['status'], extra: Partial<InvocationView> = {}) => ({
  status: 200,
  body: { id: 'i1', status, ...extra },
})
