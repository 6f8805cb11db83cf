/**
 * <jwt-cookie-panel>: the sidebar panel. Home Assistant's panel_custom creates it and sets
 * `hass`, `narrow`, `route` and `panel` (panel.config holds signer_url and services).
 * It shows the refresher's state and drives it (renew, sign out); it never renews by
 * itself. Diagnostics check the chain through signer-client.ts.
 */
import { html, LitElement, nothing, type PropertyValues, type TemplateResult } from "lit";
import type { HassLike, Refresher, RefresherState } from "../refresher.js";
import { normalizeSignerUrl } from "../signer-client.js";
import { shared } from "../singleton.js";
import { NO_SIGNER } from "../signer-url.js";
import { runDiagnostics, type Check, type DiagnosticsResult, type Level, type Service } from "./diagnostics.js";
import { clockTime, duration, locale, relative } from "./format.js";
import { icon, mdi } from "./icons.js";
import { styles } from "./styles.js";

interface PanelHass extends HassLike {
  language?: string;
  locale?: { language?: string };
  themes?: { darkMode?: boolean };
}

interface PanelInfo {
  title?: string | null;
  config?: { signer_url?: unknown; services?: unknown; title?: unknown };
}

/** config.services, keeping the entries that have a URL (named after it when unnamed). */
function services(config: PanelInfo["config"]): Service[] {
  const list = Array.isArray(config?.services) ? (config.services as Array<Partial<Service> | null>) : [];
  return list.flatMap((s) => (typeof s?.url === "string" ? [{ ...s, name: String(s.name || s.url) } as Service] : []));
}

function initials(name: string): string {
  return (
    name
      .split(/\s+/)
      .filter(Boolean)
      .slice(0, 2)
      .map((w) => w[0]!.toUpperCase())
      .join("") || "?"
  );
}

export class JwtCookiePanel extends LitElement {
  static override styles = styles;
  static override properties = {
    hass: { attribute: false },
    narrow: { type: Boolean, reflect: true },
    panel: { attribute: false },
    _state: { state: true },
    _diagnostics: { state: true },
    _checking: { state: true },
    _embedded: { state: true },
    _now: { state: true },
    _busy: { state: true },
  };

  declare hass?: PanelHass;
  declare narrow: boolean;
  declare panel?: PanelInfo;
  declare _state?: RefresherState;
  declare _diagnostics?: DiagnosticsResult;
  declare _checking: boolean;
  declare _embedded?: Service;
  declare _now: number;
  declare _busy?: boolean;

  private _unsubscribe?: () => void;
  private _ticker?: ReturnType<typeof setInterval>;
  private _recheck?: ReturnType<typeof setTimeout>;
  private _seen = "";

  constructor() {
    super();
    this.narrow = false;
    this._checking = false;
    this._now = Date.now();
  }

  private get _refresher(): Refresher | undefined {
    return shared()?.refresher;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    this._unsubscribe = this._refresher?.subscribe((state) => this._onState(state));
    this._ticker = setInterval(() => {
      if (document.visibilityState === "visible" && this._state?.session) this._now = Date.now();
    }, 1000);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this._unsubscribe?.();
    clearInterval(this._ticker);
    clearTimeout(this._recheck);
  }

  /** Re-check the chain when something meaningful changed, not on every tick. */
  private _onState(state: RefresherState): void {
    this._state = state;
    this._now = Date.now();
    const key = [state.signer, state.phase, state.session?.renewedAt, state.error?.at].join("|");
    if (state.phase !== "renewing" && state.phase !== "starting" && key !== this._seen) {
      this._seen = key;
      clearTimeout(this._recheck);
      this._recheck = setTimeout(() => void this._runChecks(), 250);
    }
  }

  protected override shouldUpdate(changed: PropertyValues<this>): boolean {
    if (changed.has("hass")) this._refresher?.useHass(this.hass);
    if (changed.has("panel")) this._refresher?.offerSigner(normalizeSignerUrl(this.panel?.config?.signer_url), "panel");
    if (changed.size === 1 && changed.has("hass")) {
      // Home Assistant sets hass on every state change; only a few parts matter here.
      const old = changed.get("hass") as PanelHass | undefined;
      const now = this.hass;
      return !old || old.user !== now?.user || old.locale !== now?.locale || old.themes !== now?.themes;
    }
    return true;
  }

