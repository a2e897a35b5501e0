export * from "./api-keys.ts";
export * from "./files.ts";
export * from "./projects.ts";
export * from "./uploads.ts";
