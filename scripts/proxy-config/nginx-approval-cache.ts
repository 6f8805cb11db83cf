/**
 * nginx's cache of a checker's approvals (proxy_cache on the auth subrequest's location),
 * written the same way for both checkers nginx asks: its own njs check server (--check
 * native) and the local verifier (--check local). What makes an answer cacheable is the
 * checker's own X-Accel-Expires, which it sets on approvals of one credential only, never
 * past the token's exp + leeway; everything nginx could inherit from http { } that would
 * cache more, or serve an expired or stale answer, is switched off here.
 */

/** The proxy_cache_path line (http context). nginx creates only the last level of `dir`. */
export function approvalCachePath(dir: string, zone: string, options: { zoneMb: number; maxSizeMb: number; inactiveSeconds: number }): string {
  return `proxy_cache_path ${dir} levels=1:2 keys_zone=${zone}:${options.zoneMb}m max_size=${options.maxSizeMb}m inactive=${options.inactiveSeconds}s use_temp_path=off;`;
}

/** A map (http context) that is 0 for a 200 and 1 for anything else: proxy_no_cache's first condition. */
export function notApprovalMap(variable: string, what: string): string {
  return `# Only ${what}'s 200 may be cached (it sets X-Accel-Expires on approvals only).
map $upstream_status ${variable} {
    200 0;
    default 1;
}`;
}

export interface ApprovalCacheLocation {
  zone: string;
  /** The proxy_cache_key value (single-quoted in the config) and the comment that says why it is so. */
  key: string;
  keyComment: string[];
  /** notApprovalMap's variable. */
  notApproval: string;
  /** Who answers: "the check", "the verifier". */
  what: string;
}

/** The directives of the auth subrequest's location that cache approvals and nothing else. */
export function approvalCacheDirectives(cache: ApprovalCacheLocation): string[] {
  return [
    `proxy_cache ${cache.zone};`,
    ...cache.keyComment.map((line) => `# ${line}`),
    `proxy_cache_key '${cache.key}';`,
    "# Large Cookie headers: the key must fit in this buffer, or nginx caches nothing.",
    "proxy_buffer_size 16k;",
    "proxy_buffers 4 16k;",
    "# No lock: nginx 1.22 wakes lock waiters only every 500 ms, and refusals (never cached)",
    "# share one key per host, so one visitor's requests could hold up everyone's sign-in.",
    "# A duplicate check on a cold burst costs about a millisecond.",
    "proxy_cache_lock off;",
    "# A hit opens and reads the entry's file; keeping a few files open saves those system",
    "# calls. nginx checks an open file's inode against its cache index before using it, so",
    "# a replaced approval is never read through an old descriptor. Every host's auth location",
    "# keeps its own 16 in each worker: count them against worker_rlimit_nofile (docs/nginx.md).",
    "open_file_cache max=16 inactive=10s;",
    "open_file_cache_errors off;",
    `# Only ${cache.what}'s X-Accel-Expires makes an answer cacheable, and nothing inherited`,
    `# from http { } may cache more, reuse an expired approval or hide ${cache.what}'s answer.`,
    "proxy_ignore_headers Cache-Control Expires;",
    `proxy_no_cache ${cache.notApproval} $upstream_http_set_cookie $upstream_http_vary;`,
    "proxy_cache_valid any 0;",
    "proxy_cache_use_stale off;",
    "proxy_cache_background_update off;",
    "proxy_cache_revalidate off;",
    "proxy_cache_min_uses 1;",
    "proxy_buffering on;",
    "proxy_intercept_errors off;",
  ];
}
