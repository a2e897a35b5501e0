/**
 * The shape of one dataset line (one example), checked on a parsed JSON value. Pure: no I/O.
 *
 * Reinforcement (RFT) examples end with a user or developer message; every key other than `messages` and `tools`
 * is data for the graders (`{{ item.<key> }}`). Supervised examples end with an assistant message.
 */

export type DatasetFormat = "reinforcement" | "supervised";

export const MESSAGE_ROLES = ["system", "developer", "user", "assistant", "tool"] as const;
const ROLES = new Set<string>(MESSAGE_ROLES);

/** Keys that are not grader data in an RFT line. */
const RESERVED_KEYS = new Set(["messages", "tools"]);

export type ExampleCheck = { ok: true; format: DatasetFormat; itemKeys: string[] } | { ok: false; message: string };

const describe = (value: unknown): string => {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
};

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Text parts everywhere; image parts only where a user speaks (RFT inputs may carry images). */
function checkContent(message: Record<string, unknown>, at: string): string | null {
  const { content, role } = message;
  if (typeof content === "string") return null;
  if ((content === undefined || content === null) && role === "assistant" && Array.isArray(message.tool_calls)) {
    return null;
  }
  if (!Array.isArray(content)) {
    return `${at}.content must be a string or an array of text parts, got ${describe(content)}`;
  }
  for (const [i, part] of content.entries()) {
    if (!isObject(part)) return `${at}.content[${i}] must be an object like {"type": "text", "text": "..."}`;
    if (part.type === "text") {
      if (typeof part.text !== "string") return `${at}.content[${i}].text must be a string`;
    } else if (part.type === "image_url" && role === "user") {
      if (!isObject(part.image_url) || typeof part.image_url.url !== "string") {
        return `${at}.content[${i}].image_url.url must be a string`;
      }
    } else {
      return `${at}.content[${i}].type must be "text", got ${JSON.stringify(part.type ?? null)}`;
    }
  }
  return null;
}

/** Checks one parsed line; the message names the field that is wrong. */
export function checkExample(value: unknown): ExampleCheck {
  if (!isObject(value)) return { ok: false, message: `expected a JSON object, got ${describe(value)}` };
  const { messages, tools } = value;
  if (messages === undefined)
    return { ok: false, message: "missing 'messages' (an array of {role, content} messages)" };
  if (!Array.isArray(messages)) return { ok: false, message: `'messages' must be an array, got ${describe(messages)}` };
  if (messages.length === 0) return { ok: false, message: "'messages' is empty" };
  for (const [i, message] of messages.entries()) {
    const at = `messages[${i}]`;
    if (!isObject(message)) return { ok: false, message: `${at} must be an object, got ${describe(message)}` };
    if (typeof message.role !== "string" || !ROLES.has(message.role)) {
      return {
        ok: false,
        message: `${at}.role must be one of ${MESSAGE_ROLES.join(", ")}; got ${JSON.stringify(message.role ?? null)}`,
      };
    }
    const problem = checkContent(message, at);
    if (problem) return { ok: false, message: problem };
  }
  if (tools !== undefined && !Array.isArray(tools)) {
    return { ok: false, message: `'tools' must be an array, got ${describe(tools)}` };
  }
  const lastRole = (messages.at(-1) as { role: string }).role;
  if (lastRole === "user" || lastRole === "developer") {
    return { ok: true, format: "reinforcement", itemKeys: Object.keys(value).filter((k) => !RESERVED_KEYS.has(k)) };
  }
  if (lastRole === "assistant") return { ok: true, format: "supervised", itemKeys: [] };
  return {
    ok: false,
    message: `the last message is from '${lastRole}'; a reinforcement example ends with a user or developer message, a supervised one with an assistant message`,
  };
}
