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
 * namespace refuses new properties (its handlers are ordinary objects).
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
  const revoke = (received) => {
    window.__revokeCalls.push(received);
    const { callback } = typeof received === "string" ? JSON.parse(received) : received;
    setTimeout(() => window[callback](true), 0);
  };
  const ignore = () => {};
  if (platform === "android") {
    const java = { getExternalAuth: (json) => void answer(JSON.parse(json)), revokeExternalAuth: revoke, externalBus: ignore };
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
    window.externalApp = injected;
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

if (window.__host?.mode === "android" || window.__host?.mode === "ios") installBridge(window.__host.mode);
