// The Node `openai` SDK (https://github.com/openai/openai-node) as an app would use it:
// a Chat Completions stream and a Responses API call (streamed and not) against BASE_URL.
// Prints one JSON object for test_matrix_node.py to compare (direct against the mock vs
// through the proxy). Usage: node matrix.mjs http://127.0.0.1:PORT/v1
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.argv[2], apiKey: "sk-node-test", maxRetries: 0 });

async function chatStream() {
  const stream = await client.chat.completions.create({
    model: "gpt-4o",
    messages: [{ role: "user", content: "Hello, how are you?" }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "";
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    usage = chunk.usage ?? usage;
    for (const choice of chunk.choices) {
      text += choice.delta.content ?? "";
      finish = choice.finish_reason ?? finish;
    }
  }
  return { text, finish, usage: [usage.prompt_tokens, usage.completion_tokens] };
}

async function responses() {
  const response = await client.responses.create({ model: "gpt-4.1-nano", input: "Hello" });
  const stream = await client.responses.create({
    model: "gpt-4.1-nano",
    input: "Hello",
    stream: true,
  });
  let text = "";
  let completed = null;
  for await (const event of stream) {
    if (event.type === "response.output_text.delta") text += event.delta;
    if (event.type === "response.completed") completed = event.response;
  }
  return {
    text: response.output_text,
    usage: [response.usage.input_tokens, response.usage.output_tokens],
    streamed_text: text,
    streamed_usage: [completed.usage.input_tokens, completed.usage.output_tokens],
  };
}

const out = { chat_stream: await chatStream(), responses: await responses() };
process.stdout.write(JSON.stringify(out));
