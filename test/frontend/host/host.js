/**
 * A stand-in for Home Assistant's frontend, just enough for jwt-cookie: it builds the auth
 * the way HA does (a home-assistant-js-websocket Auth in browsers, an ExternalAuth that asks
 * the companion app's bridge in the apps), connects to the test double's WebSocket, exposes
 * window.hassConnection and <home-assistant>.hass, applies theme variables, and mounts a
 * panel the way panel_custom does (load module_url, create the element, set hass, narrow,
 * route, panel). Configured by window.__host, which the test sets with addInitScript.
 * Its "Log out" works like Home Assistant's: the sidebar (inside <home-assistant>'s shadow
 * root) fires the composed event hass-logout; <home-assistant> revokes the token and reloads
 * to /logged-out, which stands in for Home Assistant's login page.
 */
import { Auth, createConnection, getUser } from "/haws/index.js";

const cfg = window.__host ?? {};

const THEMES = {
  light: {
    "primary-color": "#03a9f4",
    "text-primary-color": "#ffffff",
    "primary-background-color": "#fafafa",
    "secondary-background-color": "#e5e5e5",
    "card-background-color": "#ffffff",
    "primary-text-color": "#212121",
    "secondary-text-color": "#727272",
    "divider-color": "rgba(0, 0, 0, 0.12)",
    "app-header-background-color": "#03a9f4",
    "app-header-text-color": "#ffffff",
    "success-color": "#4caf50",
    "warning-color": "#ffa600",
    "error-color": "#db4437",
    "ha-card-border-radius": "12px",
  },
  dark: {
    "primary-color": "#03a9f4",
    "text-primary-color": "#ffffff",
    "primary-background-color": "#111111",
    "secondary-background-color": "#282828",
    "card-background-color": "#1c1c1c",
    "primary-text-color": "#e1e1e1",
    "secondary-text-color": "#9b9b9b",
    "divider-color": "rgba(225, 225, 225, 0.12)",
    "app-header-background-color": "#101e24",
    "app-header-text-color": "#e1e1e1",
    "success-color": "#4caf50",
    "warning-color": "#ffa600",
    "error-color": "#db4437",
    "ha-card-border-radius": "12px",
  },
};
for (const [name, value] of Object.entries(THEMES[cfg.dark ? "dark" : "light"])) {
  document.documentElement.style.setProperty(`--${name}`, value);
}
document.documentElement.style.colorScheme = cfg.dark ? "dark" : "light";

/**
 * Home Assistant frontend's ExternalAuth (src/external_app/external_auth.ts), reproduced:
 * refreshAccessToken() asks the app through window.externalApp (Android, JSON string) or
 * window.webkit.messageHandlers (iOS, object) and waits for window.externalAuthSetToken.
 */
class ExternalAuth extends Auth {
  constructor(hassUrl) {
    super({ hassUrl, clientId: "", refresh_token: "", access_token: "", expires_in: 0, expires: 0 });
  }

  async refreshAccessToken(force) {
    if (this._tokenCallbackPromise && !force) {
      try {
        await this._tokenCallbackPromise;
        return;
      } catch {
        this._tokenCallbackPromise = undefined;
      }
    }
    const payload = { callback: "externalAuthSetToken" };
    if (force) payload.force = true;
    this._tokenCallbackPromise = new Promise((resolve, reject) => {
      window.externalAuthSetToken = (success, data) => (success ? resolve(data) : reject(data));
    });
    await Promise.resolve();
    // As Home Assistant's frontend (2026.4+): the V2 bridge first, then V1, then iOS.
    if (window.externalAppV2) window.externalAppV2.postMessage(JSON.stringify({ type: "getExternalAuth", payload }));
    else if (window.externalApp) window.externalApp.getExternalAuth(JSON.stringify(payload));
    else window.webkit.messageHandlers.getExternalAuth.postMessage(payload);
    const tokens = await this._tokenCallbackPromise;
    this.data.access_token = tokens.access_token;
    this.data.expires = tokens.expires_in * 1000 + Date.now();
    this._tokenCallbackPromise = undefined;
  }

  /** Home Assistant frontend's ExternalAuth.revoke(): the app revokes its tokens and answers the callback. */
  async revoke() {
    const payload = { callback: "externalAuthRevokeToken" };
    const answered = new Promise((resolve, reject) => {
      window.externalAuthRevokeToken = (success, data) => (success ? resolve(data) : reject(data));
    });
    await Promise.resolve();
    if (window.externalAppV2) window.externalAppV2.postMessage(JSON.stringify({ type: "revokeExternalAuth", payload }));
    else if (window.externalApp) window.externalApp.revokeExternalAuth(JSON.stringify(payload));
    else window.webkit.messageHandlers.revokeExternalAuth.postMessage(payload);
    await answered;
  }
}

window.__menuToggles = 0;
window.addEventListener("hass-toggle-menu", () => window.__menuToggles++);

let auth;
if (cfg.mode === "android" || cfg.mode === "android-v2" || cfg.mode === "ios") {
  // The app's bridge is already there (bridge.js), as the apps inject it before any page script.
  auth = new ExternalAuth(location.origin);
} else {
  auth = new Auth(cfg.auth, (data) => (window.__savedTokens = data));
}
window.__auth = auth;
window.hassConnection = (async () => {
  const conn = await createConnection({ auth });
  return { auth, conn };
})();

const { conn } = await window.hassConnection;
const user = await getUser(conn);
const hass = { auth, connection: conn, user, language: "en", locale: { language: "en" }, themes: { darkMode: !!cfg.dark } };
const app = document.querySelector("home-assistant");
app.hass = hass;
window.__hass = hass;

// Home Assistant's sidebar lives in <home-assistant>'s shadow root; its "Log out" fires hass-logout
// (composed, bubbling). connection-mixin's handler: revoke, close, reload (here: to /logged-out).
app.attachShadow({ mode: "open" }).innerHTML = '<ha-sidebar><button id="logout">Log out</button></ha-sidebar>';
app.shadowRoot.getElementById("logout").addEventListener("click", (event) =>
  event.target.dispatchEvent(new CustomEvent("hass-logout", { bubbles: true, composed: true, cancelable: true })),
);
window.__haLogouts = [];
app.addEventListener("hass-logout", async (event) => {
  window.__haLogouts.push({ defaultPrevented: event.defaultPrevented });
  try {
    await auth.revoke();
    conn.close();
    document.location.href = "/logged-out";
  } catch (error) {
    window.__haLogoutError = String(error);
  }
});

if (cfg.panel) {
  // panel_custom: load module_url as a module script, create the element, set its properties.
  const script = document.createElement("script");
  script.type = "module";
  script.src = cfg.panel.module_url;
  document.head.append(script);
  await customElements.whenDefined("jwt-cookie-panel");
  const element = document.createElement("jwt-cookie-panel");
  element.hass = hass;
  element.narrow = !!cfg.panel.narrow;
  element.route = { prefix: "/jwt-cookie", path: "" };
  element.panel = {
    component_name: "custom",
    url_path: "jwt-cookie",
    title: cfg.panel.title ?? "Services",
    icon: "mdi:cookie-lock",
    config: { ...cfg.panel.config, _panel_custom: { name: "jwt-cookie-panel", module_url: cfg.panel.module_url, embed_iframe: false, trust_external: false } },
  };
  // Home Assistant nests panels in shadow roots; hass-toggle-menu must be composed to escape.
  const root = document.getElementById("panel-host").attachShadow({ mode: "open" });
  root.append(element);
  window.__panel = element;
}
window.__ready = true;
