// The official TypeScript SDK client, driven by internal/e2e (mcp_thirdparty_test.go):
//   node tsclient.mjs SDK_DIR http URL TOOL ARGS_JSON
//   node tsclient.mjs SDK_DIR stdio COMMAND_JSON TOOL ARGS_JSON
// It connects, lists tools, calls TOOL with ARGS_JSON (asking for progress), and prints one JSON
// line: {protocolVersion, tools: [names], result, progress: n, asked: [messages]}.
// With ELICIT set (accept, decline or cancel) it declares form elicitation and answers every
// question with that action (accept with {"confirm": true}).
import path from "node:path";
import { pathToFileURL } from "node:url";

const [sdkDir, kind, target, tool, argsJSON] = process.argv.slice(2);
const esm = (p) => import(pathToFileURL(path.join(sdkDir, "node_modules/@modelcontextprotocol/sdk/dist/esm", p)).href);
const { Client } = await esm("client/index.js");
let transport;
if (kind === "http") {
  const { StreamableHTTPClientTransport } = await esm("client/streamableHttp.js");
  transport = new StreamableHTTPClientTransport(new URL(target));
} else {
  const { StdioClientTransport } = await esm("client/stdio.js");
  const [command, ...args] = JSON.parse(target);
  transport = new StdioClientTransport({ command, args, stderr: "inherit" });
}
const elicit = process.env.ELICIT;
const client = new Client({ name: "e2e-ts-sdk", version: "1.0.0" }, elicit ? { capabilities: { elicitation: { form: {} } } } : undefined);
const asked = [];
if (elicit) {
  const { ElicitRequestSchema } = await esm("types.js");
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    asked.push(req.params.message);
    return elicit === "accept" ? { action: "accept", content: { confirm: true } } : { action: elicit };
  });
}
await client.connect(transport);
const { tools } = await client.listTools();
let progress = 0;
const result = await client.callTool({ name: tool, arguments: JSON.parse(argsJSON) }, undefined, {
  onprogress: () => { progress++; },
  timeout: 30000,
});
console.log(JSON.stringify({ protocolVersion: transport.protocolVersion ?? null, tools: tools.map((t) => t.name), result, progress, asked }));
await client.close();
