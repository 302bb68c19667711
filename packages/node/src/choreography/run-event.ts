/** What the shell tells a choreography run, with the time: task outcomes and ticks. */
export type RunEvent =
  /** The task ran; `output` (JSON; missing means null) is the step's output. */
  | {
      readonly type: 'task-completed'
      readonly taskId: string
      readonly output?: unknown
      /** The peer whose worker ran it, for the trace. */
      readonly peerId?: string
    }
  /** The task failed (the function threw, its host died, the scheduler gave up, ...). */
  | {
      readonly type: 'task-failed'
      readonly taskId: string
      readonly error: string
      readonly peerId?: string
    }
  /** Time passed: deadlines up to `now` fall due. */
  | { readonly type: 'tick' }

export type RunEventType = RunEvent['type']
