/** The configuration given to a scheduler is not usable. */
export class InvalidConfigError extends Error {
  static readonly code = 'ERR_INVALID_CONFIG'
  readonly code = InvalidConfigError.code
  constructor(message: string) {
    super(`invalid scheduler config: ${message}`)
    this.name = 'InvalidConfigError'
  }
}

/** A snapshot given to `restore()` is malformed or inconsistent. */
export class InvalidSnapshotError extends Error {
  static readonly code = 'ERR_INVALID_SNAPSHOT'
  readonly code = InvalidSnapshotError.code
  readonly path: string
  constructor(path: string, message: string) {
    super(`invalid scheduler snapshot at ${path}: ${message}`)
    this.name = 'InvalidSnapshotError'
    this.path = path
  }
}
