/**
 * Checks the whole chain from this browser to the services, one row each, and says what to
 * fix: the signer answers; CORS allows this origin; the browser kept the cookie; the
 * cookie's domain covers each service; HTTPS where it matters; the clocks agree.
 * Talks to the signer only through signer-client.ts.
 */
import type { Session } from "../refresher.js";
import { reachable, sessionStatus, SignerError, type TimedStatus } from "../signer-client.js";
import { NO_SIGNER } from "../signer-url.js";

export type Level = "ok" | "warn" | "fail" | "skip";

export interface Check {
  id: string;
  label: string;
  level: Level;
  detail: string;
}

export interface Service {
  name: string;
  url: string;
  icon?: string;
  open?: "tab" | "panel";
}

export interface DiagnosticsInput {
  signer?: string;
  page: URL;
  session?: Session;
  services: Service[];
}

export interface DiagnosticsResult {
  checks: Check[];
  status?: TimedStatus;
}

/** Approximate registrable domain (last two labels); good enough to tell same-site apart. */
export function siteOf(host: string): string {
  return /^[\d.]+$|:/.test(host) ? host : host.split(".").slice(-2).join(".");
}

/** Does a cookie with this Domain (none: host-only on the signer) reach `host`? */
export function domainCovers(domain: string | null | undefined, host: string, signerHost: string): boolean {
  const bare = domain?.replace(/^\./, "");
  return bare ? host === bare || host.endsWith(`.${bare}`) : host === signerHost;
}

export async function runDiagnostics({ signer, page, session, services }: DiagnosticsInput): Promise<DiagnosticsResult> {
  const checks: Check[] = [];
  const add = (id: string, label: string, level: Level, detail: string) => checks.push({ id, label, level, detail });
  const notChecked = "Not checked: the signer did not answer.";

  if (!signer) {
    add("signer", "Signer reachable", "fail", NO_SIGNER);
    return { checks };
  }
  const { hostname: signerHost, protocol } = new URL(signer);
  const mixed = page.protocol === "https:" && protocol === "http:";
  const up = !mixed && (await reachable(signer));
  add(
    "signer",
    "Signer reachable",
    up ? "ok" : "fail",
    mixed
      ? `Browsers block an http signer on an HTTPS page: serve ${signer} over HTTPS.`
      : up
        ? `${signer} answers.`
        : `Nothing answers at ${signer}: start the signer or fix its URL.`,
  );

  let status: TimedStatus | undefined;
  if (!up) add("cors", "CORS allows this origin", "skip", notChecked);
  else {
    try {
      status = await sessionStatus(signer);
      add("cors", "CORS allows this origin", "ok", `${page.origin} may call the signer with credentials.`);
    } catch (error) {
      const e = error as SignerError;
      add(
        "cors",
        "CORS allows this origin",
        "fail",
        e.status
          ? `The signer answered ${e.status} ${e.code}: ${e.message}`
          : `The signer refuses ${page.origin}: add it to ALLOWED_ORIGINS (or see ${signer}/healthz).`,
      );
    }
  }

  const s = status?.status;
  for (const notice of s?.notices ?? []) add("notice", "Signer accepts sign-ins", "fail", notice);
  const domain = session?.cookie.domain;
  const kept = "Browser kept the cookie";
  if (!s) add("cookie", kept, "skip", notChecked);
  else if (s.present) {
    add(
      "cookie",
      kept,
      s.valid ? "ok" : "warn",
      s.valid
        ? `${s.cookie_name} arrives at the signer and is valid.`
        : `The signer rejects the cookie (${s.reason}): press Renew now, or clear this site's cookies.`,
    );
  } else if (!session) add("cookie", kept, "warn", "No cookie yet: press Renew now.");
  else {
    add(
      "cookie",
      kept,
      "fail",
      "The browser dropped it: " +
        (!domainCovers(domain, signerHost, signerHost)
          ? `COOKIE_DOMAIN ${domain} does not cover the signer (${signerHost}).`
          : siteOf(signerHost) !== siteOf(page.hostname)
            ? `the signer is not on ${siteOf(page.hostname)}, so it is a blocked third-party cookie (Safari, iOS app): move the signer there.`
            : session.cookie.secure && protocol === "http:"
              ? "a Secure cookie from an http signer."
              : "the browser's cookie settings or an extension block it."),
    );
  }

  for (const service of services) {
    const label = `Cookie reaches ${service.name}`;
    let host = "";
    try {
      host = new URL(service.url).hostname;
    } catch {
      // reported below
    }
    const id = `service:${host || service.name}`;
    if (!host) add(id, label, "fail", `"${service.url}" is not a URL.`);
    else if (!session) add(id, label, "skip", "Not checked: not signed in.");
    else if (domainCovers(domain, host, signerHost)) add(id, label, "ok", `${host} is inside ${domain ?? signerHost}.`);
    else {
      add(id, label, "fail", `${host} is outside ${domain ?? signerHost}: its proxy never gets the cookie. Set COOKIE_DOMAIN=.${siteOf(host)}.`);
    }
  }

  const plain = services.filter((x) => x.url.startsWith("http:")).map((x) => x.name);
  add(
    "https",
    "HTTPS",
    protocol === "http:" ? (session?.cookie.secure ? "fail" : "warn") : plain.length ? "warn" : "ok",
    protocol === "http:"
      ? "A plain http signer cannot set a Secure cookie: use HTTPS outside a test network."
      : plain.length
        ? `${plain.join(", ")}: plain http never gets a Secure cookie.`
        : "The signer and services use HTTPS.",
  );

  if (!status) add("clock", "Clock", "skip", notChecked);
  else {
    // Browser time half-way through the request against the signer's (whole seconds).
    const skew = status.midpoint - status.status.server_time * 1000;
    const off = Math.round((Math.abs(skew) - status.rtt / 2 - 1000) / 1000);
    add(
      "clock",
      "Clock",
      off <= 30 ? "ok" : off <= 300 ? "warn" : "fail",
      off <= 30
        ? "This device and the signer agree."
        : `This device is ${off} s ${skew > 0 ? "ahead of" : "behind"} the signer, which mistimes renewals: fix its clock.`,
    );
  }
  return { checks, status };
}
