/**
 * The key of one (owner, provider) scheduler, as the directory, the scheduler host and
 * the peer name it: `owner/provider`. An owner name holds no '/' (names.ts), so the last
 * '/' splits a key back into its two parts.
 */

export function schedulerKey(owner: string, provider: string): string {
  return `${owner}/${provider}`
}

/** The (owner, provider) of a key made by `schedulerKey`; a key without '/' is all owner. */
export function splitSchedulerKey(key: string): [owner: string, provider: string] {
  const at = key.lastIndexOf('/')
  return at < 0 ? [key, ''] : [key.slice(0, at), key.slice(at + 1)]
}
