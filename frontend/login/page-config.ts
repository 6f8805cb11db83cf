/**
 * The settings the signer rendered into the sign-in page (worker/routes/login.ts): Home
 * Assistant's URL, the validated return address and the redirect policy to re-check it.
 */
import type { RedirectPolicy } from "../../worker/http/redirect-allowlist.js";

export interface PageConfig {
  haUrl: string;
  action: "login" | "logout" | "confirm-logout";
  rd: string | null;
  rdRejected: boolean;
  policy: RedirectPolicy;
}

const ELEMENT_ID = "jwt-cookie-login-config";

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string");
}

export function readPageConfig(doc: Document = document): PageConfig {
  const text = doc.getElementById(ELEMENT_ID)?.textContent;
  if (!text) throw new Error("The sign-in page has no configuration; reload it from the signer.");
  const raw = JSON.parse(text) as Record<string, unknown>;
  const policy = raw.policy as Record<string, unknown> | undefined;
  const cookie = policy?.cookie as Record<string, unknown> | undefined;
  if (
    typeof raw.haUrl !== "string" ||
    (raw.action !== "login" && raw.action !== "logout" && raw.action !== "confirm-logout") ||
    (raw.rd !== null && typeof raw.rd !== "string") ||
    typeof raw.rdRejected !== "boolean" ||
    !policy ||
    typeof policy.haUrl !== "string" ||
    (policy.publicUrl !== undefined && typeof policy.publicUrl !== "string") ||
    !isStringList(policy.redirectAllowlist) ||
    (cookie?.domain !== undefined && typeof cookie?.domain !== "string")
  ) {
    throw new Error("The sign-in page's configuration is malformed; reload it from the signer.");
  }
  return {
    haUrl: raw.haUrl,
    action: raw.action,
    rd: raw.rd,
    rdRejected: raw.rdRejected,
    policy: {
      cookie: { domain: cookie?.domain as string | undefined },
      haUrl: policy.haUrl,
      publicUrl: policy.publicUrl as string | undefined,
      redirectAllowlist: policy.redirectAllowlist,
    },
  };
}
