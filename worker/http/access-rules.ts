/** ACCESS_RULES: per-host restrictions applied by /verify after the JWT is valid. */
import type { AccessRule } from "../config.js";
import type { SessionClaims } from "../tokens/sign.js";

export type AccessDecision = { allowed: true } | { allowed: false; reason: string };

export function ruleFor(rules: Record<string, AccessRule>, host: string): AccessRule | undefined {
  const h = host.toLowerCase();
  if (rules[h]) return rules[h];
  // The most specific wildcard wins: *.a.example.com before *.example.com.
  const labels = h.split(".");
  for (let i = 1; i < labels.length; i++) {
    const rule = rules[`*.${labels.slice(i).join(".")}`];
    if (rule) return rule;
  }
  return undefined;
}

export function decideAccess(rules: Record<string, AccessRule>, host: string | undefined, claims: SessionClaims): AccessDecision {
  if (Object.keys(rules).length === 0) return { allowed: true };
  if (host === undefined) {
    return { allowed: false, reason: "ACCESS_RULES are set but the proxy did not send X-Forwarded-Host, so the rule cannot be chosen." };
  }
  const rule = ruleFor(rules, host.replace(/:\d+$/, ""));
  if (!rule) return { allowed: true };
  if (rule.users && !rule.users.includes(claims.sub)) {
    return { allowed: false, reason: `${claims.name} is not one of the users allowed on ${host}.` };
  }
  if (rule.roles && !rule.roles.some((role) => claims.roles.includes(role))) {
    return { allowed: false, reason: `${host} needs the role ${rule.roles.join(" or ")}.` };
  }
  return { allowed: true };
}
