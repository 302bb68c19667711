/** A sha256 digest as code is named by: 64 lowercase hex digits. Pure. */
const DIGEST = /^[0-9a-f]{64}$/

export function isDigest(value: string): boolean {
  return DIGEST.test(value)
}
