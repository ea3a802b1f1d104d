// The page's conversation with the host app that frames it, by postMessage only.
//
// host -> board: {type: "ideaengine:token", token}    the SSO token (kept in memory only, never in a URL or storage)
//                {type: "ideaengine:sign-out"}         forget it
//                {type: "ideaengine:theme", theme: {"--ie-accent": "#0a7", ...}}   CSS custom properties
// board -> host: {type: "ideaengine:ready"}            the board listens; send the token now
//                {type: "ideaengine:token-needed", reason}   none yet, expired, expiring or rejected: send a fresh one
//                {type: "ideaengine:resize", height}   the board's height in CSS pixels
//
// Messages are taken only from the parent window on an allowed origin (IDEAENGINE_CORS_ORIGINS) or on this
// server's own (its try page, /embed/{workspace}/{board}/try), and sent only to that origin.

const THEME_PROPERTY = /^--ie-[a-z0-9-]{1,40}$/;
const THEME_VALUE = /^[^;{}<>\\]{0,200}$/;
const EXPIRY_MARGIN_MS = 60_000;

export class Host {
  constructor(allowedOrigins, { onToken, onSignOut }) {
    this.allowed = new Set([...allowedOrigins, location.origin]);
    this.onToken = onToken;
    this.onSignOut = onSignOut;
    this.framed = window.parent !== window;
    this.origin = this._guessOrigin();
    this.expiryTimer = 0;
    this.lastHeight = 0;
    window.addEventListener("message", (event) => this._receive(event));
  }

  /** The framing page's origin if the browser says it and it is allowed; else learnt from its first message. */
  _guessOrigin() {
    const candidates = [location.ancestorOrigins?.[0]];
    try {
      if (document.referrer) candidates.push(new URL(document.referrer).origin);
    } catch { /* no usable referrer */ }
    return candidates.find((origin) => origin && this.allowed.has(origin)) ?? null;
  }

  _receive(event) {
    if (!this.framed || event.source !== window.parent || !this.allowed.has(event.origin)) return;
    const message = event.data;
    if (!message || typeof message !== "object" || typeof message.type !== "string") return;
    this.origin = event.origin;
    if (message.type === "ideaengine:token" && typeof message.token === "string" && message.token) {
      this._watchExpiry(message.token);
      this.onToken(message.token);
    } else if (message.type === "ideaengine:sign-out") {
      clearTimeout(this.expiryTimer);
      this.onSignOut();
    } else if (message.type === "ideaengine:theme" && message.theme && typeof message.theme === "object") {
      applyTheme(message.theme);
    }
  }

  post(message) {
    if (!this.framed) return;
    const targets = this.origin ? [this.origin] : [...this.allowed];
    for (const origin of targets) {
      try {
        window.parent.postMessage(message, origin);
      } catch { /* a wrong guess of the host's origin is dropped by the browser */ }
    }
  }

  ready() {
    this.post({ type: "ideaengine:ready" });
  }

  needToken(reason) {
    this.post({ type: "ideaengine:token-needed", reason });
  }

  /** Ask for a fresh token a minute before this one expires (halfway, for one with under two minutes left). */
  _watchExpiry(token) {
    clearTimeout(this.expiryTimer);
    const exp = tokenExpiry(token);
    if (exp === null) return;
    const left = exp * 1000 - Date.now();
    const wait = left - Math.min(EXPIRY_MARGIN_MS, left / 2); // a short-lived token: halfway through its life
    const reason = () => (exp * 1000 > Date.now() ? "expiring" : "expired");
    this.expiryTimer = setTimeout(() => this.needToken(reason()), Math.max(0, wait));
  }

  /** Tell the host how tall the board is, whenever that changes. */
  watchHeight(element) {
    if (!this.framed) return;
    const send = () => {
      const height = Math.ceil(element.getBoundingClientRect().height);
      if (height !== this.lastHeight) {
        this.lastHeight = height;
        this.post({ type: "ideaengine:resize", height });
      }
    };
    new ResizeObserver(send).observe(element);
    send();
  }
}

function tokenExpiry(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const exp = JSON.parse(atob(payload)).exp;
    return typeof exp === "number" ? exp : null;
  } catch {
    return null;
  }
}

/** Set the host's colours, font and radius: only `--ie-*` custom properties, only plain values. */
export function applyTheme(theme) {
  for (const [property, value] of Object.entries(theme)) {
    if (THEME_PROPERTY.test(property) && typeof value === "string" && THEME_VALUE.test(value)) {
      document.documentElement.style.setProperty(property, value);
    }
  }
}