  private get _language(): string | undefined {
    return locale(this.hass?.locale?.language ?? this.hass?.language);
  }

  private async _runChecks(): Promise<void> {
    const state = this._state;
    if (!state || this._checking) return;
    this._checking = true;
    try {
      this._diagnostics = await runDiagnostics({
        signer: state.signer,
        page: new URL(location.href),
        session: state.session,
        services: services(this.panel?.config),
      });
    } catch {
      // a check that throws is a check that did not run
    }
    this._checking = false;
    // The state changed while they ran (a renewal, a sign-out): check again, or the rows describe the old one.
    if (this._state !== state) void this._runChecks();
  }

  /** Renew or sign out, with both buttons disabled meanwhile. */
  private async _act(signOut?: boolean): Promise<void> {
    this._busy = true;
    try {
      await (signOut ? this._refresher?.signOut("user", "You signed out of your services.") : this._refresher?.renew());
    } finally {
      this._busy = false;
    }
  }

  private _toggleMenu(): void {
    this.dispatchEvent(new CustomEvent("hass-toggle-menu", { bubbles: true, composed: true }));
  }

  private _bar(title: string, back?: () => void, extra: unknown = nothing): TemplateResult {
    let start: unknown = nothing;
    if (back) start = html`<button class="ib" title="Back" @click=${back}>${icon(mdi.back)}</button>`;
    else if (this.narrow) {
      start = customElements.get("ha-menu-button")
        ? html`<ha-menu-button .hass=${this.hass} .narrow=${this.narrow}></ha-menu-button>`
        : html`<button class="ib menu" title="Menu" @click=${this._toggleMenu}>${icon(mdi.menu)}</button>`;
    }
    return html`<div class="bar">${start}<div>${title}</div>${extra}</div>`;
  }

  override render(): TemplateResult {
    const embedded = this._embedded;
    if (embedded) {
      return html`${this._bar(
          embedded.name,
          () => (this._embedded = undefined),
          html`<a class="ib" title="Open in a new tab" href=${embedded.url} target="_blank" rel="noopener">${icon(mdi.openInNew)}</a>`,
        )}
        <iframe src=${embedded.url} title=${embedded.name}></iframe>`;
    }
    const configured = this.panel?.config?.title;
    return html`${this._bar(typeof configured === "string" ? configured : this.panel?.title || "Services")}
      <main>${this._sessionCard()} ${this._servicesCard()} ${this._diagnosticsCard()}</main>`;
  }

  private _pill(): TemplateResult {
    const s = this._state;
    let level: Level = "skip";
    let text = "Starting…";
    if (s?.phase === "signed_in") [level, text] = ["ok", "Signed in"];
    else if (s?.phase === "renewing") text = "Renewing…";
    else if (s?.phase === "signed_out") text = "Signed out";
    else if (s?.phase === "error" || s?.phase === "no_signer") [level, text] = s.session ? ["warn", "Renewal failed"] : ["fail", "Not signed in"];
    return html`<span class="pill ${level}" data-phase=${s?.phase ?? "none"}>${icon(mdi[level])}${text}</span>`;
  }

  private _alert(): unknown {
    const s = this._state;
    const box = (level: Level, title: string, body: unknown, data = "") =>
      html`<div class="alert ${level}" data-why=${data}>${icon(mdi[level])}<div><b>${title}</b>${body}</div></div>`;
    if (!s) return nothing;
    if (s.phase === "signed_out" && s.signedOut) {
      const why = s.signedOut.message ?? s.signedOut.reason;
      return box(s.error ? "fail" : "skip", "Signed out of your services", html`${why} ${s.error?.message ?? ""}`, s.signedOut.reason);
    }
    if (s.phase === "no_signer") return box("fail", "No signer configured", NO_SIGNER, "no_signer");
    const error = s.error;
    if (!error) return nothing;
    // Diagnostics usually know better than the failed request why it failed.
    const cause = this._diagnostics?.checks.find((c) => c.level === "fail");
    const next = s.nextAttemptAt ? `Next try ${relative(s.nextAttemptAt, this._now, this._language)}.` : "Press Renew now to try again.";
    return box(
      s.session ? "warn" : "fail",
      s.session ? "Renewal failed" : "Not signed in to your services",
      html`<div class="cause">${cause ? `${cause.label}: ${cause.detail}` : error.message}</div>
        <span class="muted">${error.code}${error.status ? ` (${error.status})` : ""}. ${next}</span>`,
      error.code,
    );
  }

