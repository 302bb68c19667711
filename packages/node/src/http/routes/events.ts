import { ChorusError } from '../../errors.js'
import { eventStream } from '../event-stream.js'
import { errorAnswers, textAnswer } from '../openapi.js'
import { bindings, route, type Route } from '../route.js'
import type { RouteDeps } from './index.js'

export function eventRoutes({ events }: RouteDeps): Route[] {
  return [
    route({
      method: 'get',
      path: '/v1/events',
      operationId: 'streamEvents',
      summary: "The peer's events, as Server-Sent Events",
      description:
        'A `: connected to <peerId>` comment first, then each event as ' +
        '`event: <type>\\ndata: <json>\\n\\n`, and a `: heartbeat` comment every 15 s. ' +
        'A client that lets more than 1 MiB pile up unread is dropped.',
      tag: 'events',
      responses: {
        200: textAnswer('The stream, until the client leaves', 'text/event-stream'),
        ...errorAnswers(),
      },
      handle: ({ c }) => {
        const { outgoing, shutdown, streamUntil } = bindings(c)
        // A stream opens at once: checked here, a closing server cannot leave one open.
        if (shutdown?.aborted === true) {
          throw new ChorusError('shutting-down', 'this peer is shutting down; try another one')
        }
        const { response, sink } = eventStream(outgoing, [shutdown, streamUntil])
        try {
          // Subscribing before anything is sent lets a failure still answer 500.
          events.connect(sink)
        } catch (err) {
          sink.end()
          throw err
        }
        return response
      },
    }),
  ]
}
