import { createServer } from 'node:http';
import { LlamaChat, type ChatHistoryItem } from 'node-llama-cpp';
import { GeneratorConfigSchema } from '../../generator/local/config.js';
import { LocalGenerator } from '../../generator/local/local-generator.js';

/**
 * bench:generator's HTTP floor: a bare node:http server that streams node-llama-cpp's tokens as OpenAI chat
 * completion chunks (one SSE event per text chunk, then a usage chunk and `[DONE]`), with no moderation, no
 * policy, no records, no metrics. What any HTTP gateway in front of the runtime pays at least, so the gateway's
 * own overhead can be told apart from HTTP + SSE. Its own process, like the gateway; prints its port on stdout.
 *
 * Arguments: MODEL THREADS CONTEXT_SIZE SEQUENCES.
 */
const [model, threads, contextSize, sequences] = process.argv.slice(2);
const settings = {
  ...GeneratorConfigSchema.parse({}),
  model: model as string,
  gpu: 'cpu' as const,
  threads: Number(threads),
  contextSize: Number(contextSize),
  sequences: Number(sequences),
};
const gen = await LocalGenerator.open(settings);
const context = await gen.runtime.model.createContext({
  contextSize: settings.contextSize,
  sequences: settings.sequences,
  threads: settings.threads,
});
const chats = Array.from(
  { length: settings.sequences },
  () => new LlamaChat({ contextSequence: context.getSequence(), chatWrapper: gen.runtime.chatWrapper }),
);

interface Body {
  messages: { content: string }[];
  max_tokens: number;
  temperature: number;
  seed: number;
}

const server = createServer((req, res) => {
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (d: string) => (raw += d));
  req.on('end', () => {
    const body = JSON.parse(raw) as Body;
    const chat = chats.pop();
    if (!chat) {
      res.writeHead(429).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    const id = `chatcmpl-${Date.now()}`;
    const created = Math.floor(Date.now() / 1000);
    const send = (delta: object, finish: string | null, usage?: object) =>
      res.write(
        `data: ${JSON.stringify({
          id,
          object: 'chat.completion.chunk',
          created,
          model: 'tiny',
          choices: usage ? [] : [{ index: 0, delta, finish_reason: finish }],
          ...(usage ? { usage } : {}),
        })}\n\n`,
      );
    send({ role: 'assistant', content: '' }, null);
    let tokens = 0;
    const history: ChatHistoryItem[] = [
      { type: 'user', text: body.messages[0]?.content ?? '' },
      { type: 'model', response: [] },
    ];
    chat
      .generateResponse(history, {
        maxTokens: body.max_tokens,
        temperature: body.temperature,
        topP: settings.topP,
        seed: body.seed,
        onTextChunk: (text) => send({ content: text }, null),
        onToken: (t) => (tokens += t.length),
      })
      .then(
        () => {
          send({}, 'stop');
          send({}, null, { prompt_tokens: 0, completion_tokens: tokens, total_tokens: tokens });
          res.end('data: [DONE]\n\n');
        },
        (e: Error) => res.destroy(e),
      )
      .finally(() => chats.push(chat));
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});
process.on('SIGTERM', () => {
  server.close(
    () =>
      void context
        .dispose()
        .then(() => gen.close())
        .then(() => process.exit(0)),
  );
  server.closeAllConnections();
});
