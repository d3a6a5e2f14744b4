/** A typed Responses API event as a test reads it. */
export type TypedEvent = { type: string; sequence_number: number } & Record<string, unknown>;

/**
 * Posts a streamed /v1/responses request and returns the response and its typed events, checking on the way
 * that each event's SSE `event:` name equals its `type`.
 */
export async function sseResponses(url: string, body: object, headers: Record<string, string>) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true }),
  });
  const text = await res.text();
  const events = text
    .split('\n\n')
    .filter((block) => block.includes('data: '))
    .map((block) => {
      const name = /^event: (.*)$/m.exec(block)?.[1];
      const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null') as TypedEvent;
      if (name !== data.type) throw new Error(`event name ${name} but type ${data.type}`);
      return data;
    });
  return { res, events, text };
}

/** The concatenated `delta`s of one event type. */
export const deltas = (events: TypedEvent[], type: string) =>
  events
    .filter((e) => e.type === type)
    .map((e) => String(e.delta))
    .join('');
