// Benign look-alike: a Debug Adapter Protocol client (Microsoft's @vscode/debugadapter-testsupport
// DebugClient, the client VS Code's debug adapters are tested with) attaching to debugpy over TCP.
// DAP messages are JSON with Content-Length framing like LSP, and open with an `initialize` request
// whose answer lists the adapter's capabilities.
//
//   node dap_client.mjs --port 5678 --program /abs/path/dap_target.py --line N
import dap from '@vscode/debugadapter-testsupport';

const { DebugClient } = dap;
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const port = Number(arg('port', '5678'));
const program = arg('program');
const line = Number(arg('line', '9'));

const dc = new DebugClient('node', 'unused', 'python');
dc.defaultTimeout = 15000;
await dc.start(port); // connect to the adapter already listening, instead of spawning one
const init = await dc.initializeRequest({
  adapterID: 'python', clientID: 'vscode', clientName: 'Visual Studio Code', locale: 'en',
  linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path',
  supportsVariableType: true, supportsRunInTerminalRequest: false,
});
console.log('capabilities', Object.keys(init.body || {}).length);
const initialized = dc.waitForEvent('initialized');
const attached = dc.attachRequest({ name: 'Attach to report job', type: 'python', request: 'attach', justMyCode: true });
await initialized;
const bp = await dc.setBreakpointsRequest({ source: { path: program }, breakpoints: [{ line }] });
console.log('breakpoint verified', bp.body.breakpoints[0].verified);
await dc.setExceptionBreakpointsRequest({ filters: [] });
const stopped = dc.waitForEvent('stopped');
await dc.configurationDoneRequest();
await attached;
const ev = await stopped;
const st = await dc.stackTraceRequest({ threadId: ev.body.threadId, startFrame: 0, levels: 5 });
console.log('stopped in', st.body.stackFrames[0].name, 'line', st.body.stackFrames[0].line);
const scopes = await dc.scopesRequest({ frameId: st.body.stackFrames[0].id });
const vars = await dc.variablesRequest({ variablesReference: scopes.body.scopes[0].variablesReference });
console.log('locals', vars.body.variables.map((v) => `${v.name}=${v.value}`).join(' '));
const terminated = dc.waitForEvent('terminated');
await dc.continueRequest({ threadId: ev.body.threadId });
await terminated;
await dc.stop();
