/**
 * The exceptions of the choreography core: one class per condition, each with structured
 * fields. Expected outcomes (a bad definition, a bad event) are data, not exceptions: these
 * are thrown only by the parsers, by `restore()` and by a misused constructor.
 */

/** A JSON path (`$.a['b'][0]`) that does not parse. `position` is the offending offset. */
export class JsonPathSyntaxError extends Error {
  static readonly code = 'ERR_JSON_PATH_SYNTAX'
  readonly code = JsonPathSyntaxError.code
  readonly text: string
  readonly position: number
  constructor(text: string, position: number, message: string) {
    super(`bad JSON path at offset ${position}: ${message}`)
    this.name = 'JsonPathSyntaxError'
    this.text = text
    this.position = position
  }
}

/** A condition (`$.size > 1000 && $.kind == "image"`) that does not parse. */
export class ConditionSyntaxError extends Error {
  static readonly code = 'ERR_CONDITION_SYNTAX'
  readonly code = ConditionSyntaxError.code
  readonly text: string
  readonly position: number
  constructor(text: string, position: number, message: string) {
    super(`bad condition at offset ${position}: ${message}`)
    this.name = 'ConditionSyntaxError'
    this.text = text
    this.position = position
  }
}

/** Text given to `parseChoreographyText` that is neither JSON nor YAML. */
export class ChoreographyTextError extends Error {
  static readonly code = 'ERR_CHOREOGRAPHY_TEXT'
  readonly code = ChoreographyTextError.code
  /** 1-based line and column of the problem, when the parser knows them. */
  readonly line: number | undefined
  readonly column: number | undefined
  constructor(message: string, line?: number, column?: number) {
    super(line === undefined ? message : `${message} (line ${line}, column ${column ?? 1})`)
    this.name = 'ChoreographyTextError'
    this.line = line
    this.column = column
  }
}

/** Options given to `new ChoreographyRun()` that are not usable. */
export class InvalidRunOptionsError extends Error {
  static readonly code = 'ERR_INVALID_RUN_OPTIONS'
  readonly code = InvalidRunOptionsError.code
  constructor(message: string) {
    super(`invalid choreography run options: ${message}`)
    this.name = 'InvalidRunOptionsError'
  }
}

/** A snapshot given to `ChoreographyRun.restore()` is malformed or inconsistent. */
export class InvalidRunSnapshotError extends Error {
  static readonly code = 'ERR_INVALID_RUN_SNAPSHOT'
  readonly code = InvalidRunSnapshotError.code
  readonly path: string
  constructor(path: string, message: string) {
    super(`invalid choreography run snapshot at ${path === '' ? '(root)' : path}: ${message}`)
    this.name = 'InvalidRunSnapshotError'
    this.path = path
  }
}
