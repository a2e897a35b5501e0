/** fuzzy-wratio.wasm as the Worker's bundle imports it: wrangler uploads the file, the runtime hands in its module. */
declare const module: WebAssembly.Module;
export default module;
