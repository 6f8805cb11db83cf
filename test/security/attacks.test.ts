/**
 * The attack table against the signer's own endpoints (/session, /verify, /logout and
 * every rd), in workerd. Prints `attack · target · expected · got` and fails on any miss.
 * The same cookie attacks run against every proxy config in test/proxies/.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { startHomeAssistantDouble, type HomeAssistantDouble } from "../ha-double/index.js";
import { startSigner, testSigningKey, type RunningSigner } from "../support/signer.js";
import { fakeHaToken } from "../support/tokens.js";
import { generateKeyPair } from "../../worker/tokens/keys.js";
import { COOKIE_ATTACKS, injectionFree, type GenuineSession } from "./session-cookie-attacks.js";

interface Row {
  attack: string;
  target: string;
  expected: string;
  got: string;
  ok: boolean;
}
const rows: Row[] = [];
function record(attack: string, target: string, expected: string, got: string, ok: boolean) {
  rows.push({ attack, target, expected, got, ok });
}

let ha: HomeAssistantDouble;
let signer: RunningSigner;
let session: GenuineSession;
const HA = "https://ha.example.com";

beforeAll(async () => {
  ha = await startHomeAssistantDouble();
  const privatePem = await testSigningKey();
  signer = await startSigner("workerd", {
    HA_URL: ha.url,
    SIGNING_KEY: privatePem,
    ALLOWED_ORIGINS: `${HA},${ha.url}`,
    COOKIE_DOMAIN: ".example.com",
    RATE_LIMIT: "100000",
  });
  const user = ha.addUser({ name: "Victim", is_admin: false });
  const response = await fetch(`${signer.url}/session`, { method: "POST", headers: { Authorization: `Bearer ${ha.accessToken(user.id)}` } });
  const jwt = /jwt_access_token=([^;]+)/.exec(response.headers.get("set-cookie")!)![1]!;
  const [h, p] = jwt.split(".") as [string, string];
  const { createPublicKey, createPrivateKey } = await import("node:crypto");
  session = {
    jwt,
    claims: JSON.parse(Buffer.from(p, "base64url").toString()),
    kid: JSON.parse(Buffer.from(h, "base64url").toString()).kid,
    privatePem,
    publicPem: createPublicKey(createPrivateKey(privatePem)).export({ type: "spki", format: "pem" }).toString(),
    cookieName: "jwt_access_token",
  };
  void generateKeyPair;
});

afterAll(async () => {
  await signer?.close();
  await ha?.close();
  const width = Math.max(...rows.map((r) => r.attack.length));
  console.log(
    ["attack · target · expected · got", ...rows.map((r) => `${r.ok ? " " : "✗"} ${r.attack.padEnd(width)} · ${r.target} · ${r.expected} · ${r.got}`)].join("\n"),
  );
});

test("cookie attacks on /verify", async () => {
  for (const attack of COOKIE_ATTACKS) {
    const response = await fetch(`${signer.url}/verify`, { headers: { Cookie: attack.cookie(session) } });
    const clean = injectionFree(response.headers, session.claims.sub as string);
    const got = `${response.status}${clean ? "" : " (injected header)"}`;
    const ok = attack.expected === "denied" ? response.status === 401 : response.status === 200 && clean;
    record(attack.name, "/verify", attack.expected === "denied" ? "401" : "200, clean headers", got, ok);
  }
  // Sanity: the genuine cookie itself is accepted, so the denials above mean something.
  expect((await fetch(`${signer.url}/verify`, { headers: { Cookie: `jwt_access_token=${session.jwt}` } })).status).toBe(200);
  expect(rows.filter((r) => r.target === "/verify" && !r.ok)).toEqual([]);
});

test("CORS origin tricks and cross-site POSTs on /session and /logout", async () => {
  const token = ha.accessToken(ha.addUser({ name: "cors" }).id);
  const origins = [
    ["null", "null"],
    ["suffix match", "https://ha.example.com.evil.example"],
    ["prefix match", "https://evilha.example.com"],
    ["sub-domain", "https://x.ha.example.com"],
    ["other scheme", "http://ha.example.com"],
    ["other port", "https://ha.example.com:8443"],
    ["userinfo", "https://ha.example.com@evil.example"],
  ];
  for (const [label, origin] of origins) {
    for (const path of ["/session", "/logout"]) {
      const response = await fetch(`${signer.url}${path}`, { method: "POST", headers: { Origin: origin!, Authorization: `Bearer ${token}` } });
      const cookie = response.headers.get("set-cookie");
      const acao = response.headers.get("access-control-allow-origin");
      record(`CORS ${label}`, `POST ${path}`, "403, no cookie, no ACAO", `${response.status}${cookie ? " +cookie" : ""}${acao ? ` ACAO=${acao}` : ""}`, response.status === 403 && !cookie && !acao);
    }
  }
  // A cross-site "simple" POST (no preflight: text/plain, no Authorization) cannot sign anyone in or out.
  for (const path of ["/session", "/logout"]) {
    const response = await fetch(`${signer.url}${path}`, {
      method: "POST",
      headers: { Origin: "https://evil.example", "Content-Type": "text/plain", Cookie: `jwt_access_token=${session.jwt}` },
      body: "x",
    });
    record("cross-site POST without preflight", `POST ${path}`, "403, cookie untouched", `${response.status}${response.headers.get("set-cookie") ? " +Set-Cookie" : ""}`, response.status === 403 && !response.headers.get("set-cookie"));
  }
  // The session cookie must still verify: the cross-site /logout revoked nothing.
  expect((await fetch(`${signer.url}/verify`, { headers: { Cookie: `jwt_access_token=${session.jwt}` } })).status).toBe(200);
  expect(rows.filter((r) => r.target.startsWith("POST") && !r.ok)).toEqual([]);
});

test("sign-out CSRF: another site's link or form cannot sign the user out", async () => {
  const genuine = `jwt_access_token=${session.jwt}`;
  const link = await fetch(`${signer.url}/logout?rd=${encodeURIComponent("https://grafana.example.com/")}`, {
    redirect: "manual",
    headers: { Cookie: genuine, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", Accept: "text/html" },
  });
  const linkOk = link.status === 200 && !link.headers.get("set-cookie") && (await link.text()).includes('method="post"');
  record("sign-out link on another site", "GET /logout", "200 confirmation page, no Set-Cookie", `${link.status}${link.headers.get("set-cookie") ? " +Set-Cookie" : ""}`, linkOk);
  const page = await fetch(`${signer.url}/login?action=logout`, { headers: { "Sec-Fetch-Site": "cross-site" } });
  const action = /"action":"([a-z-]+)"/.exec(await page.text())?.[1];
  record("sign-in page sign-out from another site", "GET /login?action=logout", "page asks first (confirm-logout)", `${page.status} ${action}`, action === "confirm-logout");
  for (const [label, headers] of [
    ["form POST, no Origin, Sec-Fetch-Site cross-site", { "Sec-Fetch-Site": "cross-site" }],
    ["form POST, Origin null", { Origin: "null" }],
  ] as const) {
    const response = await fetch(`${signer.url}/logout`, {
      method: "POST",
      headers: { Cookie: genuine, "Content-Type": "application/x-www-form-urlencoded", ...headers },
      body: "rd=https%3A%2F%2Fgrafana.example.com%2F",
    });
    record(label, "POST /logout", "403, no Set-Cookie", `${response.status}${response.headers.get("set-cookie") ? " +Set-Cookie" : ""}`, response.status === 403 && !response.headers.get("set-cookie"));
  }
  // The victim's session still works: nothing above revoked it.
  expect((await fetch(`${signer.url}/verify`, { headers: { Cookie: genuine } })).status).toBe(200);
  expect(rows.filter((r) => (r.attack.startsWith("sign-") || r.attack.startsWith("form POST")) && !r.ok)).toEqual([]);
});

test("cookies planted by a sibling host under COOKIE_DOMAIN", async () => {
  const other = ha.addUser({ name: "Sibling owner", is_admin: false });
  const response = await fetch(`${signer.url}/session`, { method: "POST", headers: { Authorization: `Bearer ${ha.accessToken(other.id)}` } });
  const othersJwt = /jwt_access_token=([^;]+)/.exec(response.headers.get("set-cookie")!)![1]!;
  const genuine = `jwt_access_token=${session.jwt}`;
  const cases: Array<[string, string, number]> = [
    ["lock-out: garbage (Path=/api, sent first) beside the victim's cookie", `jwt_access_token=garbage; ${genuine}`, 200],
    ["lock-out: 7 planted values beside the victim's cookie", `${Array.from({ length: 7 }, (_, i) => `jwt_access_token=x${i}`).join("; ")}; ${genuine}`, 200],
    ["lock-out: a forged token of the victim's kid beside the victim's cookie", `jwt_access_token=${session.jwt.slice(0, -8)}AAAAAAAA; ${genuine}`, 200],
    ["another user's valid session beside the victim's", `jwt_access_token=${othersJwt}; ${genuine}`, 401],
  ];
  for (const [attack, cookie, expected] of cases) {
    const verify = await fetch(`${signer.url}/verify`, { headers: { Cookie: cookie } });
    const user = verify.headers.get("remote-user");
    const ok = verify.status === expected && (expected !== 200 || user === session.claims.sub);
    record(attack, "/verify", expected === 200 ? "200 as the victim" : "401", `${verify.status}${user ? ` as ${user === session.claims.sub ? "victim" : user}` : ""}`, ok);
  }
  expect(rows.filter((r) => r.attack.includes("beside") && !r.ok)).toEqual([]);
});

test("host spellings that once skipped ACCESS_RULES", async () => {
  const ruled = await startSigner("workerd", {
    HA_URL: ha.url,
    SIGNING_KEY: session.privatePem,
    COOKIE_DOMAIN: ".example.com",
    ACCESS_RULES: JSON.stringify({ "grafana.example.com": { roles: ["admin"] }, "*.admin.example.com": { roles: ["admin"] } }),
  });
  try {
    // The victim's session is a plain user's: every spelling of an admin-only host must give 403.
    const hosts = [
      "grafana.example.com.",
      "GRAFANA.EXAMPLE.COM.",
      "grafana.example.com.:8080",
      "Grafana.Example.Com:443",
      "x.admin.example.com.",
      "X.ADMIN.EXAMPLE.COM.:8443",
      "grafana.example.com..",
      "grafana.example.com:",
      "grafana%2eexample.com",
      "grafana.example.com, wiki.example.com",
    ];
    for (const host of hosts) {
      const response = await fetch(`${ruled.url}/verify`, { headers: { Cookie: `jwt_access_token=${session.jwt}`, "X-Forwarded-Host": host } });
      record(`ACCESS_RULES host ${JSON.stringify(host)}`, "/verify (admin-only host)", "403", `${response.status}`, response.status === 403);
    }
    // Control: the same cookie is let in on a host without a rule, so the 403s are the rule's.
    const open = await fetch(`${ruled.url}/verify`, { headers: { Cookie: `jwt_access_token=${session.jwt}`, "X-Forwarded-Host": "wiki.example.com." } });
    record("ACCESS_RULES control (host without a rule)", "/verify", "200", `${open.status}`, open.status === 200);
  } finally {
    await ruled.close();
  }
  expect(rows.filter((r) => r.attack.startsWith("ACCESS_RULES") && !r.ok)).toEqual([]);
});

test("a Home Assistant access token of another installation", async () => {
  ha.resetStats();
  const response = await fetch(`${signer.url}/session`, { method: "POST", headers: { Authorization: `Bearer ${fakeHaToken()}` } });
  const ok = response.status === 401 && !response.headers.get("set-cookie");
  record("HA token of another installation", "POST /session", "401, no cookie", `${response.status}`, ok);
  expect(ok).toBe(true);
  expect(ha.stats.authMessages).toBe(1); // sent once (it looks genuine) ...
  await fetch(`${signer.url}/session`, { method: "POST", headers: { Authorization: `Bearer ${fakeHaToken()}` } });
});

export const OPEN_REDIRECTS = [
  "//evil.example",
  "///evil.example",
  "https://evil.example@ha.example.com",
  "https://ha.example.com@evil.example",
  "https://ha.example.com.evil.example",
  "javascript:alert(document.cookie)",
  "JAVASCRIPT:alert(1)",
  "data:text/html,<script>alert(1)</script>",
  "https:\\\\evil.example",
  "/\\evil.example",
  "https://evil.example\\@grafana.example.com",
  "https:%2F%2Fevil.example",
  "%2F%2Fevil.example",
  "https://evil.example%2F@grafana.example.com",
  "https://grafаna.exаmple.com/",
  "https://xn--grfana-3ve.example.com.evil.example/",
  "https://evil.example/\r\nSet-Cookie: x=1",
  "\thttps://evil.example",
];

/** The page config /login embeds for its script (worker/routes/login.ts, LoginPageConfig). */
function loginPageConfig(html: string): { rd: unknown; rdRejected: unknown } | undefined {
  const match = /<script type="application\/json" id="jwt-cookie-login-config">([^<]*)<\/script>/.exec(html);
  return match ? (JSON.parse(match[1]!) as { rd: unknown; rdRejected: unknown }) : undefined;
}

