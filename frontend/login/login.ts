/**
 * Entry of dist/public/login.js, the script of the signer's /login page.
 * Sign in: Home Assistant's own OAuth flow (home-assistant-js-websocket getAuth, client_id =
 * this origin), the access token to /session (same origin), then back to rd. Tokens stay in
 * this origin's localStorage, so the next expired cookie is renewed without a password.
 * Sign out (?action=logout): forget the tokens, clear the cookie, revoke the refresh token; when
 * another site sent the browser here ("confirm-logout"), only after a click on Sign out.
 */
import { Auth, ERR_INVALID_AUTH, getAuth, type AuthData } from "home-assistant-js-websocket";
import { allowedRedirect } from "../../worker/http/redirect-allowlist.js";
import { createSession, logout, SignerError, type SessionResponse } from "../signer-client.js";
import { cleanLoginUrl, readOAuthReturn, returnUrl } from "./oauth-return.js";
import { readPageConfig, type PageConfig } from "./page-config.js";
import { clearTokens, loadStoredTokens, saveTokens } from "./token-store.js";
import { setTitle, showError, showStatus } from "./view.js";

/** Renew the Home Assistant token when it has less than this left. */
const RENEW_MARGIN_MS = 60_000;
const SIGNER_CODES_FOR_A_BAD_TOKEN = new Set(["token_rejected", "token_expired", "malformed_token"]);

const signer = location.origin;
const clientId = `${signer}/`;

function startAgainHref(rd: string | null): string {
  return cleanLoginUrl(rd);
}

function goToHomeAssistant(config: PageConfig, rd: string | null): void {
  showStatus("Taking you to Home Assistant to sign in…");
  // Without stored tokens getAuth navigates to Home Assistant's authorize page and never resolves.
  void getAuth({ hassUrl: config.haUrl, clientId, redirectUrl: returnUrl(signer, rd), limitHassInstance: true });
}

async function accessToken(auth: Auth, force: boolean): Promise<string> {
  if (force || auth.data.expires - Date.now() < RENEW_MARGIN_MS) await auth.refreshAccessToken();
  return auth.accessToken;
}

/** Our cookie for Home Assistant's token; one retry with a refreshed token when the signer refuses it. */
async function createCookie(auth: Auth): Promise<SessionResponse> {
  try {
    return await createSession(signer, await accessToken(auth, false));
  } catch (error) {
    if (error instanceof SignerError && SIGNER_CODES_FOR_A_BAD_TOKEN.has(error.code) && auth.data.refresh_token) {
      return createSession(signer, await accessToken(auth, true));
    }
    throw error;
  }
}

function describe(error: unknown): string {
  if (error instanceof SignerError) return `The signer refused the sign-in (${error.code}): ${error.message}`;
  if (error === ERR_INVALID_AUTH) return "Home Assistant no longer accepts the saved sign-in.";
  return `Sign-in failed: ${error instanceof Error ? error.message : String(error)}`;
}

async function signIn(config: PageConfig, rd: string | null): Promise<void> {
  const back = readOAuthReturn(location.search);
  if (back.kind === "foreign") {
    history.replaceState(null, "", cleanLoginUrl(rd));
    showError("This sign-in answer from Home Assistant was not started in this browser tab, so it was ignored.", [
      { label: "Sign in", href: startAgainHref(rd) },
    ]);
    return;
  }

  let auth: Auth;
  const fromStorage = back.kind === "none";
  if (back.kind === "code") {
    try {
      auth = await getAuth({ hassUrl: config.haUrl, clientId, authCode: back.code, saveTokens, limitHassInstance: true });
    } catch {
      history.replaceState(null, "", cleanLoginUrl(rd));
      showError("Home Assistant did not accept the sign-in code (it may have been used already).", [{ label: "Sign in again", href: startAgainHref(rd) }]);
      return;
    }
    history.replaceState(null, "", cleanLoginUrl(rd));
  } else {
    const stored: AuthData | undefined = loadStoredTokens(config.haUrl);
    if (!stored) return goToHomeAssistant(config, rd);
    auth = new Auth(stored, saveTokens);
  }

  let session: SessionResponse;
  try {
    session = await createCookie(auth);
  } catch (error) {
    const tokenRefused = error === ERR_INVALID_AUTH || (error instanceof SignerError && SIGNER_CODES_FOR_A_BAD_TOKEN.has(error.code));
    if (fromStorage && tokenRefused) {
      // The saved sign-in was revoked or expired at Home Assistant: ask for the password once.
      clearTokens();
      return goToHomeAssistant(config, rd);
    }
    showError(describe(error), [{ label: "Try again", href: startAgainHref(rd) }]);
    return;
  }

  // Re-checked here too: only ever navigate to an address the redirect policy allows.
  const target = rd === null ? undefined : allowedRedirect(rd, config.policy, signer);
  if (target) {
    showStatus(`Signed in as ${session.user.name}. Returning to ${new URL(target).host}…`);
    location.replace(target);
    return;
  }
  setTitle("Signed in");
  // The user's click on this page itself: no navigation that another site could imitate.
  showStatus(`Signed in as ${session.user.name}. Your services under this sign-in now let you in.`, [
    { label: "Sign out", onClick: () => void signOut(config).catch((error: unknown) => showError(describe(error))) },
  ]);
}

async function signOut(config: PageConfig): Promise<void> {
  setTitle("Signing out");
  const stored = loadStoredTokens(config.haUrl);
  clearTokens();
  const problems: string[] = [];
  try {
    await logout(signer);
  } catch (error) {
    problems.push(`the cookie could not be cleared (${error instanceof SignerError ? error.message : String(error)})`);
  }
  if (stored?.refresh_token) {
    try {
      await new Auth(stored).revoke(); // Home Assistant answers 200 whatever happens
    } catch {
      problems.push("Home Assistant could not be reached to revoke the saved sign-in");
    }
  }
  setTitle("Signed out");
  const again = [{ label: "Sign in again", href: startAgainHref(config.rd) }];
  if (problems.length > 0) showError(`Signed out in this browser, but ${problems.join(" and ")}.`, again);
  else showStatus("You are signed out of Home Assistant single sign-on in this browser.", again);
}

/** A sign-out another site started: nothing happens without the user's click (the page cannot be framed). */
function confirmSignOut(config: PageConfig): void {
  setTitle("Sign out?");
  showStatus("A link asked to sign you out of Home Assistant single sign-on in this browser. Nothing has changed yet.", [
    { label: "Sign out", onClick: () => void signOut(config).catch((error: unknown) => showError(describe(error))) },
  ]);
}

async function main(): Promise<void> {
  const config = readPageConfig();
  if (config.action === "logout") return signOut(config);
  if (config.action === "confirm-logout") return confirmSignOut(config);
  if (config.rdRejected) {
    showError(
      "The address you came from is not one this sign-in may send you back to: it must be under the signer's COOKIE_DOMAIN or listed in REDIRECT_ALLOWLIST. Nothing was done.",
    );
    return;
  }
  const rd = config.rd === null ? null : (allowedRedirect(config.rd, config.policy, signer) ?? null);
  if (config.rd !== null && rd === null) {
    showError("The return address is not allowed; nothing was done.");
    return;
  }
  return signIn(config, rd);
}

main().catch((error: unknown) => showError(describe(error)));
