// Tiny DOM helpers: elements from data, never from HTML strings (nothing a user wrote is parsed as markup).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

let liveTimer = 0;
/** Say something to screen readers through the page's polite live region (and keep it for sighted users). */
export function announce(text) {
  const region = $("#ie-live");
  clearTimeout(liveTimer);
  region.textContent = "";
  // A fresh text node after a tick, so the same message twice is read twice.
  liveTimer = setTimeout(() => { region.textContent = text; }, 50);
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
export const formatDate = (iso) => dateFormat.format(new Date(iso));

export function debounce(fn, ms) {
  let timer = 0;
  const debounced = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  debounced.cancel = () => clearTimeout(timer);
  return debounced;
}

let ids = 0;
export const uid = (prefix) => `${prefix}-${++ids}`;

/** Move focus to a view's heading after it changes, so keyboard and screen-reader users land on it. */
export function focusHeading(root) {
  const heading = root.querySelector("h2, h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: false });
  }
}
