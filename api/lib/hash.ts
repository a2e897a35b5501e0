/** sha256 hex of a string with Web Crypto (runs on Node and in workerd). */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A new secret: `sk-rft-` + 40 base-62 characters (≈238 bits). */
export function newSecret(prefix = "sk-rft-"): string {
  const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  const bytes = crypto.getRandomValues(new Uint8Array(40));
  let out = prefix;
  for (const b of bytes) out += alphabet[b % 62];
  return out;
}
