/**
 * Notices Home Assistant's own logout, so that the refresher can clear the cookie before the
 * page goes away. Observes only: Home Assistant's logout runs exactly as it would without us.
 *
 * - The frontend's "Log out" (profile page, sidebar) fires the composed, bubbling DOM event
 *   `hass-logout` from inside its shadow DOM; Home Assistant's handler on <home-assistant> then
 *   revokes its token and reloads. A passive capture listener on window runs first, and never
 *   cancels or stops the event.
 * - In the apps that handler's `auth.revoke()` asks the native app through the bridge's
 *   `revokeExternalAuth` (Android: window.externalApp.revokeExternalAuth(json); iOS:
 *   window.webkit.messageHandlers.revokeExternalAuth.postMessage(object); newer Android apps
 *   (Home Assistant 2026.4+ asks them first): window.externalAppV2.postMessage(json) with
 *   {"type":"revokeExternalAuth"}). Those calls are observed too (for any other caller),
 *   passing the same arguments to the same method.
 */

/**
 * Calls `spy` before every `owner[name][key](…)` (only those whose arguments `when` accepts),
 * then the original, on its object, with the same arguments.
 */
function tap(owner: any, name: string, key: string, spy: () => void, when: (args: unknown[]) => boolean = () => true): void {
  try {
    const host = owner[name];
    const original = host[key].bind(host); // throws where there is no such method: nothing to observe
    const wrapped = (...args: unknown[]) => (when(args) && spy(), original(...args));
    Reflect.set(host, key, wrapped); // false, not an exception, where it is read-only
    // Android's bridge object (addJavascriptInterface) ignores new properties and runs its methods
    // only when called on the object itself: put a Proxy in its place that binds them all to it.
    if (host[key] !== wrapped) {
      owner[name] = new Proxy(host, {
        get: (target, k, value?: any) => ((value = k === key ? wrapped : target[k]), typeof value == "function" ? value.bind(target) : value),
      });
    }
  } catch {
    // no bridge (browsers), or one we cannot wrap: the hass-logout listener still covers the apps' logout
  }
}

export function watchLogout(onLogout: () => void): void {
  const spy = () => {
    try {
      onLogout();
    } catch {
      // see tap()
    }
  };
  addEventListener("hass-logout", spy, { capture: true, passive: true });
  const w = window as any;
  tap(w, "externalApp", "revokeExternalAuth", spy);
  tap(w.webkit?.messageHandlers, "revokeExternalAuth", "postMessage", spy);
  tap(w, "externalAppV2", "postMessage", spy, ([message]) => {
    try {
      return typeof message == "string" && JSON.parse(message)?.type === "revokeExternalAuth";
    } catch {
      return false; // not ours to judge: passed on unchanged
    }
  });
}
