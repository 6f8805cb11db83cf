/**
 * ACCESS_RULES: per-host restrictions applied after the session is valid. Hosts are compared
 * only in their canonical form (canonical-host.ts): "GRAFANA.example.test.:8080" gets the rule
 * of "grafana.example.test". When rules exist, a missing or invalid host is refused: no rule
 * could be chosen, and "no rule" must never mean "allowed" by accident.
 */
import type { AccessRule } from "../config.js";
import type { SessionClaims } from "../tokens/sign.js";
import { canonicalHost } from "./canonical-host.js";

export type AccessDecision = { allowed: true } | { allowed: false; reason: string };

/**
 * The rule for a host: its exact entry, else the most specific wildcard (*.a.example.com
 * before *.example.com). `host` must be canonical (config.ts stores the keys canonically).
 */
export function ruleFor(rules: Record<string, AccessRule>, host: string): AccessRule | undefined {
  if (Object.hasOwn(rules, host)) return rules[host];
  const labels = host.split(".");
  for (let i = 1; i < labels.length; i++) {
    const key = `*.${labels.slice(i).join(".")}`;
    if (Object.hasOwn(rules, key)) return rules[key];
  }
  return undefined;
}

export function decideAccess(rules: Record<string, AccessRule>, rawHost: string | undefined, claims: SessionClaims): AccessDecision {
  if (Object.keys(rules).length === 0) return { allowed: true };
  if (rawHost === undefined) {
    return { allowed: false, reason: "ACCESS_RULES are set but the proxy did not send X-Forwarded-Host, so the rule cannot be chosen." };
  }
  const host = canonicalHost(rawHost);
  if (host === undefined) {
    return {
      allowed: false,
      reason: `ACCESS_RULES are set but the forwarded host ${JSON.stringify(rawHost.slice(0, 100))} is not a valid host name, so the rule cannot be chosen.`,
    };
  }
  const rule = ruleFor(rules, host);
  if (!rule) return { allowed: true };
  if (rule.users && !rule.users.includes(claims.sub)) {
    return { allowed: false, reason: `${claims.name} is not one of the users allowed on ${host}.` };
  }
  if (rule.roles && !rule.roles.some((role) => claims.roles.includes(role))) {
    return { allowed: false, reason: `${host} needs the role ${rule.roles.join(" or ")}.` };
  }
  return { allowed: true };
}
