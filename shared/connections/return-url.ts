/** The `return_url` allow-list: exact origin and path prefix, so the callback never opens a redirect. */
const parseAbsolute = (value: string): URL | undefined => {
  // Control characters, backslashes and whitespace are what look-alike tricks are made of; no
  // legitimate return URL needs them, so refuse before the URL parser normalises them away.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse control characters in a URL.
  if (/[\u0000-\u0020\u007f-\u009f\\]/.test(value)) return undefined;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined;
  } catch {
    return undefined;
  }
};

export interface ReturnUrlCheck {
  ok: boolean;
  reason?: string;
}

export const checkReturnUrl = (candidate: string, allowed: readonly string[]): ReturnUrlCheck => {
  const url = parseAbsolute(candidate);
  if (!url) return { ok: false, reason: 'return_url must be an absolute http(s) URL without spaces or backslashes' };
  if (url.username || url.password) return { ok: false, reason: 'return_url must not carry user info' };
  for (const entry of allowed) {
    const base = parseAbsolute(entry);
    if (!base || base.origin !== url.origin) continue;
    const prefix = base.pathname;
    const path = url.pathname;
    // `/app` allows `/app` and `/app/...` but not `/application`; `/app/` allows `/app/...`.
    if (path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`)) return { ok: true };
  }
  return {
    ok: false,
    reason:
      allowed.length === 0
        ? 'return_url is not accepted: no return URLs are configured (ALLOWED_RETURN_URLS)'
        : `return_url must start with one of the allowed return URLs: ${allowed.join(', ')}`,
  };
};

/** The parameters the callback adds to a return_url; any already in the URL are dropped first. */
export const callbackParamNames = ['connection_id', 'status', 'error', 'completion_code'] as const;

/** The return_url with our parameters, never doubled: an app cannot be fed a second `status` or `completion_code`. */
export const returnUrlWith = (returnUrl: string, params: Partial<Record<(typeof callbackParamNames)[number], string>>): string => {
  const target = new URL(returnUrl);
  for (const name of callbackParamNames) target.searchParams.delete(name);
  for (const name of callbackParamNames) {
    const value = params[name];
    if (value !== undefined) target.searchParams.set(name, value);
  }
  return target.toString();
};
