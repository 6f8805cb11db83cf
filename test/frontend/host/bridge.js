/**
 * The companion apps' bridge, installed before any page script runs (a classic script at the top
 * of the host page), as Android's addJavascriptInterface and iOS's WKWebView message handlers
 * are. Only in the app modes of window.__host (see host.js).
 */
/**
 * The native side of the companion app: asks the test (Node) for a token, answers the callback;
 * revokeExternalAuth records exactly what it received (window.__revokeCalls) and answers it.
 * Emulated with the platforms' quirks: Android's addJavascriptInterface object resolves its
 * methods through an interceptor (a property written on it stays hidden behind the Java method)
 * and throws when a method is called on anything but the object itself; iOS's messageHandlers
 * namespace refuses new properties (its handlers are ordinary objects). "android-v2": a newer
 * Android app that offers only window.externalAppV2.postMessage(json string {type, payload})
 * (Home Assistant's frontend asks it first from 2026.4), the same kind of Java object.
 */
function installBridge(platform) {
  window.__bridgeCalls = [];
  window.__revokeCalls = [];
  const answer = async (payload) => {
    window.__bridgeCalls.push(payload);
    try {
      const tokens = await window.__nativeToken(payload);
      window[payload.callback](true, tokens);
    } catch (error) {
      window[payload.callback](false, String(error));
    }
  };
  const revoke = (received, payload) => {
    window.__revokeCalls.push(received);
    const { callback } = payload ?? (typeof received === "string" ? JSON.parse(received) : received);
    setTimeout(() => window[callback](true), 0);
  };
  const ignore = () => {};
  /** addJavascriptInterface's object: methods via an interceptor, callable only on the object itself. */
  const javaObject = (java) => {
    const injected = new Proxy(
      {},
      {
        get(holder, key) {
          if (!Object.hasOwn(java, key)) return holder[key];
          return function (...args) {
            if (this !== injected) throw new Error("Java bridge method can't be invoked on a non-injected object");
            return java[key](...args);
          };
        },
      },
    );
    return injected;
  };
  if (platform === "android-v2") {
    const dispatch = (json) => {
      const { type, payload } = JSON.parse(json);
      if (type === "getExternalAuth") void answer(payload);
      else if (type === "revokeExternalAuth") revoke(json, payload);
    };
    window.externalAppV2 = javaObject({ postMessage: dispatch });
  } else if (platform === "android") {
    window.externalApp = javaObject({ getExternalAuth: (json) => void answer(JSON.parse(json)), revokeExternalAuth: (json) => revoke(json), externalBus: ignore });
  } else {
    window.webkit = {
      messageHandlers: Object.freeze({
        getExternalAuth: { postMessage: (payload) => void answer(payload) },
        revokeExternalAuth: { postMessage: revoke },
        externalBus: { postMessage: ignore },
      }),
    };
  }
}

if (["android", "android-v2", "ios"].includes(window.__host?.mode)) installBridge(window.__host.mode);
