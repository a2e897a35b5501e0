/** Hono's environment for every route: what middleware puts on the context. */
export type AppEnv = {
  Variables: {
    requestId: string;
    /** The project of the authenticated API key; every query is scoped to it. */
    projectId: string;
    apiKeyId: string;
    role: "admin" | "member";
  };
};
