/**
 * GET /.well-known/jwt-cookie.json: the signer's check settings as a public document, so a
 * local verifier configured with nothing but SIGNER_URL checks exactly what the signer's
 * own /verify checks, and a change on the signer (ACCESS_RULES, a new cookie domain)
 * reaches every verifier without editing it. It holds no secret: issuer, audience, cookie
 * name and domain, the signer's PUBLIC_URL, HA_URL, REDIRECT_ALLOWLIST and ACCESS_RULES
 * (host names, role names and Home Assistant user ids; docs/self-hosting.md says what
 * that reveals). This module writes it (signer) and reads it back (verifier), validating
 * every field as config.ts validates the same setting.
 */
import { parseAccessRules, parseOrigin, type AccessRule, type ConfigProblem, type Settings } from "../config.js";
import { isHostName } from "../http/canonical-host.js";
import { VERIFY_LEEWAY_SECONDS } from "../tokens/verify.js";
import type { CheckPolicy } from "./session-check.js";

export const CHECK_POLICY_PATH = "/.well-known/jwt-cookie.json";
export const JWKS_PATH = "/.well-known/jwks.json";
export const REVOCATIONS_PATH = "/revocations";

export interface CheckPolicyDocument {
  issuer: string;
  audience: string[];
  leeway_seconds: number;
  cookie: { name: string; domain: string | null };
  /** The signer's PUBLIC_URL (where /login is), null when the signer has none. */
  public_url: string | null;
  ha_url: string;
  redirect_allowlist: string[];
  access_rules: Record<string, AccessRule>;
  jwks_uri: string;
  revocations_uri: string;
}

/** What a verifier checks with: the policy of THE check plus the JWT's issuer and audience. */
export interface VerifierPolicy extends CheckPolicy {
  jwt: { issuer: string; audience: string[] };
}

export function checkPolicyDocument(settings: Settings): CheckPolicyDocument {
  return {
    issuer: settings.jwt.issuer,
    audience: settings.jwt.audience,
    leeway_seconds: VERIFY_LEEWAY_SECONDS,
    cookie: { name: settings.cookie.name, domain: settings.cookie.domain ?? null },
    public_url: settings.publicUrl ?? null,
    ha_url: settings.haUrl,
    redirect_allowlist: settings.redirectAllowlist,
    access_rules: settings.accessRules,
    jwks_uri: JWKS_PATH,
    revocations_uri: REVOCATIONS_PATH,
  };
}

const COOKIE_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;

const isStringList = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === "string" && v !== "");

/** The policy a verifier may use, or the fields that are not what a signer publishes. */
export function parseCheckPolicyDocument(document: unknown): { ok: true; policy: VerifierPolicy } | { ok: false; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const d = (document && typeof document === "object" ? document : {}) as Record<string, unknown>;
  const bad = (key: string, message: string) => problems.push({ key, message });

  if (typeof d.issuer !== "string" || d.issuer === "") bad("issuer", "must be a non-empty string.");
  if (!isStringList(d.audience) || d.audience.length === 0) bad("audience", "must be a non-empty list of strings.");
  const cookie = (d.cookie && typeof d.cookie === "object" ? d.cookie : {}) as Record<string, unknown>;
  if (typeof cookie.name !== "string" || !COOKIE_NAME.test(cookie.name)) bad("cookie.name", "must be a cookie name.");
  const domain = cookie.domain === null ? undefined : cookie.domain;
  if (domain !== undefined && (typeof domain !== "string" || !isHostName(domain.replace(/^\./, "")))) bad("cookie.domain", "must be a domain or null.");
  const publicUrl = d.public_url === null ? undefined : typeof d.public_url === "string" ? parseOrigin(d.public_url) : undefined;
  if (d.public_url !== null && publicUrl === undefined) bad("public_url", "must be an http(s) origin or null.");
  const haUrl = typeof d.ha_url === "string" ? parseOrigin(d.ha_url) : undefined;
  if (haUrl === undefined) bad("ha_url", "must be an http(s) origin.");
  const allowlist = isStringList(d.redirect_allowlist) ? d.redirect_allowlist : undefined;
  if (!allowlist || allowlist.some((e) => !(/^https?:\/\//.test(e) ? parseOrigin(e) === e : isHostName(e.replace(/^\*\./, ""))))) {
    bad("redirect_allowlist", "must be a list of host names, *.domain patterns or origins.");
  }
  const ruleProblems: ConfigProblem[] = [];
  const accessRules = parseAccessRules(JSON.stringify(d.access_rules ?? null), ruleProblems);
  if (!d.access_rules || typeof d.access_rules !== "object" || ruleProblems.length) bad("access_rules", ruleProblems[0]?.message ?? "must be an object.");

  if (problems.length) return { ok: false, problems };
  return {
    ok: true,
    policy: {
      jwt: { issuer: d.issuer as string, audience: d.audience as string[] },
      cookie: { name: cookie.name as string, domain: domain as string | undefined },
      haUrl: haUrl!,
      publicUrl,
      redirectAllowlist: allowlist!,
      accessRules,
    },
  };
}