/** Spellings of a hostile rd that must not appear anywhere in the sign-in page. */
function foreignSpellings(rd: string): string[] {
  const spellings = [rd, "evil", "xn--"];
  try {
    spellings.push(decodeURIComponent(rd));
  } catch {
    // not percent-decodable: the raw form is enough
  }
  if (/[^\x00-\x7f]/.test(rd)) spellings.push(...rd.split(/[/:.]/).filter((part) => /[^\x00-\x7f]/.test(part))); // the look-alike labels
  return spellings.filter((s) => s.length > 2);
}

test("open-redirect tries on every rd", async () => {
  for (const rd of OPEN_REDIRECTS) {
    // /login validates rd and embeds only the validated target in the page config that its
    // script follows after sign-in (or sign-out): a hostile rd must leave nothing to follow,
    // as query-encoded and as typed into the address bar.
    for (const [form, query] of [
      ["encoded", encodeURIComponent(rd)],
      ["as typed", rd.replace(/[#&+]/g, encodeURIComponent)],
    ] as const) {
      for (const action of ["", "action=logout&"]) {
        const page = await fetch(`${signer.url}/login?${action}rd=${query}`, { redirect: "manual" });
        const html = await page.text();
        const config = loginPageConfig(html);
        const leaked = foreignSpellings(rd).filter((s) => html.toLowerCase().includes(s.toLowerCase()));
        record(
          `rd ${JSON.stringify(rd)} (${form})`,
          `GET /login${action ? "?action=logout" : ""}`,
          "200, page rd null, rdRejected, no foreign target in page",
          `${page.status} rd=${JSON.stringify(config?.rd)} rdRejected=${String(config?.rdRejected)}${leaked.length ? ` leaked ${JSON.stringify(leaked)}` : ""}`,
          page.status === 200 && config?.rd === null && config.rdRejected === true && leaked.length === 0,
        );
      }
    }

    const logout = await fetch(`${signer.url}/logout?rd=${encodeURIComponent(rd)}`, { redirect: "manual" });
    record(`rd ${JSON.stringify(rd)}`, "GET /logout", "400", `${logout.status} ${logout.headers.get("location") ?? ""}`.trim(), logout.status === 400 && !logout.headers.get("location"));

    // /verify builds rd from the forwarded host: an attacker-chosen host must not become a redirect target.
    // (Header values are bytes: a Unicode host travels as a proxy would pass it, in punycode.)
    let forwardedHost = rd.replace(/^[a-z]+:\/\//i, "").replace(/[\r\n\t]/g, "");
    if (/[^\x20-\x7e]/.test(forwardedHost)) forwardedHost = new URL(`https://${forwardedHost}`).host;
    const verify = await fetch(`${signer.url}/verify`, {
      redirect: "manual",
      headers: { Accept: "text/html", "X-Forwarded-Proto": "https", "X-Forwarded-Host": forwardedHost, "X-Forwarded-Uri": "/" },
    });
    const location = verify.headers.get("location") ?? "";
    const target = new URL(location, signer.url).searchParams.get("rd");
    const safe = target === null || /^https:\/\/([a-z0-9-]+\.)*example\.com\//.test(target);
    record(`rd ${JSON.stringify(rd)}`, "GET /verify (forwarded host)", "302 without foreign rd", `${verify.status} rd=${target ?? "-"}`, verify.status === 302 && safe);
  }
  // Control: an allowed rd does reach the page config, so the nulls above are refusals, not a parsing miss.
  const allowed = "https://grafana.example.com/d/x?a=1";
  const control = loginPageConfig(await (await fetch(`${signer.url}/login?rd=${encodeURIComponent(allowed)}`)).text());
  record("rd control (allowed target)", "GET /login", `page rd ${allowed}`, `rd=${JSON.stringify(control?.rd)}`, control?.rd === allowed && control.rdRejected === false);
  const login = rows.filter((r) => r.attack.startsWith("rd ") && !r.ok);
  expect(login).toEqual([]);
});