  private _sessionCard(): TemplateResult {
    const s = this._state;
    const session = s?.session;
    const now = this._now;
    const lang = this._language;
    const name = session?.user.name ?? this.hass?.user?.name ?? "";
    const status = this._diagnostics?.status?.status;
    const claims = status?.valid && status.claims ? status.claims : session && { sub: session.user.id, name: session.user.name, roles: session.roles };
    const facts: Array<[string, string, string]> = session
      ? [
          ["expires", "Valid until", clockTime(session.expiresAt, lang)],
          ["left", "Time left", duration(session.expiresAt - now)],
          ["renewed", "Last renewal", relative(session.renewedAt, now, lang)],
          ["next", "Next renewal", s.phase === "signed_in" ? relative(session.renewAt, now, lang) : "—"],
          ["cookie", "Cookie", `${session.cookie.name} on ${session.cookie.domain ?? `${new URL(s.signer!).hostname} only`}`],
        ]
      : [];
    const signedOut = s?.phase === "signed_out";
    const disabled = this._busy || !s?.signer;
    return html`<section class="session">
      <div class="row who">
        <div class="av">${initials(name)}</div>
        <div><b>${name || "Not signed in"}</b><span class="muted">${session ? session.roles.join(", ") : "Single sign-on for your services"}</span></div>
        ${this._pill()}
      </div>
      ${this._alert()}
      ${facts.length ? html`<dl>${facts.map(([id, label, value]) => html`<div data-fact=${id}><dt>${label}</dt><dd>${value}</dd></div>`)}</dl>` : nothing}
      ${claims
        ? html`<pre class="claims" title="What your reverse proxies see">${`{\n${Object.entries(claims)
            .map(([key, value]) => `  "${key}": ${JSON.stringify(value)}`)
            .join(",\n")}\n}`}</pre>`
        : nothing}
      <div class="actions">
        <button class="btn filled renew" ?disabled=${disabled} @click=${() => this._act()}>${signedOut ? "Sign in to services" : "Renew now"}</button>
        ${signedOut ? nothing : html`<button class="btn danger sign-out" ?disabled=${disabled} @click=${() => this._act(true)}>Sign out of services</button>`}
      </div>
    </section>`;
  }

  private _servicesCard(): TemplateResult {
    const list = services(this.panel?.config);
    return html`<section>
      <h2>Your services</h2>
      ${list.length === 0
        ? html`<div class="empty muted">List them in the panel's config to open them from here.</div>`
        : html`<div class="grid">
            ${list.map((service) => {
              let host = service.url;
              try {
                host = new URL(service.url).host;
              } catch {
                // shown as written
              }
              const embed = (e: Event) => (e.preventDefault(), (this._embedded = service));
              const inPanel = service.open === "panel";
              return html`<div class="row tile">
                <a class="row" href=${service.url} target="_blank" rel="noopener" @click=${inPanel ? embed : nothing}>
                  ${service.icon && customElements.get("ha-icon")
                    ? html`<span class="av"><ha-icon .icon=${service.icon}></ha-icon></span>`
                    : html`<span class="av">${initials(service.name)}</span>`}
                  <div>${service.name}<small class="muted">${host}</small></div>
                </a>
                ${inPanel
                  ? html`<a class="ib" title="Open in a new tab" href=${service.url} target="_blank" rel="noopener">${icon(mdi.openInNew)}</a>`
                  : html`<button class="ib" title="Open here" @click=${embed}>${icon(mdi.embed)}</button>`}
              </div>`;
            })}
          </div>`}
    </section>`;
  }

  private _diagnosticsCard(): TemplateResult {
    const checks: Check[] = this._diagnostics?.checks ?? [];
    return html`<section class="diagnostics">
      <div class="row">
        <h2>Diagnostics</h2>
        <button class="btn run-checks" ?disabled=${this._checking} @click=${() => void this._runChecks()}>Run checks</button>
      </div>
      ${checks.length === 0
        ? html`<div class="empty muted">${this._checking ? "Checking…" : "Not checked yet."}</div>`
        : html`<ul>
            ${checks.map((c) => html`<li class=${c.level} data-check=${c.id} data-level=${c.level}>${icon(mdi[c.level])}<div>${c.label}<span>${c.detail}</span></div></li>`)}
          </ul>`}
    </section>`;
  }
}
