/** Calls to a peer's HTTP API for integration tests: JSON in, status and JSON body out. */

export interface Answer {
  status: number
  body: Record<string, unknown>
}

/** Anything with an HTTP API: an in-process test peer or a spawned one. */
interface HasHttp {
  readonly httpUrl: string
}

/** `method path` with `body` as JSON (none when undefined). */
export function call(peer: HasHttp, method: string, path: string, body?: unknown): Promise<Answer> {
  return send(peer, method, path, body === undefined ? undefined : JSON.stringify(body))
}

/** Sends `raw` as it is, for bodies that are not JSON. */
export async function send(
  peer: HasHttp,
  method: string,
  path: string,
  raw?: string,
  contentType = 'application/json',
): Promise<Answer> {
  const res = await fetch(`${peer.httpUrl}${path}`, {
    method,
    ...(raw === undefined ? {} : { headers: { 'content-type': contentType }, body: raw }),
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}
