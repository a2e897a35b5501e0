export * from "./api-keys.ts";
export * from "./files.ts";
export * from "./jobs.ts";
export * from "./models.ts";
export * from "./projects.ts";
export * from "./queue.ts";
export * from "./uploads.ts";
export * from "./webhooks.ts";
